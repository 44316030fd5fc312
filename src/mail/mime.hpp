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

// The RFC 5322 message: CRLF line endings, multipart/alternative with a text part encoded by
// encode_text_part and a quoted-printable HTML part, RFC 2047 encoded words for non-ASCII or long
// names and subject. No value of `message` can add or split a header. Header lines are at most 78
// characters (76 with an encoded word), but for an address too long to share a line, which gets a
// line of its own.
std::string compose(const Message& message);

// The value of a Subject header: `text` itself when it is plain printable ASCII that fits on one
// line after "Subject: " (78 characters, RFC 5322 §2.1.1); otherwise RFC 2047 "B" encoded words,
// folded so that every line stays within 76 characters. Control characters are always encoded,
// never emitted raw.
std::string encode_header_text(std::string_view text);

// Quoted-printable (RFC 2045) with CRLF line breaks and soft breaks at 76 columns.
std::string quoted_printable(std::string_view text);

// A text/plain body and its Content-Transfer-Encoding.
struct EncodedPart {
  std::string_view encoding;  // "7bit" or "quoted-printable"
  std::string body;           // CRLF line breaks
};

// The text part as written, line for line, so that a long accept link stays whole and can be
// copied from the raw message (quoted-printable would cut it with soft breaks at 76 columns):
// "7bit" when it is ASCII, every line is at most 998 octets (RFC 5322 §2.1.1) and no byte is a
// control character other than tab. Otherwise quoted-printable: UTF-8 text included, since an
// 8bit part may only go to a server that offers 8BITMIME with BODY=8BITMIME declared (RFC 6152),
// which libcurl's SMTP client cannot declare. Lines become CRLF; a stray CR is dropped. A line
// opening with '.' is left as it is: the SMTP client dot-stuffs it (RFC 5321 §4.5.2).
EncodedPart encode_text_part(std::string_view text);

// RFC 5322 date: "Fri, 27 Nov 2026 23:55:16 +0000".
std::string rfc5322_date(std::int64_t unix_seconds);

}  // namespace invited::mail
