#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace invited::domain {

// An addressable email: `local@domain`, at most 254 characters, no whitespace, control or
// header-special characters, so it can be written into a mail header as it is. The local part
// is a dot-atom (RFC 5322 atext plus UTF-8); the domain is dot-separated labels of letters,
// digits, hyphens or UTF-8.
class Email {
 public:
  // Trims surrounding whitespace, then checks the rules above. nullopt if they fail.
  static std::optional<Email> parse(std::string_view raw);

  // The address as supplied, trimmed. Used where the address is shown or mailed.
  const std::string& address() const { return address_; }
  // The identity used for uniqueness: ASCII letters folded to lower case. Two emails are the
  // same person exactly when their keys are equal.
  const std::string& key() const { return key_; }

 private:
  Email(std::string address, std::string key)
      : address_(std::move(address)), key_(std::move(key)) {}

  std::string address_;
  std::string key_;
};

}  // namespace invited::domain
