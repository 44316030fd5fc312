#pragma once

#include <string>
#include <string_view>

namespace invited::log {

// Text from a request (a path, a header) may hold any bytes; JSON text must be UTF-8 (RFC 8259
// §8.1). These make any byte string well-formed UTF-8 by replacing each ill-formed sequence
// (a stray continuation byte, a truncated or overlong sequence, a surrogate, a code point above
// U+10FFFF) with U+FFFD, as WHATWG's decoder does. Well-formed text passes unchanged.

// Appends `text` to `out`, repaired.
void append_valid_utf8(std::string& out, std::string_view text);

// `text`, repaired.
std::string valid_utf8(std::string_view text);

// The length of the well-formed UTF-8 sequence at the start of `text`, or 0 if it is ill-formed
// (or `text` is empty).
std::size_t utf8_sequence_length(std::string_view text);

}  // namespace invited::log
