#pragma once

#include <cstddef>
#include <string_view>

namespace invited::domain {

// Text checks on UTF-8 strings that the JSON parser has already proven well-formed.

// True if `text` holds a C0 control, DEL or a C1 control (U+0080..U+009F).
bool has_control_characters(std::string_view text);

// Number of Unicode code points in well-formed UTF-8.
std::size_t count_code_points(std::string_view text);

// `text` without leading and trailing ASCII whitespace.
std::string_view trim_ascii_whitespace(std::string_view text);

// A name as people type it: at most `max_code_points`, no control characters.
bool is_valid_name(std::string_view text, std::size_t max_code_points = 100);

}  // namespace invited::domain
