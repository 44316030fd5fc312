#include "domain/text.hpp"

namespace invited::domain {

bool has_control_characters(std::string_view text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    auto byte = static_cast<unsigned char>(text[i]);
    if (byte < 0x20 || byte == 0x7f) return true;
    // U+0080..U+009F encode as C2 80..C2 9F.
    if (byte == 0xc2 && i + 1 < text.size()) {
      auto next = static_cast<unsigned char>(text[i + 1]);
      if (next >= 0x80 && next <= 0x9f) return true;
    }
  }
  return false;
}

namespace {

// Decodes the code point at `i`, advancing `i`; -1 for malformed UTF-8.
long decode(std::string_view text, std::size_t& i) {
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  unsigned char lead = byte(i);
  int length = lead < 0x80           ? 1
               : (lead >> 5) == 0x6  ? 2
               : (lead >> 4) == 0xe  ? 3
               : (lead >> 3) == 0x1e ? 4
                                     : 0;
  if (length == 0 || i + static_cast<std::size_t>(length) > text.size()) {
    ++i;
    return -1;
  }
  long code = length == 1 ? lead : lead & (0x7f >> length);
  for (int k = 1; k < length; ++k) {
    unsigned char next = byte(i + static_cast<std::size_t>(k));
    if ((next & 0xc0) != 0x80) {
      ++i;
      return -1;
    }
    code = (code << 6) | (next & 0x3f);
  }
  static constexpr long kMinimum[] = {0, 0, 0x80, 0x800, 0x10000};
  i += static_cast<std::size_t>(length);
  if (code < kMinimum[length] || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return -1;
  return code;
}

}  // namespace

bool is_well_formed_utf8(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    if (decode(text, i) < 0) return false;
  }
  return true;
}

bool has_unicode_whitespace(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    long code = decode(text, i);
    if (code == 0x85 || code == 0xa0 || code == 0x1680 || code == 0x180e ||
        (code >= 0x2000 && code <= 0x200b) || code == 0x2028 || code == 0x2029 || code == 0x202f ||
        code == 0x205f || code == 0x3000 || code == 0xfeff) {
      return true;
    }
  }
  return false;
}

bool has_display_controls(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    long code = decode(text, i);
    if ((code >= 0x202a && code <= 0x202e) || (code >= 0x2066 && code <= 0x2069) ||
        code == 0x2028 || code == 0x2029) {
      return true;
    }
  }
  return false;
}

std::size_t count_code_points(std::string_view text) {
  std::size_t count = 0;
  for (char c : text) {
    if ((static_cast<unsigned char>(c) & 0xc0) != 0x80) ++count;
  }
  return count;
}

std::string_view trim_ascii_whitespace(std::string_view text) {
  constexpr std::string_view kWhitespace = " \t\r\n\f\v";
  auto first = text.find_first_not_of(kWhitespace);
  if (first == std::string_view::npos) return {};
  auto last = text.find_last_not_of(kWhitespace);
  return text.substr(first, last - first + 1);
}

bool is_valid_name(std::string_view text, std::size_t max_code_points) {
  return is_well_formed_utf8(text) && count_code_points(text) <= max_code_points &&
         !has_control_characters(text) && !has_display_controls(text);
}

}  // namespace invited::domain
