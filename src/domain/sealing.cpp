#include "domain/sealing.hpp"

#include <sodium.h>

#include <vector>

namespace invited::domain {
namespace {

constexpr int kVariant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;

const unsigned char* bytes(std::string_view text) {
  return reinterpret_cast<const unsigned char*>(text.data());
}

}  // namespace

SealKey derive_seal_key(std::string_view secret, std::string_view purpose) {
  static_assert(crypto_auth_hmacsha256_BYTES == sizeof(SealKey));
  crypto_auth_hmacsha256_state state;
  crypto_auth_hmacsha256_init(&state, bytes(secret), secret.size());
  crypto_auth_hmacsha256_update(&state, bytes(purpose), purpose.size());
  SealKey key;
  crypto_auth_hmacsha256_final(&state, key.data());
  sodium_memzero(&state, sizeof state);
  return key;
}

std::string seal(const SealKey& key, std::string_view plain) {
  static_assert(crypto_secretbox_KEYBYTES == sizeof(SealKey));
  std::vector<unsigned char> box(crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES +
                                 plain.size());
  unsigned char* nonce = box.data();
  randombytes_buf(nonce, crypto_secretbox_NONCEBYTES);
  crypto_secretbox_easy(nonce + crypto_secretbox_NONCEBYTES, bytes(plain), plain.size(), nonce,
                        key.data());
  std::string text(sodium_base64_ENCODED_LEN(box.size(), kVariant), '\0');
  sodium_bin2base64(text.data(), text.size(), box.data(), box.size(), kVariant);
  text.pop_back();  // the terminating NUL that sodium_bin2base64 writes
  return text;
}

std::optional<std::string> unseal(const SealKey& key, std::string_view sealed) {
  std::vector<unsigned char> box(sealed.size());  // base64 never decodes to more bytes
  std::size_t size = 0;
  if (sodium_base642bin(box.data(), box.size(), sealed.data(), sealed.size(), nullptr, &size,
                        nullptr, kVariant) != 0 ||
      size < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES) {
    return std::nullopt;
  }
  const unsigned char* nonce = box.data();
  const unsigned char* cipher = nonce + crypto_secretbox_NONCEBYTES;
  const std::size_t cipher_size = size - crypto_secretbox_NONCEBYTES;
  std::string plain(cipher_size - crypto_secretbox_MACBYTES, '\0');
  if (crypto_secretbox_open_easy(reinterpret_cast<unsigned char*>(plain.data()), cipher,
                                 cipher_size, nonce, key.data()) != 0) {
    return std::nullopt;
  }
  return plain;
}

}  // namespace invited::domain
