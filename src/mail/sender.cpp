#include "mail/sender.hpp"

#include <optional>

#include "domain/email.hpp"

namespace invited::mail {
namespace {

constexpr std::string_view kExpected =
    "; write an address (no-reply@example.com) or a name and an address "
    "(Example <no-reply@example.com>)";

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

bool has_control_characters(std::string_view text) {
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) return true;
  }
  return false;
}

// The name of `"..."` without its quotes and escapes; nullopt when the quotes do not close it.
std::optional<std::string> unquote(std::string_view quoted) {
  if (quoted.size() < 2 || quoted.front() != '"' || quoted.back() != '"') return std::nullopt;
  std::string name;
  for (std::size_t i = 1; i + 1 < quoted.size(); ++i) {
    char c = quoted[i];
    if (c == '\\') {
      if (i + 2 >= quoted.size()) return std::nullopt;
      c = quoted[++i];
    } else if (c == '"') {
      return std::nullopt;
    }
    name += c;
  }
  return name;
}

}  // namespace

std::variant<Mailbox, std::string> parse_mailbox(std::string_view text) {
  const std::string shown(text);
  text = trim(text);
  if (text.empty()) return "--mail-from is empty" + std::string(kExpected);
  if (has_control_characters(text)) {
    return "--mail-from must be one line without control characters" + std::string(kExpected);
  }
  Mailbox mailbox;
  std::string_view address = text;
  if (auto open = text.rfind('<'); open != std::string_view::npos) {
    if (text.back() != '>') {
      return "--mail-from \"" + shown + "\" must end with the address in angle brackets" +
             std::string(kExpected);
    }
    address = text.substr(open + 1, text.size() - open - 2);
    std::string_view name = trim(text.substr(0, open));
    if (!name.empty() && name.front() == '"') {
      auto unquoted = unquote(name);
      if (!unquoted) {
        return "--mail-from \"" + shown + "\" has a quoted name that does not close" +
               std::string(kExpected);
      }
      mailbox.name = *unquoted;
    } else {
      mailbox.name = std::string(name);
    }
  }
  auto email = domain::Email::parse(address);
  if (!email) {
    return "--mail-from \"" + shown + "\" does not hold a valid email address" +
           std::string(kExpected);
  }
  mailbox.address = email->address();
  return mailbox;
}

std::string sender_display_name(std::string_view organization, std::string_view sender) {
  std::string_view via = trim(sender);
  if (via.empty()) via = "invited";
  return std::string(organization) + " via " + std::string(via);
}

}  // namespace invited::mail
