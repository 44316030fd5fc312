// Fuzzes MIME header encoding (mail/mime.hpp): encode_header_text (RFC 2047 "B" words, folded)
// and compose() with a fuzzed display name, subject, address (one domain::Email accepts) and
// bodies. Properties:
// - no value adds or splits a header: the header section is exactly the eight fields compose()
//   writes, in order, each continuation line a fold (CRLF, then a space and text);
// - every line ends in CRLF; no bare CR or LF, no control byte; headers are ASCII apart from a
//   UTF-8 address (RFC 6531);
// - every line is within its limit: a line holding an encoded word at most 76 characters
//   (RFC 2047 §2), other header lines at most 78 (RFC 5322 §2.1.1) but for an address too long
//   to share a line, alone on its line; body lines at most 76 (quoted-printable, RFC 2045);
//   no line at all over 998; no body line starts with '.';
// - everything decodes back: the encoded words to the subject and the name (each word whole
//   UTF-8 characters when the input is UTF-8), the parts to the text and HTML.
#include <fuzzer/FuzzedDataProvider.h>
#include <sodium.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "domain/email.hpp"
#include "fuzz_check.hpp"
#include "mail/mime.hpp"

namespace {

using namespace invited;
using fuzz::check;

std::optional<std::string> base64_decode(std::string_view text) {
  std::string out(text.size(), '\0');
  std::size_t length = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(),
                        text.size(), nullptr, &length, nullptr,
                        sodium_base64_VARIANT_ORIGINAL) != 0) {
    return std::nullopt;
  }
  out.resize(length);
  return out;
}

