#include "domain/secret.hpp"

#include <sodium.h>

namespace invited::domain {

SecretHash hash_secret(std::string_view secret) {
  SecretHash hash;
  crypto_hash_sha256(hash.data(), reinterpret_cast<const unsigned char*>(secret.data()),
                     secret.size());
  return hash;
}

IssuedSecret issue_secret(std::string_view prefix) {
  std::array<unsigned char, 32> random;
  randombytes_buf(random.data(), random.size());
  constexpr int kVariant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
  char encoded[sodium_base64_ENCODED_LEN(32, kVariant)];
  sodium_bin2base64(encoded, sizeof encoded, random.data(), random.size(), kVariant);
  sodium_memzero(random.data(), random.size());
  std::string plain(prefix);
  plain += encoded;
  return {plain, hash_secret(plain)};
}

}  // namespace invited::domain
