#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace invited::domain {

// Authenticated encryption for data kept at rest that must not be readable from a copy of the
// database (libsodium's secretbox: XSalsa20-Poly1305 with a random nonce per message).
using SealKey = std::array<std::uint8_t, 32>;

// The key for `purpose` derived from `secret` (HMAC-SHA256 keyed with the secret). With a
// high-entropy secret that is never stored (an API key), what it seals can be opened only by
// whoever presents that secret again.
SealKey derive_seal_key(std::string_view secret, std::string_view purpose);

// `plain` sealed under `key`: nonce and ciphertext, as unpadded base64url text. Thread-safe.
std::string seal(const SealKey& key, std::string_view plain);

// The plain text of `sealed`, or nullopt when it was not sealed under `key` or was altered.
std::optional<std::string> unseal(const SealKey& key, std::string_view sealed);

}  // namespace invited::domain
