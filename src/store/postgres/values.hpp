#pragma once

#include <algorithm>
#include <string>
#include <string_view>

#include "domain/secret.hpp"
#include "domain/types.hpp"

namespace invited::store::postgres {

// The bytes of a hash, for a bytea parameter.
inline std::string_view hash_bytes(const domain::SecretHash& hash) {
  return {reinterpret_cast<const char*>(hash.data()), hash.size()};
}

// A bytea read back into a hash (shorter input leaves the rest zero).
inline domain::SecretHash to_hash(std::string_view bytes) {
  domain::SecretHash hash{};
  std::copy_n(bytes.begin(), std::min(bytes.size(), hash.size()), hash.begin());
  return hash;
}

// Enumerations are stored as their numbers (roles, target kinds, statuses: migration 0001).
template <typename Enum>
std::int64_t code(Enum value) {
  return static_cast<std::int64_t>(value);
}

// Random bytes for a token_hash that is the hash of no token (a batch before its first claim,
// or after a resend): 32 bytes, 244 of them random, unique with overwhelming probability.
constexpr const char* kNoTokenHash = "uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid())";

}  // namespace invited::store::postgres
