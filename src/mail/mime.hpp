#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace invited::mail {

// One outgoing message before encoding. Addresses have passed domain::Email (no CR, LF or
// header specials); names and subject may hold anything and are encoded, never copied raw.
struct Message {
  std::string from_name;     // display name: `Acme via invited`; may be empty or non-ASCII
  std::string from_address;  // bare address
  std::string to_address;    // bare address
  std::string to_name;       // display name; may be empty or non-ASCII
  std::string subject;       // may be non-ASCII
  std::string message_id;    // without angle brackets: uuid@host
  std::int64_t date = 0;     // Unix seconds
  std::string text;          // text/plain part, UTF-8
  std::string html;          // text/html part, UTF-8
};

// The RFC 5322 message: CRLF line endings, multipart/alternative with a quoted-printable text
// part and HTML part, RFC 2047 encoded words for non-ASCII or long names and subject. No value
// of `message` can add or split a header. Header lines are at most 78 characters (76 with an
// encoded word), but for an address too long to share a line, which gets a line of its own.
std::string compose(const Message& message);

// The value of a Subject header: `text` itself when it is plain printable ASCII that fits on one
// line after "Subject: " (78 characters, RFC 5322 §2.1.1); otherwise RFC 2047 "B" encoded words,
// folded so that every line stays within 76 characters. Control characters are always encoded,
// never emitted raw.
std::string encode_header_text(std::string_view text);

// Quoted-printable (RFC 2045) with CRLF line breaks and soft breaks at 76 columns.
std::string quoted_printable(std::string_view text);

// RFC 5322 date: "Fri, 27 Nov 2026 23:55:16 +0000".
std::string rfc5322_date(std::int64_t unix_seconds);

}  // namespace invited::mail
