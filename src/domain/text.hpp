#pragma once

#include <cstddef>
#include <string_view>

namespace invited::domain {

// Text checks on UTF-8 strings that the JSON parser has already proven well-formed.

// True if `text` holds a C0 control, DEL or a C1 control (U+0080..U+009F).
bool has_control_characters(std::string_view text);

// True if `text` holds Unicode whitespace beyond ASCII: U+0085, U+00A0, U+1680, U+2000..U+200A,
// U+2028, U+2029, U+202F, U+205F, U+3000, and the zero-width U+180E, U+200B, U+FEFF.
bool has_unicode_whitespace(std::string_view text);

// True if `text` is well-formed UTF-8 (no stray continuation bytes, overlong forms,
// surrogates, or code points above U+10FFFF).
bool is_well_formed_utf8(std::string_view text);

// Number of Unicode code points in well-formed UTF-8.
std::size_t count_code_points(std::string_view text);

// `text` without leading and trailing ASCII whitespace.
std::string_view trim_ascii_whitespace(std::string_view text);

// True if `text` holds a character that changes how the text around it is displayed without
// being visible itself: the bidirectional embeddings, overrides and isolates (U+202A..U+202E,
// U+2066..U+2069) and the line and paragraph separators (U+2028, U+2029). In a name they can
// make an email or a page read differently from what was stored.
bool has_display_controls(std::string_view text);

// A name as people type it: well-formed UTF-8, at most `max_code_points`, no control
// characters and no display controls.
bool is_valid_name(std::string_view text, std::size_t max_code_points = 100);

}  // namespace invited::domain
