#include "mail/mime.hpp"

#include <sodium.h>

#include <ctime>

namespace invited::mail {
namespace {

// RFC 5322 §2.1.1: a header line should be at most 78 characters; RFC 2047 §2: one that holds
// an encoded word must be at most 76.
constexpr std::size_t kMaxLine = 78;
constexpr std::size_t kMaxEncodedLine = 76;

bool is_plain_header_text(std::string_view text) {
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte > 0x7e) return false;
  }
  // "=?" would be read as the start of an encoded word.
  return text.find("=?") == std::string_view::npos;
}

std::string base64(std::string_view bytes) {
  constexpr int kVariant = sodium_base64_VARIANT_ORIGINAL;
  std::string out(sodium_base64_ENCODED_LEN(bytes.size(), kVariant), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                    bytes.size(), kVariant);
  out.pop_back();  // the terminating NUL
  return out;
}

// Encoded words of at most 39 input bytes each (52 base64 characters, 64 with the wrapper, so
// even the first line "Subject: =?UTF-8?B?...?=" stays within 76 characters), split on UTF-8
// character boundaries and folded onto continuation lines. Malformed UTF-8 is cut where it
// falls: every word takes at least one byte.
std::string encode_header_text_always(std::string_view text) {
  constexpr std::size_t kChunk = 39;
  std::string out;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = std::min(text.size(), start + kChunk);
    std::size_t boundary = end;
    while (boundary < text.size() && boundary > start &&
           (static_cast<unsigned char>(text[boundary]) & 0xc0) == 0x80) {
      --boundary;
    }
    if (boundary > start) end = boundary;
    if (!out.empty()) out += "\r\n ";
    out += "=?UTF-8?B?";
    out += base64(text.substr(start, end - start));
    out += "?=";
    start = end;
  }
  return out;
}

// A mailbox display name: as it is when it is plain words that fit on the line after `field`
// ("From: ", "To: "), else encoded words.
std::string display_name(std::string_view field, std::string_view name) {
  bool plain = !name.empty() && field.size() + name.size() <= kMaxLine;
  for (char c : name) {
    bool word = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == ' ' || c == '-';
    if (!word) plain = false;
  }
  return plain ? std::string(name) : encode_header_text_always(name);
}

// A mailbox header line without its CRLF: `field` ("From: "), then the display name when there
// is one, then the address in angle brackets.
std::string mailbox_header(std::string_view field, std::string_view name,
                           std::string_view address) {
  std::string out(field);
  std::string mailbox;  // (appended piecewise: GCC 12 -O3 sees a false -Wrestrict in operator+)
  mailbox.reserve(address.size() + 2);
  mailbox += '<';
  mailbox += address;
  mailbox += '>';
  if (!name.empty()) {
    std::string encoded = display_name(field, name);
    auto fold = encoded.rfind("\r\n");
    std::size_t last_line =
        fold == std::string::npos ? field.size() + encoded.size() : encoded.size() - fold - 2;
    out += encoded;
    // The address shares the name's last line only while that stays within the limit of a line
    // with encoded words; otherwise it is folded onto a line of its own.
    out += last_line + 1 + mailbox.size() <= kMaxEncodedLine ? " " : "\r\n ";
  }
  out += mailbox;
  return out;
}

}  // namespace

std::string encode_header_text(std::string_view text) {
  if (is_plain_header_text(text) &&
      std::string_view("Subject: ").size() + text.size() <= kMaxLine) {
    return std::string(text);
  }
  return encode_header_text_always(text);
}

std::string quoted_printable(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  std::size_t column = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    auto byte = static_cast<unsigned char>(c);
    if (c == '\n') {
      out += "\r\n";
      column = 0;
      continue;
    }
    if (c == '\r') continue;
    bool next_is_break = i + 1 == text.size() || text[i + 1] == '\n' || text[i + 1] == '\r';
    // Whitespace before a line break must be encoded, or transports may strip it.
    bool literal =
        (byte >= 33 && byte <= 126 && c != '=') || ((c == ' ' || c == '\t') && !next_is_break);
    std::size_t width = literal ? 1 : 3;
    if (column + width > 75) {
      out += "=\r\n";
      column = 0;
    }
    // A '.' opening a line could end an SMTP DATA section at a careless relay.
    if (c == '.' && column == 0) literal = false;
    if (literal) {
      out += c;
      column += 1;
    } else {
      out += '=';
      out += kHex[byte >> 4];
      out += kHex[byte & 0x0f];
      column += 3;
    }
  }
  return out;
}

EncodedPart encode_text_part(std::string_view text) {
  constexpr std::size_t kMaxOctets = 998;
  std::size_t line = 0;
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (c == '\n') {
      line = 0;
      continue;
    }
    if (c == '\r') continue;
    if ((byte < 0x20 && c != '\t') || byte >= 0x7f || ++line > kMaxOctets) {
      return {"quoted-printable", quoted_printable(text)};
    }
  }
  std::string body;
  body.reserve(text.size() + text.size() / 32);
  for (char c : text) {
    if (c == '\r') continue;
    if (c == '\n') {
      body += "\r\n";
    } else {
      body += c;
    }
  }
  return {"7bit", std::move(body)};
}

std::string rfc5322_date(std::int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm utc{};
  gmtime_r(&t, &utc);
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%s, %02d %s %04d %02d:%02d:%02d +0000", kDays[utc.tm_wday],
                utc.tm_mday, kMonths[utc.tm_mon], utc.tm_year + 1900, utc.tm_hour, utc.tm_min,
                utc.tm_sec);
  return buffer;
}

std::string compose(const Message& message) {
  unsigned char random[12];
  randombytes_buf(random, sizeof random);
  char hex[sizeof random * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, random, sizeof random);
  const std::string boundary = std::string("=_invited_") + hex;

  std::string out;
  out.reserve(message.text.size() + message.html.size() + 1024);
  out += mailbox_header("From: ", message.from_name, message.from_address) + "\r\n";
  out += mailbox_header("To: ", message.to_name, message.to_address) + "\r\n";
  out += "Subject: " + encode_header_text(message.subject) + "\r\n";
  out += "Date: " + rfc5322_date(message.date) + "\r\n";
  out += "Message-ID: <" + message.message_id + ">\r\n";
  out += "MIME-Version: 1.0\r\n";
  out += "Auto-Submitted: auto-generated\r\n";
  out += "Content-Type: multipart/alternative;\r\n boundary=\"" + boundary + "\"\r\n";
  out += "\r\n";
  out += "This is a multipart message in MIME format.\r\n";
  out += "\r\n--" + boundary + "\r\n";
  EncodedPart text = encode_text_part(message.text);
  // Quoted-printable never holds the boundary ('=' is encoded); text as written could, if only
  // by a supplied name guessing 96 random bits.
  if (text.body.find(boundary) != std::string::npos) {
    text = {"quoted-printable", quoted_printable(message.text)};
  }
  out += "Content-Type: text/plain; charset=utf-8\r\n";
  out += "Content-Transfer-Encoding: " + std::string(text.encoding) + "\r\n\r\n";
  out += text.body;
  out += "\r\n--" + boundary + "\r\n";
  out += "Content-Type: text/html; charset=utf-8\r\n";
  out += "Content-Transfer-Encoding: quoted-printable\r\n\r\n";
  out += quoted_printable(message.html);
  out += "\r\n--" + boundary + "--\r\n";
  return out;
}

}  // namespace invited::mail
