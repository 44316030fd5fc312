#pragma once

#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <string_view>
#include <unordered_map>

#include "domain/principal.hpp"
#include "domain/result.hpp"
#include "domain/secret.hpp"
#include "domain/store.hpp"

namespace invited::api {

// Turns an `x-api-key` secret into the Principal it stands for. The secret is hashed at once and
// only the hash is looked up or kept. Resolved keys are cached for `ttl` so the hot path skips
// the database. A revoked key must be forgotten: revoking through this process calls forget()
// at once, and the service calls forget() / forget_all() as the store hears of revocations by
// other instances (store::ServiceStore::watch_key_revocations); `ttl` bounds how long a key
// whose revocation went unheard still works. Unknown secrets are never cached. Thread-safe.
class Authenticator {
 public:
  using PrincipalPtr = std::shared_ptr<const domain::Principal>;
  using Done = std::function<void(domain::Result<PrincipalPtr>)>;

  Authenticator(domain::Store& store, std::chrono::milliseconds ttl) : store_(store), ttl_(ttl) {}

  // Calls `done` exactly once (possibly before returning) with the principal, or kUnauthorized.
  void authenticate(std::string_view secret, Done done);

  // Drops every cached entry of the key (after it was revoked).
  void forget(domain::Pk key_pk);
  // Drops every cached entry (after revocations may have gone unheard).
  void forget_all();

 private:
  struct HashOfHash {
    std::size_t operator()(const domain::SecretHash& hash) const {
      std::size_t value;
      std::memcpy(&value, hash.data(), sizeof value);
      return value;
    }
  };
  struct Entry {
    PrincipalPtr principal;
    std::chrono::steady_clock::time_point expires;
  };

  domain::Store& store_;
  std::chrono::milliseconds ttl_;
  std::mutex mutex_;
  std::unordered_map<domain::SecretHash, Entry, HashOfHash> cache_;
  // Bumped by forget(): a lookup that started before a revocation must not cache its result.
  std::uint64_t generation_ = 0;
};

}  // namespace invited::api