bool starts_with(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

bool ends_with(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

// Whether `bytes` is whole UTF-8 characters: no character cut at either end.
bool whole_characters(std::string_view bytes) { return fuzz::is_utf8(bytes); }

// Decodes a header value of encoded words separated by folds or spaces; nullopt if any piece
// is not an encoded word. `whole` is set false when a word does not hold whole characters.
std::optional<std::string> decode_words(std::string_view value, bool& whole) {
  std::string out;
  std::size_t start = 0;
  while (start <= value.size()) {
    auto end = value.find(' ', start);
    std::string_view word = value.substr(start, end - start);
    if (ends_with(word, "\r\n")) word.remove_suffix(2);
    constexpr std::string_view kPrefix = "=?UTF-8?B?";
    if (!starts_with(word, kPrefix) || !ends_with(word, "?=") || word.size() < kPrefix.size() + 2) {
      return std::nullopt;
    }
    auto bytes = base64_decode(word.substr(kPrefix.size(), word.size() - kPrefix.size() - 2));
    if (!bytes || bytes->empty()) return std::nullopt;
    if (!whole_characters(*bytes)) whole = false;
    out += *bytes;
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return out;
}

// The text a header value shows: itself when plain, else its encoded words decoded.
void check_header_text(std::string_view value, std::string_view text) {
  bool plain = fuzz::is_printable_ascii(text) && text.find("=?") == std::string_view::npos;
  if (plain && value == text) return;
  bool whole = true;
  auto decoded = decode_words(value, whole);
  check(decoded && *decoded == text, "encoded words decode to the text");
  if (fuzz::is_utf8(text)) check(whole, "every encoded word holds whole UTF-8 characters");
}

void check_lines(const std::vector<std::string_view>& lines, std::size_t first_continuation) {
  for (std::size_t i = 0; i < lines.size(); ++i) {
    std::string_view line = lines[i];
    check(line.find_first_of("\r\n") == std::string_view::npos, "no bare CR or LF");
    check(line.size() <= 998, "no line over 998 characters");
    if (line.find("=?") != std::string_view::npos) {
      check(line.size() <= 76, "a line with an encoded word is at most 76 characters");
    }
    if (i >= first_continuation) {
      check(starts_with(line, " ") && line.find_first_not_of(' ') != std::string_view::npos,
            "a continuation line is a fold: a space, then text");
    }
  }
}

void check_subject(std::string_view subject) {
  std::string value = mail::encode_header_text(subject);
  std::string field = "Subject: " + value;
  auto lines = fuzz::crlf_lines(field);
  check_lines(lines, 1);
  for (auto line : lines) {
    check(fuzz::is_printable_ascii(line), "a subject is printable ASCII");
    check(line.size() <= 78, "a subject line is at most 78 characters");
  }
  // Unfolding (RFC 5322 §2.2.3) removes the CRLFs, keeping the space of each fold.
  check_header_text(value, subject);
}

std::optional<std::string> qp_decode(std::string_view encoded) {
  auto hex = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  for (std::size_t i = 0; i < encoded.size(); ++i) {
    char c = encoded[i];
    if (c == '=') {
      if (encoded.substr(i + 1, 2) == "\r\n") {
        i += 2;
        continue;
      }
      if (i + 2 >= encoded.size() || hex(encoded[i + 1]) < 0 || hex(encoded[i + 2]) < 0) {
        return std::nullopt;
      }
      out += static_cast<char>(hex(encoded[i + 1]) * 16 + hex(encoded[i + 2]));
      i += 2;
    } else if (c == '\r' && encoded.substr(i, 2) == "\r\n") {
      out += '\n';
      ++i;
    } else if (c == '\r' || c == '\n') {
      return std::nullopt;
    } else {
      out += c;
    }
  }
  return out;
}

// The text quoted_printable must give back: line breaks as "\n", CRs dropped.
std::string without_cr(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c != '\r') out += c;
  }
  return out;
}

// A mailbox header's value (unfolded): `name` as it is or as encoded words, then the address.
void check_mailbox(std::string_view value, const std::string& name_sent,
                   const std::string& address_sent) {
  std::string address = "<" + address_sent + ">";
  check(ends_with(value, address), "a mailbox ends with the address");
  std::string_view name = value.substr(0, value.size() - address.size());
  if (name_sent.empty()) {
    check(name.empty(), "no name, no display name");
  } else {
    check(ends_with(name, " "), "the name and the address are apart");
    name.remove_suffix(1);
    if (name != name_sent) {
      bool whole = true;
      auto decoded = decode_words(name, whole);
      check(decoded && *decoded == name_sent, "the display name decodes to the name");
    }
  }
}

void check_message(const mail::Message& message) {
  std::string composed = mail::compose(message);
  auto split = composed.find("\r\n\r\n");
  check(split != std::string::npos, "headers end with an empty line");
  std::string_view headers = std::string_view(composed).substr(0, split);
  std::string_view body = std::string_view(composed).substr(split + 4);

  // The header fields, unfolded, in the order compose() writes them.
  static constexpr std::string_view kNames[] = {"From",           "To",          "Subject",
                                                "Date",           "Message-ID",  "MIME-Version",
                                                "Auto-Submitted", "Content-Type"};
  std::vector<std::string> fields;
  for (auto line : fuzz::crlf_lines(headers)) {
    check(line.find_first_of("\r\n") == std::string_view::npos, "no bare CR or LF in headers");
    check(line.size() <= 998, "no header line over 998 characters");
    // An address may hold "=?" (atext) but is never an encoded word (RFC 2047 §5).
    // An address too long to share a line stands alone: "To: <address>" without a name, or
    // " <address>" folded after one.
    bool address_line =
        line == " <" + message.to_address + ">" || line == "To: <" + message.to_address + ">";
    if (line.find("=?") != std::string_view::npos && !address_line) {
      check(line.size() <= 76, "a header line with an encoded word is at most 76 characters");
    }
    check(line.size() <= 78 || address_line,
          "a header line is at most 78 characters, but for a long address on its own line");
    for (char c : line) {
      auto byte = static_cast<unsigned char>(c);
      check(byte >= 0x20 && byte != 0x7f, "no control byte in headers");
    }
    if (starts_with(line, " ")) {
      check(!fields.empty() && line.find_first_not_of(' ') != std::string_view::npos,
            "a continuation line is a fold: a space, then text");
      fields.back() += line;
    } else {
      fields.emplace_back(line);
    }
  }
  check(fields.size() == std::size(kNames), "compose writes exactly its eight header fields");
  for (std::size_t i = 0; i < fields.size(); ++i) {
    check(starts_with(fields[i], std::string(kNames[i]) + ": "), "header fields in order");
  }
  for (char c : std::string_view(fields[1])) {
    if (static_cast<unsigned char>(c) >= 0x80) {
      check(message.to_address.find(c) != std::string::npos, "only the address may be UTF-8");
    }
  }
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (i == 1) continue;
    check(fuzz::is_printable_ascii(fields[i]), "headers other than To are ASCII");
  }

  // From and To: the name (plain or encoded words), then the address in angle brackets.
  check_mailbox(std::string_view(fields[0]).substr(6), message.from_name, message.from_address);
  check_mailbox(std::string_view(fields[1]).substr(4), message.to_name, message.to_address);
  // Subject: unfolded (RFC 5322 §2.2.3 removes each fold's CRLF, keeping its space), decoded.
  check_header_text(std::string_view(fields[2]).substr(9), message.subject);

  // The body: parts between boundaries, each quoted-printable or, for an ASCII text part whose
  // lines all fit (mail/mime.hpp), 7bit, which keeps a long link whole. Never 8bit: that needs
  // the server's 8BITMIME declared, which the SMTP client cannot do.
  auto body_lines = fuzz::crlf_lines(body);
  for (auto line : body_lines) {
    check(line.find_first_of("\r\n") == std::string_view::npos, "no bare CR or LF in the body");
    check(line.size() <= 998, "a body line is at most 998 characters");
  }
  auto boundary_at = fields[7].find("boundary=\"");
  check(boundary_at != std::string::npos, "multipart has a boundary");
  std::string boundary = fields[7].substr(boundary_at + 10);
  boundary.pop_back();
  std::string delimiter = "\r\n--" + boundary;
  std::vector<std::string> parts;
  std::size_t at = composed.find(delimiter);
  while (at != std::string::npos) {
    std::size_t next = composed.find(delimiter, at + delimiter.size());
    if (next == std::string::npos) break;
    std::string_view part = std::string_view(composed).substr(at, next - at);
    auto content = part.find("\r\n\r\n");
    check(content != std::string_view::npos, "a part has headers and content");
    std::string_view head = part.substr(0, content);
    std::string_view raw = part.substr(content + 4);
    if (head.find("Content-Transfer-Encoding: quoted-printable") != std::string_view::npos) {
      for (auto line : fuzz::crlf_lines(raw)) {
        check(line.size() <= 76, "a quoted-printable line is at most 76 characters");
        check(!starts_with(line, "."), "no quoted-printable line starts with a dot");
        for (char c : line) {
          check((c >= 0x20 && c <= 0x7e) || c == '\t', "quoted-printable is printable ASCII");
        }
      }
      auto decoded = qp_decode(raw);
      check(decoded.has_value(), "a part is valid quoted-printable");
      parts.push_back(*decoded);
    } else {
      check(head.find("Content-Transfer-Encoding: 7bit") != std::string_view::npos,
            "a part is quoted-printable or 7bit");
      for (char c : raw) {
        const auto byte = static_cast<unsigned char>(c);
        check(byte != 0 && byte < 0x80, "a 7bit part is ASCII without NUL");
      }
      parts.push_back(without_cr(std::string(raw)));
    }
    at = next;
  }
  check(parts.size() == 2, "two parts: text and HTML");
  check(parts[0] == without_cr(message.text), "the text part decodes to the text");
  check(parts[1] == without_cr(message.html), "the HTML part decodes to the HTML");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider provider(data, size);
  mail::Message message;
  message.from_address = "no-reply@example.com";
  message.message_id = "0190a3c4-0000-7000-8000-000000000001@example.com";
  message.date = 1'795'823'716;
  // The From name is "<organization> via <sender>"; an organization names itself.
  message.from_name = provider.ConsumeRandomLengthString(200) + " via invited";
  message.subject = provider.ConsumeRandomLengthString(400);
  message.to_name = provider.ConsumeRandomLengthString(400);
  auto address = domain::Email::parse(provider.ConsumeRandomLengthString(300));
  message.to_address = address ? address->address() : "ann@example.com";
  message.text = provider.ConsumeRandomLengthString(2000);
  message.html = provider.ConsumeRemainingBytesAsString();

  check_subject(message.subject);
  check_message(message);
  return 0;
}
