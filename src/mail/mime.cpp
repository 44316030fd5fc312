#include "mail/mime.hpp"

#include <sodium.h>

#include <ctime>

namespace invited::mail {
namespace {

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

// Encoded words of at most 45 input bytes each (60 base64 characters, 72 with the wrapper),
// split on UTF-8 character boundaries and folded onto continuation lines.
std::string encode_header_text_always(std::string_view text) {
  std::string out;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = std::min(text.size(), start + 45);
    while (end < text.size() && end > start &&
           (static_cast<unsigned char>(text[end]) & 0xc0) == 0x80) {
      --end;
    }
    if (!out.empty()) out += "\r\n ";
    out += "=?UTF-8?B?";
    out += base64(text.substr(start, end - start));
    out += "?=";
    start = end;
  }
  return out;
}

// A mailbox display name: as it is when it is plain words, else encoded words.
std::string display_name(std::string_view name) {
  bool plain = !name.empty();
  for (char c : name) {
    bool word = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == ' ' || c == '-';
    if (!word) plain = false;
  }
  return plain ? std::string(name) : encode_header_text_always(name);
}

}  // namespace

std::string encode_header_text(std::string_view text) {
  if (is_plain_header_text(text)) return std::string(text);
  return encode_header_text_always(text);
}

std::string quoted_printable(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  std::size_t column = 0;
  auto emit = [&](std::string_view piece) {
    if (column + piece.size() > 75) {
      out += "=\r\n";
      column = 0;
    }
    out += piece;
    column += piece.size();
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    auto byte = static_cast<unsigned char>(c);
    if (c == '\n') {
      // Trailing whitespace before a line break must be encoded; it was, below.
      out += "\r\n";
      column = 0;
      continue;
    }
    if (c == '\r') continue;
    bool next_is_break = i + 1 == text.size() || text[i + 1] == '\n' || text[i + 1] == '\r';
    bool literal = (byte >= 33 && byte <= 126 && c != '=') ||
                   ((c == ' ' || c == '\t') && !next_is_break);
    // A leading '.' could be read as the end of an SMTP DATA section by careless relays.
    if (c == '.' && column == 0) literal = false;
    if (literal) {
      emit(std::string_view(&text[i], 1));
    } else {
      char escaped[3] = {'=', kHex[byte >> 4], kHex[byte & 0x0f]};
      emit(std::string_view(escaped, 3));
    }
  }
  return out;
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
  out += "From: " + message.from + "\r\n";
  out += "To: ";
  if (!message.to_name.empty()) out += display_name(message.to_name) + " ";
  out += "<" + message.to_address + ">\r\n";
  out += "Subject: " + encode_header_text(message.subject) + "\r\n";
  out += "Date: " + rfc5322_date(message.date) + "\r\n";
  out += "Message-ID: <" + message.message_id + ">\r\n";
  out += "MIME-Version: 1.0\r\n";
  out += "Auto-Submitted: auto-generated\r\n";
  out += "Content-Type: multipart/alternative; boundary=\"" + boundary + "\"\r\n";
  out += "\r\n";
  out += "This is a multipart message in MIME format.\r\n";
  out += "\r\n--" + boundary + "\r\n";
  out += "Content-Type: text/plain; charset=utf-8\r\n";
  out += "Content-Transfer-Encoding: quoted-printable\r\n\r\n";
  out += quoted_printable(message.text);
  out += "\r\n--" + boundary + "\r\n";
  out += "Content-Type: text/html; charset=utf-8\r\n";
  out += "Content-Transfer-Encoding: quoted-printable\r\n\r\n";
  out += quoted_printable(message.html);
  out += "\r\n--" + boundary + "--\r\n";
  return out;
}

}  // namespace invited::mail
