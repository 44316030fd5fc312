#pragma once

// What every fuzz target asserts with: a failed property is a crash that libFuzzer reports and
// saves, like a sanitizer finding. Independent checks of text (UTF-8, lines), written here
// rather than borrowed from src/, so that a target does not judge the code with itself.

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace invited::fuzz {

// Stops the run with `what` when `ok` is false.
inline void check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "fuzz property failed: %s\n", what);
  std::abort();
}

// Strict UTF-8 (RFC 3629): no overlong forms, surrogates, or code points above U+10FFFF.
inline bool is_utf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    auto byte = static_cast<unsigned char>(text[i]);
    std::size_t length = 0;
    char32_t point = 0;
    char32_t minimum = 0;
    if (byte < 0x80) {
      ++i;
      continue;
    } else if ((byte & 0xe0) == 0xc0) {
      length = 2, point = byte & 0x1f, minimum = 0x80;
    } else if ((byte & 0xf0) == 0xe0) {
      length = 3, point = byte & 0x0f, minimum = 0x800;
    } else if ((byte & 0xf8) == 0xf0) {
      length = 4, point = byte & 0x07, minimum = 0x10000;
    } else {
      return false;
    }
    if (i + length > text.size()) return false;
    for (std::size_t k = 1; k < length; ++k) {
      auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xc0) != 0x80) return false;
      point = (point << 6) | (next & 0x3f);
    }
    if (point < minimum || point > 0x10ffff || (point >= 0xd800 && point <= 0xdfff)) return false;
    i += length;
  }
  return true;
}

// True if every byte is printable ASCII (0x20..0x7e).
inline bool is_printable_ascii(std::string_view text) {
  for (char c : text) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

// `text` split on CRLF. Callers check separately that no bare CR or LF is left in a line.
inline std::vector<std::string_view> crlf_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (true) {
    auto end = text.find("\r\n");
    lines.push_back(text.substr(0, end));
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 2);
  }
  return lines;
}

}  // namespace invited::fuzz
