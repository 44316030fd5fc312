#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace invited::domain {

// SHA-256 of a secret. API keys and invitation tokens are stored only as this hash: the secrets
// carry 256 random bits, so a plain hash cannot be reversed and no salt or stretching is needed.
using SecretHash = std::array<std::uint8_t, 32>;

SecretHash hash_secret(std::string_view secret);

// A freshly drawn secret and its hash. `plain` is shown once and never stored.
struct IssuedSecret {
  std::string plain;
  SecretHash hash;
};

// 32 random bytes as unpadded base64url after `prefix` (which names the kind of secret so a
// leaked one is recognisable, e.g. "ik_" for API keys). Thread-safe.
IssuedSecret issue_secret(std::string_view prefix);

}  // namespace invited::domain
