#pragma once

#include <string>
#include <string_view>
#include <variant>

namespace invited::mail {

// Who the invitation emails are from: the mailbox of --mail-from, and the display name each
// organization's email carries ("Acme via invited").

struct Mailbox {
  std::string name;     // display name as written (unquoted); may be empty
  std::string address;  // bare address, passed domain::Email: no header specials
};

// Parses `text` as `address`, `<address>`, `Name <address>` or `"Name" <address>` (a quoted
// name may hold \" and \\). Returns the mailbox, or a message that says what to fix. A name
// with control characters is refused; any other name is allowed, since compose() encodes it.
std::variant<Mailbox, std::string> parse_mailbox(std::string_view text);

// The display name of an email sent for `organization`: "<organization> via <sender>", where
// `sender` is the display name of --mail-from, or "invited" (the service) when it has none.
// The result is text to be encoded by compose(), never written into a header raw.
std::string sender_display_name(std::string_view organization, std::string_view sender);

}  // namespace invited::mail
