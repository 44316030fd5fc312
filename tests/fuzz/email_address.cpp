// Fuzzes email address parsing (domain::Email::parse) with arbitrary bytes. Properties of every
// address it accepts: it is the trimmed input; 1..254 bytes of valid UTF-8 with exactly one '@'
// between a local part of at most 64 bytes and a domain; no whitespace, control or
// header-special character, so it can be written into a mail header as it is; its key is the
// address with ASCII letters lower-cased; parsing the address or the key again gives the
// same address or key.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "domain/email.hpp"
#include "fuzz_check.hpp"

namespace {

using invited::fuzz::check;

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool contains(std::string_view text, std::string_view piece) {
  return text.find(piece) != std::string_view::npos;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto email = invited::domain::Email::parse(input);
  if (!email) return 0;

  const std::string& address = email->address();
  check(!address.empty() && address.size() <= 254, "an address is 1..254 bytes");
  check(contains(input, address), "an address is the input, trimmed");
  check(invited::fuzz::is_utf8(address), "an address is valid UTF-8");
  for (char c : address) {
    auto byte = static_cast<unsigned char>(c);
    check(byte >= 0x21 && byte != 0x7f, "an address holds no whitespace or control byte");
    check(!contains("\"(),:;<>[\\]", std::string_view(&c, 1)),
          "an address holds no header special");
  }
  // C1 controls, no-break space, line and paragraph separators, byte order mark.
  for (std::string_view forbidden : {"\xc2\x80", "\xc2\x85", "\xc2\x9f", "\xc2\xa0", "\xe2\x80\xa8",
                                     "\xe2\x80\xa9", "\xef\xbb\xbf"}) {
    check(!contains(address, forbidden), "an address holds no Unicode control or space");
  }
  auto at = address.find('@');
  check(at != std::string::npos && address.find('@', at + 1) == std::string::npos,
        "an address has exactly one @");
  check(at >= 1 && at <= 64, "the local part is 1..64 bytes");
  check(at + 1 < address.size(), "the domain is not empty");

  const std::string& key = email->key();
  check(key.size() == address.size(), "the key is as long as the address");
  for (std::size_t i = 0; i < key.size(); ++i) {
    check(key[i] == ascii_lower(address[i]), "the key is the address with ASCII lower-cased");
  }

  auto again = invited::domain::Email::parse(address);
  check(again && again->address() == address && again->key() == key,
        "an address parses again to itself");
  auto from_key = invited::domain::Email::parse(key);
  check(from_key && from_key->key() == key, "a key parses again to the same key");
  return 0;
}
