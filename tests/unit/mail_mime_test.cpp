#include <gtest/gtest.h>
#include <sodium.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "mail/invitation_email.hpp"
#include "mail/mime.hpp"
#include "web/wording.hpp"

namespace invited::mail {
namespace {

std::string repeat(std::string_view piece, std::size_t times) {
  std::string out;
  for (std::size_t i = 0; i < times; ++i) out += piece;
  return out;
}

std::vector<std::string> split_lines(std::string_view text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (true) {
    auto end = text.find("\r\n", start);
    lines.emplace_back(text.substr(start, end - start));
    if (end == std::string_view::npos) break;
    start = end + 2;
  }
  return lines;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;  // RFC 2045 encoders emit upper case only
}

// Decodes quoted-printable; hard line breaks come back as "\n". nullopt if malformed.
std::optional<std::string> qp_decode(std::string_view encoded) {
  std::string out;
  for (std::size_t i = 0; i < encoded.size(); ++i) {
    char c = encoded[i];
    if (c == '=') {
      if (encoded.substr(i + 1, 2) == "\r\n") {
        i += 2;
        continue;
      }
      if (i + 2 >= encoded.size()) return std::nullopt;
      int high = hex_value(encoded[i + 1]);
      int low = hex_value(encoded[i + 2]);
      if (high < 0 || low < 0) return std::nullopt;
      out += static_cast<char>(high * 16 + low);
      i += 2;
    } else if (c == '\r') {
      if (encoded.substr(i, 2) != "\r\n") return std::nullopt;
      out += '\n';
      ++i;
    } else if (c == '\n') {
      return std::nullopt;  // bare LF
    } else {
      out += c;
    }
  }
  return out;
}

// The text quoted_printable must reproduce: line breaks as "\n", stray CRs dropped.
std::string normalized(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r') continue;
    out += text[i];
  }
  return out;
}

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

// The encoded words of a header value, each "=?UTF-8?B?...?=", separated by folds.
std::vector<std::string> encoded_words(std::string_view value) {
  std::vector<std::string> words;
  std::size_t start = 0;
  while (true) {
    auto end = value.find("\r\n ", start);
    words.emplace_back(value.substr(start, end - start));
    if (end == std::string_view::npos) break;
    start = end + 3;
  }
  return words;
}

// Decodes a header value made only of encoded words. nullopt if any piece is not one.
std::optional<std::string> decode_words(std::string_view value) {
  std::string out;
  for (const auto& word : encoded_words(value)) {
    constexpr std::string_view kPrefix = "=?UTF-8?B?";
    if (word.size() < kPrefix.size() + 2 || word.compare(0, kPrefix.size(), kPrefix) != 0 ||
        word.compare(word.size() - 2, 2, "?=") != 0) {
      return std::nullopt;
    }
    auto bytes = base64_decode(
        std::string_view(word).substr(kPrefix.size(), word.size() - kPrefix.size() - 2));
    if (!bytes) return std::nullopt;
    out += *bytes;
  }
  return out;
}

bool is_utf8_continuation(char c) { return (static_cast<unsigned char>(c) & 0xc0) == 0x80; }

// Whether `bytes` is whole UTF-8 characters: no character cut at either end.
bool whole_utf8_characters(std::string_view bytes) {
  if (bytes.empty()) return true;
  if (is_utf8_continuation(bytes.front())) return false;
  std::size_t i = bytes.size();
  std::size_t continuation = 0;
  while (i > 0 && is_utf8_continuation(bytes[i - 1])) {
    --i;
    ++continuation;
  }
  if (i == 0) return false;
  auto lead = static_cast<unsigned char>(bytes[i - 1]);
  std::size_t expected = lead < 0x80 ? 0 : lead >= 0xf0 ? 3 : lead >= 0xe0 ? 2 : 1;
  return continuation == expected;
}

// ---- quoted_printable ----

TEST(QuotedPrintable, KeepsPlainAsciiAsItIs) {
  EXPECT_EQ(quoted_printable("Hello, world!"), "Hello, world!");
  EXPECT_EQ(quoted_printable(""), "");
}

TEST(QuotedPrintable, EscapesEqualsSign) {
  EXPECT_EQ(quoted_printable("a=b"), "a=3Db");
  EXPECT_EQ(quoted_printable("=="), "=3D=3D");
}

TEST(QuotedPrintable, LineBreaksBecomeCrlf) {
  EXPECT_EQ(quoted_printable("one\ntwo"), "one\r\ntwo");
  EXPECT_EQ(quoted_printable("one\r\ntwo\n"), "one\r\ntwo\r\n");
  EXPECT_EQ(quoted_printable("\n\n"), "\r\n\r\n");
}

TEST(QuotedPrintable, EncodesWhitespaceBeforeLineBreakAndAtEnd) {
  EXPECT_EQ(quoted_printable("a \nb"), "a=20\r\nb");
  EXPECT_EQ(quoted_printable("a\t\r\nb"), "a=09\r\nb");
  EXPECT_EQ(quoted_printable("end "), "end=20");
  EXPECT_EQ(quoted_printable("a b"), "a b");  // inner spaces stay literal
}

TEST(QuotedPrintable, EscapesNonAsciiBytes) {
  EXPECT_EQ(quoted_printable("caf\xc3\xa9"), "caf=C3=A9");
  EXPECT_EQ(quoted_printable("\xf0\x9f\x98\x80"), "=F0=9F=98=80");
}

TEST(QuotedPrintable, EscapesControlCharacters) {
  EXPECT_EQ(quoted_printable("a\x01z"), "a=01z");
  EXPECT_EQ(quoted_printable("a\x7fz"), "a=7Fz");
}

TEST(QuotedPrintable, EscapesLeadingDot) {
  EXPECT_EQ(quoted_printable(".hidden"), "=2Ehidden");
  EXPECT_EQ(quoted_printable("a\n.\nb"), "a\r\n=2E\r\nb");
  EXPECT_EQ(quoted_printable("a.b"), "a.b");
}

TEST(QuotedPrintable, NoOutputLineStartsWithDotEvenAfterSoftBreak) {
  for (std::size_t prefix = 70; prefix <= 80; ++prefix) {
    std::string text = std::string(prefix, 'a') + "." + std::string(prefix, 'b') + ".c";
    std::string encoded = quoted_printable(text);
    for (const auto& line : split_lines(encoded)) {
      EXPECT_FALSE(!line.empty() && line.front() == '.')
          << "prefix " << prefix << ": line \"" << line << "\"";
    }
    EXPECT_EQ(qp_decode(encoded), text);
  }
}

TEST(QuotedPrintable, LinesAreAtMost76Characters) {
  std::vector<std::string> texts = {
      std::string(500, 'a'),
      repeat("\xc3\xa9", 300),
      repeat("a=", 200),
      repeat("word ", 100),
      repeat("x", 74) + " \n" + repeat("y", 200),
      repeat("\xe6\x97\xa5\xe6\x9c\xac ", 80),
  };
  for (const auto& text : texts) {
    std::string encoded = quoted_printable(text);
    auto lines = split_lines(encoded);
    EXPECT_GT(lines.size(), 1u);
    for (const auto& line : lines) {
      EXPECT_LE(line.size(), 76u) << line;
      // A soft break never splits an escape: each "=" is followed by two hex digits or ends
      // the line.
      for (std::size_t i = 0; i < line.size(); ++i) {
        if (line[i] != '=') continue;
        bool soft_break = i + 1 == line.size();
        bool escape =
            i + 2 < line.size() && hex_value(line[i + 1]) >= 0 && hex_value(line[i + 2]) >= 0;
        EXPECT_TRUE(soft_break || escape) << line;
      }
      // No line ends in literal whitespace.
      if (!line.empty()) {
        EXPECT_NE(line.back(), ' ') << line;
        EXPECT_NE(line.back(), '\t') << line;
      }
    }
    EXPECT_EQ(qp_decode(encoded), normalized(text));
  }
}

TEST(QuotedPrintable, NoBareLineFeedOrCarriageReturn) {
  std::string encoded = quoted_printable("a\nb\r\nc\rd\n\re");
  for (std::size_t i = 0; i < encoded.size(); ++i) {
    if (encoded[i] == '\n') {
      EXPECT_TRUE(i > 0 && encoded[i - 1] == '\r') << i;
    }
    if (encoded[i] == '\r') {
      EXPECT_TRUE(i + 1 < encoded.size() && encoded[i + 1] == '\n') << i;
    }
  }
}

TEST(QuotedPrintable, RoundTripsEveryByte) {
  std::string text;
  for (int byte = 0; byte < 256; ++byte) {
    if (byte == '\r') continue;
    text += static_cast<char>(byte);
  }
  text += text;
  EXPECT_EQ(qp_decode(quoted_printable(text)), normalized(text));
}

// ---- encode_header_text ----

TEST(EncodeHeaderText, KeepsPrintableAscii) {
  EXPECT_EQ(encode_header_text("Acme invited you to 2 websites"), "Acme invited you to 2 websites");
  EXPECT_EQ(encode_header_text("Q&A: 100% <fun>, \"really\""), "Q&A: 100% <fun>, \"really\"");
  EXPECT_EQ(encode_header_text(""), "");
}

TEST(EncodeHeaderText, KeepsPlainAsciiOnlyWhileItFitsOnTheSubjectLine) {
  // "Subject: " and 69 characters make the 78 of RFC 5322 §2.1.1.
  std::string fits(69, 'a');
  EXPECT_EQ(encode_header_text(fits), fits);
  std::string longer = fits + "b";
  std::string encoded = encode_header_text(longer);
  EXPECT_EQ(encoded.rfind("=?UTF-8?B?", 0), 0u) << encoded;
  EXPECT_EQ(decode_words(encoded), longer);
  for (const auto& line : split_lines("Subject: " + encoded)) EXPECT_LE(line.size(), 76u) << line;
}

TEST(EncodeHeaderText, EncodesNonAsciiAsUtf8BWords) {
  std::string text = "J\xc3\xb6rg M\xc3\xbcller";
  std::string encoded = encode_header_text(text);
  EXPECT_EQ(encoded.rfind("=?UTF-8?B?", 0), 0u) << encoded;
  EXPECT_EQ(decode_words(encoded), text);
  for (char c : encoded) EXPECT_TRUE(static_cast<unsigned char>(c) < 0x80) << encoded;
}

TEST(EncodeHeaderText, LongTextSplitsIntoShortWordsOnCharacterBoundaries) {
  for (std::string piece : {"\xc3\xa9", "\xe6\x97\xa5", "\xf0\x9f\x98\x80", "a\xe6\x97\xa5"}) {
    std::string text = repeat(piece, 60);
    std::string encoded = encode_header_text(text);
    auto words = encoded_words(encoded);
    EXPECT_GT(words.size(), 1u) << encoded;
    for (const auto& word : words) {
      EXPECT_LE(word.size(), 75u) << word;
      auto bytes = decode_words(word);
      ASSERT_TRUE(bytes) << word;
      EXPECT_TRUE(whole_utf8_characters(*bytes)) << word;
    }
    EXPECT_EQ(decode_words(encoded), text);
  }
}

TEST(EncodeHeaderText, NeverEmitsRawLineBreaks) {
  for (std::string text :
       {std::string("Hi\r\nBcc: evil@x"), std::string("Hi\nBcc: evil@x"),
        std::string("Hi\rBcc: evil@x"), "J\xc3\xb6rg\r\nBcc: evil@x" + repeat("\xc3\xa9", 80)}) {
    std::string encoded = encode_header_text(text);
    for (std::size_t i = 0; i < encoded.size(); ++i) {
      if (encoded[i] == '\r' || encoded[i] == '\n') {
        // Only as a fold: CRLF followed by a space.
        ASSERT_EQ(encoded.compare(i, 3, "\r\n "), 0) << encoded;
        i += 2;
      }
    }
    EXPECT_EQ(encoded.find("Bcc"), std::string::npos) << encoded;
    EXPECT_EQ(decode_words(encoded), text);
  }
}

TEST(EncodeHeaderText, EncodesOtherControlCharacters) {
  for (std::string text :
       {std::string("tab\there"), std::string("nul\0here", 8), std::string("del\x7fhere")}) {
    std::string encoded = encode_header_text(text);
    EXPECT_NE(encoded, text);
    EXPECT_EQ(decode_words(encoded), text);
  }
}

TEST(EncodeHeaderText, EncodedWordStartIsEncoded) {
  std::string text = "=?UTF-8?B?ZXZpbA==?=";
  std::string encoded = encode_header_text(text);
  EXPECT_NE(encoded, text);
  EXPECT_EQ(decode_words(encoded), text);
  EXPECT_EQ(decode_words(encode_header_text("a =? b")), "a =? b");
}

// Message: names and subject "may hold anything", so malformed UTF-8 too (an organization
// name given on the command line is never checked). Encoding must still finish.
TEST(EncodeHeaderTextDeathTest, FinishesOnMalformedUtf8) {
  for (std::string text : {"a" + std::string(46, '\x80'), std::string(100, '\xbf')}) {
    EXPECT_EXIT(
        {
          alarm(2);  // a hang fails the test instead of stalling the suite
          std::string encoded = encode_header_text(text);
          std::exit(encoded.empty() ? 2 : 0);
        },
        ::testing::ExitedWithCode(0), "")
        << text.size() << " bytes";
  }
}

// ---- rfc5322_date ----

TEST(Rfc5322Date, FormatsUtc) {
  EXPECT_EQ(rfc5322_date(0), "Thu, 01 Jan 1970 00:00:00 +0000");
  EXPECT_EQ(rfc5322_date(1'795'823'716), "Fri, 27 Nov 2026 23:55:16 +0000");
}

// ---- compose ----

struct Parsed {
  std::vector<std::pair<std::string, std::string>> headers;  // unfolded, in order
  std::string body;
  std::string raw_headers;
};

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

Parsed parse_message(const std::string& message) {
  Parsed parsed;
  auto end = message.find("\r\n\r\n");
  EXPECT_NE(end, std::string::npos);
  parsed.raw_headers = message.substr(0, end + 2);
  parsed.body = message.substr(end + 4);
  std::vector<std::string> logical;
  for (const auto& line : split_lines(message.substr(0, end))) {
    if (!line.empty() && (line[0] == ' ' || line[0] == '\t') && !logical.empty()) {
      logical.back() += "\r\n" + line;
    } else {
      logical.push_back(line);
    }
  }
  for (const auto& line : logical) {
    auto colon = line.find(':');
    EXPECT_NE(colon, std::string::npos) << line;
    std::string value = line.substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.erase(0, 1);
    parsed.headers.emplace_back(line.substr(0, colon), value);
  }
  return parsed;
}

std::vector<std::string> header_values(const Parsed& parsed, std::string_view name) {
  std::vector<std::string> values;
  for (const auto& [key, value] : parsed.headers) {
    if (lower(key) == lower(std::string(name))) values.push_back(value);
  }
  return values;
}

std::string header(const Parsed& parsed, std::string_view name) {
  auto values = header_values(parsed, name);
  EXPECT_EQ(values.size(), 1u) << name;
  return values.empty() ? std::string() : values[0];
}

std::string boundary_of(const Parsed& parsed) {
  std::string content_type = header(parsed, "Content-Type");
  auto at = content_type.find("boundary=\"");
  EXPECT_NE(at, std::string::npos) << content_type;
  if (at == std::string::npos) return {};
  auto start = at + 10;
  return content_type.substr(start, content_type.find('"', start) - start);
}

struct Part {
  Parsed parsed;
  std::string decoded_body;
};

// The MIME parts of a multipart body.
std::vector<Part> parts_of(const Parsed& parsed) {
  std::string boundary = boundary_of(parsed);
  std::vector<Part> parts;
  if (boundary.empty()) return parts;
  std::string delimiter = "\r\n--" + boundary;
  std::string body = "\r\n" + parsed.body;
  auto at = body.find(delimiter);
  while (at != std::string::npos) {
    auto line_end = body.find("\r\n", at + delimiter.size());
    if (body.compare(at + delimiter.size(), 2, "--") == 0) break;  // closing delimiter
    auto next = body.find(delimiter, line_end);
    std::string content = body.substr(line_end + 2, next - line_end - 2);
    Part part{parse_message(content), {}};
    std::string encoding = lower(header(part.parsed, "Content-Transfer-Encoding"));
    if (encoding == "7bit") {
      for (const auto& line : split_lines(part.parsed.body)) part.decoded_body += line + "\n";
      part.decoded_body.pop_back();  // the last line has no break of its own
    } else {
      EXPECT_EQ(encoding, "quoted-printable");
      auto decoded = qp_decode(part.parsed.body);
      EXPECT_TRUE(decoded);
      part.decoded_body = decoded.value_or("");
    }
    parts.push_back(std::move(part));
    at = next;
  }
  return parts;
}

Message sample_message() {
  Message message;
  message.from_name = "invited";
  message.from_address = "no-reply@example.com";
  message.to_address = "ann@example.com";
  message.to_name = "Ann Lee";
  message.subject = "Acme invited you to 2 websites";
  message.message_id = "0190a3c4-0000-7000-8000-000000000001@example.com";
  message.date = 1'795'823'716;
  message.text = "Hello Ann,\n\nopen https://example.com/invites/accept?token=abc\n";
  message.html =
      "<p>Hello Ann,</p>\n<p><a href=\"https://example.com/?a=1&amp;b=2\">open</a></p>\n";
  return message;
}

TEST(Compose, WritesTheRequiredHeaders) {
  Parsed parsed = parse_message(compose(sample_message()));
  EXPECT_EQ(header(parsed, "From"), "invited <no-reply@example.com>");
  EXPECT_EQ(header(parsed, "To"), "Ann Lee <ann@example.com>");
  EXPECT_EQ(header(parsed, "Subject"), "Acme invited you to 2 websites");
  EXPECT_EQ(header(parsed, "Date"), "Fri, 27 Nov 2026 23:55:16 +0000");
  EXPECT_EQ(header(parsed, "Message-ID"), "<0190a3c4-0000-7000-8000-000000000001@example.com>");
  EXPECT_EQ(header(parsed, "MIME-Version"), "1.0");
  std::string content_type = header(parsed, "Content-Type");
  EXPECT_EQ(content_type.rfind("multipart/alternative;", 0), 0u) << content_type;
  EXPECT_FALSE(boundary_of(parsed).empty());
}

TEST(Compose, UsesCrlfLineEndingsOnly) {
  std::string message = compose(sample_message());
  for (std::size_t i = 0; i < message.size(); ++i) {
    if (message[i] == '\n') {
      ASSERT_TRUE(i > 0 && message[i - 1] == '\r') << i;
    }
    if (message[i] == '\r') {
      ASSERT_TRUE(i + 1 < message.size() && message[i + 1] == '\n') << i;
    }
  }
}

TEST(Compose, ExactlyOneBlankLineBetweenHeadersAndBody) {
  std::string message = compose(sample_message());
  Parsed parsed = parse_message(message);
  EXPECT_FALSE(parsed.body.empty());
  EXPECT_NE(parsed.body.rfind("\r\n", 0), 0u) << "a second blank line opens the body";
  for (const auto& [name, value] : parsed.headers) EXPECT_FALSE(name.empty());
}

TEST(Compose, HasPlainTextAndHtmlPartsThatDecodeToTheInput) {
  Message message = sample_message();
  Parsed parsed = parse_message(compose(message));
  std::string boundary = boundary_of(parsed);
  ASSERT_FALSE(boundary.empty());
  EXPECT_NE(parsed.body.find("\r\n--" + boundary + "--"), std::string::npos) << "no closing";
  // The boundary must not occur in the encoded content.
  EXPECT_EQ(quoted_printable(message.text).find(boundary), std::string::npos);

  auto parts = parts_of(parsed);
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(lower(header(parts[0].parsed, "Content-Type")).rfind("text/plain", 0), 0u);
  EXPECT_EQ(lower(header(parts[1].parsed, "Content-Type")).rfind("text/html", 0), 0u);
  for (const auto& part : parts) {
    EXPECT_NE(lower(header(part.parsed, "Content-Type")).find("charset=utf-8"), std::string::npos);
  }
  EXPECT_EQ(lower(header(parts[0].parsed, "Content-Transfer-Encoding")), "7bit");
  EXPECT_EQ(lower(header(parts[1].parsed, "Content-Transfer-Encoding")), "quoted-printable");
  EXPECT_EQ(parts[0].decoded_body, message.text);
  EXPECT_EQ(parts[1].decoded_body, message.html);
}

// The accept link of the text part can be copied from the raw message: one whole line, however
// long the token, where quoted-printable would cut it with a soft break at 76 columns.
TEST(Compose, LongLinkOfTheTextPartStaysWholeInTheRawMessage) {
  Message message = sample_message();
  const std::string link =
      "https://invites.example.com/invitations/accept?token=" + repeat("AbCdEfGhIj-_0123456789", 8);
  message.text = "Hello Ann,\n\nAccept: \n" + link + "\n\nThe team at Acme\n";
  std::string raw = compose(message);
  EXPECT_NE(raw.find("\r\n" + link + "\r\n"), std::string::npos) << raw;
  auto parts = parts_of(parse_message(raw));
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0].decoded_body, message.text);
}

// 8-bit content would need the server's 8BITMIME, declared with BODY=8BITMIME (RFC 6152), which
// libcurl cannot do: non-ASCII text goes quoted-printable, and every byte of the message is ASCII.
TEST(Compose, NonAsciiTextPartIsQuotedPrintableAndDecodesToTheInput) {
  Message message = sample_message();
  message.text = "Hallo Jürgen,\nöffne https://example.com/accept?token=" + repeat("x", 120) + "\n";
  std::string raw = compose(message);
  for (char c : raw) EXPECT_LT(static_cast<unsigned char>(c), 0x80);
  auto parts = parts_of(parse_message(raw));
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(lower(header(parts[0].parsed, "Content-Transfer-Encoding")), "quoted-printable");
  EXPECT_EQ(parts[0].decoded_body, message.text);
}

TEST(EncodeTextPart, AsciiIs7bitWithCrlfLines) {
  EncodedPart part = encode_text_part("one\ntwo\r\nthree\n");
  EXPECT_EQ(part.encoding, "7bit");
  EXPECT_EQ(part.body, "one\r\ntwo\r\nthree\r\n");
}

TEST(EncodeTextPart, KeepsALineOf998OctetsAndQuotesALongerOne) {
  EncodedPart fits = encode_text_part(repeat("a", 998) + "\nb");
  EXPECT_EQ(fits.encoding, "7bit");
  EXPECT_EQ(fits.body, repeat("a", 998) + "\r\nb");
  EncodedPart too_long = encode_text_part(repeat("a", 999));
  EXPECT_EQ(too_long.encoding, "quoted-printable");
  EXPECT_EQ(too_long.body, quoted_printable(repeat("a", 999)));
}

TEST(EncodeTextPart, QuotesControlCharacters) {
  EXPECT_EQ(encode_text_part(std::string("a\0b", 3)).encoding, "quoted-printable");
  EXPECT_EQ(encode_text_part("a\x1b[31mb").encoding, "quoted-printable");
  EXPECT_EQ(encode_text_part("a\x7f").encoding, "quoted-printable");
  EXPECT_EQ(encode_text_part("tab\there").encoding, "7bit");
}

TEST(Compose, BoundaryDiffersBetweenMessages) {
  EXPECT_NE(boundary_of(parse_message(compose(sample_message()))),
            boundary_of(parse_message(compose(sample_message()))));
}

TEST(Compose, EncodesNonAsciiSubjectAndName) {
  Message message = sample_message();
  message.subject = "Caf\xc3\xa9 M\xc3\xbcller invited you";
  message.to_name = "J\xc3\xb6rg M\xc3\xbcller";
  std::string composed = compose(message);
  Parsed parsed = parse_message(composed);
  for (char c : parsed.raw_headers) ASSERT_LT(static_cast<unsigned char>(c), 0x80);
  EXPECT_EQ(decode_words(header(parsed, "Subject")), message.subject);
  std::string to = header(parsed, "To");
  auto angle = to.rfind(" <");
  ASSERT_NE(angle, std::string::npos) << to;
  EXPECT_EQ(to.substr(angle), " <ann@example.com>");
  EXPECT_EQ(decode_words(to.substr(0, angle)), message.to_name);
}

TEST(Compose, HeaderLinesWithEncodedWordsAreAtMost76Characters) {
  // RFC 2047 §2: a header line that contains an encoded word is at most 76 characters.
  Message message = sample_message();
  message.subject = repeat("caf\xc3\xa9 ", 20);
  message.to_name = repeat("J\xc3\xb6rg ", 12);
  Parsed parsed = parse_message(compose(message));
  for (const auto& line : split_lines(parsed.raw_headers)) {
    if (line.find("=?") == std::string::npos) continue;
    EXPECT_LE(line.size(), 76u) << line;
  }
  EXPECT_EQ(decode_words(header(parsed, "Subject")), message.subject);
}

TEST(Compose, LongAddressAfterAnEncodedNameGetsALineOfItsOwn) {
  // Found by tests/fuzz/mime_header: the address used to follow the name's last encoded word on
  // its line, making that line longer than the 76 characters RFC 2047 §2 allows.
  Message message = sample_message();
  message.to_name =
      "Zo\xc3\xab \xc3\x85ngstr\xc3\xb6m-\xc3\x98"
      "deg\xc3\xa5rd";
  message.to_address = "annabelle.leopoldine@subdomain.example.com";
  Parsed parsed = parse_message(compose(message));
  for (const auto& line : split_lines(parsed.raw_headers)) {
    if (line.find("=?") == std::string::npos) continue;
    EXPECT_LE(line.size(), 76u) << line;
  }
  std::string to = header(parsed, "To");
  auto fold = to.rfind("\r\n <");
  ASSERT_NE(fold, std::string::npos) << to;
  EXPECT_EQ(to.substr(fold), "\r\n <annabelle.leopoldine@subdomain.example.com>");
  EXPECT_EQ(decode_words(to.substr(0, fold)), message.to_name);
}

TEST(Compose, EveryHeaderLineIsAtMost78Characters) {
  // RFC 5322 §2.1.1. Found by tests/fuzz/mime_header: the Content-Type line with its boundary
  // was 82 characters, a long plain subject or name as long as the text.
  Message message = sample_message();
  message.subject = "Acme Corporation International invited you to " + repeat("Website one, ", 8);
  message.to_name = repeat("Annabelle ", 9);
  Parsed parsed = parse_message(compose(message));
  for (const auto& line : split_lines(parsed.raw_headers)) EXPECT_LE(line.size(), 78u) << line;
  EXPECT_EQ(decode_words(header(parsed, "Subject")), message.subject);
  EXPECT_NE(boundary_of(parsed).find("=_invited_"), std::string::npos);
}

TEST(Compose, DisplayNameWithSpecialsIsEncodedNotCopied) {
  Message message = sample_message();
  message.to_name = "Lee, Ann <boss@example.com>";
  Parsed parsed = parse_message(compose(message));
  std::string to = header(parsed, "To");
  EXPECT_EQ(to.find("Lee, Ann"), std::string::npos) << to;
  EXPECT_EQ(to.find("boss@example.com"), std::string::npos) << to;
  EXPECT_NE(to.find("<ann@example.com>"), std::string::npos) << to;
}

TEST(Compose, SuppliedValuesCannotAddHeaders) {
  Message message = sample_message();
  message.subject = "Hi\r\nBcc: evil@x";
  message.to_name = "Eve\r\nBcc: evil@x";
  std::string composed = compose(message);
  Parsed parsed = parse_message(composed);
  EXPECT_TRUE(header_values(parsed, "Bcc").empty());
  std::vector<std::string> names;
  for (const auto& [name, value] : parsed.headers) names.push_back(lower(name));
  std::sort(names.begin(), names.end());
  std::vector<std::string> allowed = {"auto-submitted", "content-type", "date",    "from",
                                      "message-id",     "mime-version", "subject", "to"};
  for (const auto& name : names) {
    EXPECT_TRUE(std::binary_search(allowed.begin(), allowed.end(), name)) << name;
  }
  EXPECT_EQ(decode_words(header(parsed, "Subject")), message.subject);
  for (const auto& line : split_lines(parsed.raw_headers)) {
    EXPECT_NE(lower(line).rfind("bcc:", 0), 0u) << line;
  }
}

TEST(Compose, SenderNameWithSpecialsIsEncodedNotCopied) {
  // The From name is "<organization> via <sender>", and an organization names itself.
  for (std::string organization :
       {std::string("Acme, Inc. \"R&D\" <boss@evil.example>"), std::string("Acme\r\nBcc: evil@x"),
        std::string("Acme\nBcc: evil@x"), std::string("Caf\xc3\xa9 M\xc3\xbcller")}) {
    Message message = sample_message();
    message.from_name = organization + " via invited";
    std::string composed = compose(message);
    Parsed parsed = parse_message(composed);
    for (char c : parsed.raw_headers) ASSERT_LT(static_cast<unsigned char>(c), 0x80);
    EXPECT_TRUE(header_values(parsed, "Bcc").empty()) << composed;
    ASSERT_EQ(header_values(parsed, "From").size(), 1u) << composed;
    std::string from = header(parsed, "From");
    EXPECT_EQ(from.find("boss@"), std::string::npos) << from;
    const std::string address = "<no-reply@example.com>";
    auto angle = from.rfind(address);
    ASSERT_NE(angle, std::string::npos) << from;
    EXPECT_EQ(angle + address.size(), from.size()) << from;
    std::string name = from.substr(0, angle);  // then a space, or a fold before the address
    while (!name.empty() && (name.back() == ' ' || name.back() == '\n' || name.back() == '\r')) {
      name.pop_back();
    }
    EXPECT_EQ(decode_words(name), message.from_name);
    auto end = composed.find("\r\n\r\n");
    EXPECT_EQ(lower(composed.substr(0, end)).find("bcc:"), std::string::npos);
  }
}

TEST(Compose, SubjectWithLoneLineFeedCannotAddHeaders) {
  Message message = sample_message();
  message.subject = "Hi\nBcc: evil@x";
  message.to_name = "Eve\rBcc: evil@x";
  std::string composed = compose(message);
  auto end = composed.find("\r\n\r\n");
  ASSERT_NE(end, std::string::npos);
  std::string headers = lower(composed.substr(0, end));
  EXPECT_EQ(headers.find("bcc:"), std::string::npos) << headers;
}

// ---- render_invitation ----

domain::Invitation sample_invitation() {
  domain::Invitation invitation;
  invitation.batch_pk = 7;
  invitation.organization_name = "Acme <script>alert(\"org\")</script> & 'Co'";
  invitation.email = "ann@example.com";
  invitation.first_name = "Ann";
  invitation.last_name = "Lee";
  invitation.expires_at = 1'795'823'716;
  invitation.targets = {
      {domain::TargetKind::kWebsite, "Shop <b>\"one\"</b>", "https://shop.example.com/?a=1&b=2",
       domain::Role::kAdmin},
      {domain::TargetKind::kWebsite, "Blog", "https://blog.example.com", domain::Role::kViewer},
  };
  return invitation;
}

constexpr const char* kAcceptUrl = "https://invited.example.com/invites/accept?token=tok_123";

TEST(RenderInvitation, TextPartListsEveryTargetUnescaped) {
  auto email = render_invitation(sample_invitation(), kAcceptUrl);
  EXPECT_NE(email.text.find("Acme <script>alert(\"org\")</script> & 'Co'"), std::string::npos)
      << email.text;
  EXPECT_NE(email.text.find("Shop <b>\"one\"</b>"), std::string::npos) << email.text;
  EXPECT_NE(email.text.find("https://shop.example.com/?a=1&b=2"), std::string::npos);
  EXPECT_NE(email.text.find("Blog"), std::string::npos);
  EXPECT_NE(email.text.find("https://blog.example.com"), std::string::npos);
  EXPECT_NE(email.text.find("admin"), std::string::npos);
  EXPECT_NE(email.text.find("viewer"), std::string::npos);
  EXPECT_NE(email.text.find(kAcceptUrl), std::string::npos);
  EXPECT_EQ(email.text.find("&lt;"), std::string::npos);
  EXPECT_EQ(email.text.find("&amp;"), std::string::npos);
  EXPECT_EQ(email.text.find("&quot;"), std::string::npos);
}

TEST(RenderInvitation, HtmlPartEscapesSuppliedValues) {
  auto email = render_invitation(sample_invitation(), kAcceptUrl);
  EXPECT_EQ(email.html.find("<script>"), std::string::npos) << email.html;
  EXPECT_EQ(email.html.find("alert(\"org\")"), std::string::npos);
  EXPECT_EQ(email.html.find("<b>"), std::string::npos);
  EXPECT_NE(email.html.find("&lt;script&gt;"), std::string::npos);
  EXPECT_NE(email.html.find("Shop &lt;b&gt;&quot;one&quot;&lt;/b&gt;"), std::string::npos)
      << email.html;
  EXPECT_NE(email.html.find("&amp;"), std::string::npos);
  EXPECT_EQ(email.html.find("'Co'"), std::string::npos);
  EXPECT_NE(email.html.find("https://shop.example.com/?a=1&amp;b=2"), std::string::npos);
  EXPECT_NE(email.html.find("https://blog.example.com"), std::string::npos);
  EXPECT_NE(email.html.find(kAcceptUrl), std::string::npos);
}

TEST(RenderInvitation, HtmlPartListsEveryTargetWithItsRole) {
  auto invitation = sample_invitation();
  invitation.targets.push_back(
      {domain::TargetKind::kWebsite, "Docs", "https://docs.example.com", domain::Role::kAdmin});
  auto email = render_invitation(invitation, kAcceptUrl);
  std::size_t previous = 0;
  for (const auto& target :
       {std::string("Shop &lt;b&gt;"), std::string("Blog"), std::string("Docs")}) {
    auto at = email.html.find(target, previous);
    ASSERT_NE(at, std::string::npos) << target;
    previous = at;
  }
  EXPECT_NE(email.html.find("admin"), std::string::npos);
  EXPECT_NE(email.html.find("viewer"), std::string::npos);
}

TEST(RenderInvitation, ListsGroupsWithoutUrl) {
  domain::Invitation invitation = sample_invitation();
  invitation.targets = {{domain::TargetKind::kGroup, "Marketing \"EU\"", "", domain::Role::kAdmin},
                        {domain::TargetKind::kGroup, "Sales", "", domain::Role::kViewer}};
  auto email = render_invitation(invitation, kAcceptUrl);
  EXPECT_NE(email.text.find("Marketing \"EU\""), std::string::npos) << email.text;
  EXPECT_NE(email.text.find("Sales"), std::string::npos);
  EXPECT_NE(email.html.find("Marketing &quot;EU&quot;"), std::string::npos) << email.html;
  EXPECT_NE(email.subject.find("2 groups"), std::string::npos) << email.subject;
}

TEST(RenderInvitation, SubjectNamesOrganizationAndCount) {
  auto email = render_invitation(sample_invitation(), kAcceptUrl);
  EXPECT_NE(email.subject.find("Acme <script>"), std::string::npos) << email.subject;
  EXPECT_NE(email.subject.find("2 websites"), std::string::npos) << email.subject;
}

TEST(RenderInvitation, StatesExpiry) {
  auto email = render_invitation(sample_invitation(), kAcceptUrl);
  EXPECT_EQ(web::human_date(1'795'823'716), "27 November 2026 at 23:55 UTC");
  EXPECT_NE(email.text.find("27 November 2026 at 23:55 UTC"), std::string::npos) << email.text;
  EXPECT_NE(email.html.find("27 November 2026 at 23:55 UTC"), std::string::npos);
}

TEST(RenderInvitation, GreetsByNameEscapedInHtml) {
  auto invitation = sample_invitation();
  invitation.first_name = "<Ann>";
  auto email = render_invitation(invitation, kAcceptUrl);
  EXPECT_NE(email.text.find("<Ann> Lee"), std::string::npos) << email.text;
  EXPECT_NE(email.html.find("&lt;Ann&gt; Lee"), std::string::npos);
  EXPECT_EQ(email.html.find("<Ann>"), std::string::npos);
}

TEST(HumanDate, DropsLeadingZeroOfDay) {
  EXPECT_EQ(web::human_date(0), "1 January 1970 at 00:00 UTC");
}

}  // namespace
}  // namespace invited::mail
