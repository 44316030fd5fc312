// Fuzzes the form and query decoder: http::percent_decode, http::form_value (the accept
// pages' form posts) and Request::query_param with read_page (every list endpoint's query).
// The input is used twice:
// - raw, as a query string and a form body: nothing crashes; percent_decode fails exactly on
//   a '%' without two hex digits and otherwise returns one byte per escape or other byte;
//   page_num and page_size are within their limits or named in the errors;
// - as lines "key\nvalue\nkey\nvalue...": encoded the way a browser encodes a form and
//   decoded again, every key gives back the value of its first pair, and an absent key none.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "api/json_io.hpp"
#include "api/paged_read.hpp"
#include "fuzz_check.hpp"
#include "http/message.hpp"

namespace {

using namespace invited;
using fuzz::check;

bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// Whether every '%' of `text` starts a %XX escape.
bool escapes_are_complete(std::string_view text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') continue;
    if (i + 2 >= text.size() || !is_hex(text[i + 1]) || !is_hex(text[i + 2])) return false;
    i += 2;
  }
  return true;
}

// application/x-www-form-urlencoded as a browser writes it: unreserved bytes as they are,
// space as '+', everything else %XX.
std::string form_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out += c;
    } else if (c == ' ') {
      out += '+';
    } else {
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 0x0f];
    }
  }
  return out;
}

// A key as the service's names are: letters, digits and '_' (anything else is dropped).
std::string key_of(std::string_view text) {
  std::string key;
  for (char c : text) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_') {
      key += c;
    }
  }
  return key;
}

void check_raw(std::string_view input) {
  auto decoded = http::percent_decode(input);
  check(decoded.has_value() == escapes_are_complete(input),
        "percent_decode fails exactly on an incomplete escape");
  if (decoded) {
    std::size_t escapes = 0;
    for (std::size_t i = 0; i < input.size(); ++i) {
      if (input[i] == '%') ++escapes, i += 2;
    }
    check(decoded->size() == input.size() - 2 * escapes, "one byte per escape or other byte");
  }

  for (std::string_view name : {"token", "page_num", "page_size", "status", "email", ""}) {
    auto value = http::form_value(input, name);
    if (value) check(value->size() <= input.size(), "a value is no longer than the form");
  }

  http::Request request;
  request.query = std::string(input);
  domain::FieldErrors errors;
  auto list = api::read_list_request(request, errors);
  if (!errors.empty()) return;
  if (const auto* page = std::get_if<domain::PageRequest>(&list)) {
    check(page->num >= 0 && page->num <= 1'000'000'000, "page_num is within its limits");
    check(page->size >= 1 && page->size <= 100, "page_size is within its limits");
  } else {
    const auto& cursor = std::get<domain::CursorRequest>(list);
    check(cursor.limit >= 1 && cursor.limit <= 100, "limit is within its limits");
  }
}

void check_round_trip(std::string_view input) {
  std::vector<std::pair<std::string, std::string>> pairs;
  std::vector<std::string_view> lines;
  while (true) {
    auto end = input.find('\n');
    lines.push_back(input.substr(0, end));
    if (end == std::string_view::npos) break;
    input.remove_prefix(end + 1);
  }
  for (std::size_t i = 0; i + 1 < lines.size(); i += 2) {
    pairs.emplace_back(key_of(lines[i]), std::string(lines[i + 1]));
  }
  std::string form;
  for (const auto& [key, value] : pairs) {
    if (!form.empty()) form += '&';
    form += key + "=" + form_encode(value);
  }
  for (const auto& [key, value] : pairs) {
    std::optional<std::string> expected;
    for (const auto& [other_key, other_value] : pairs) {
      if (other_key == key) {
        expected = other_value;
        break;
      }
    }
    check(http::form_value(form, key) == expected, "a form key decodes to its first value");
  }
  check(!http::form_value(form, "absent-key"), "an absent key has no value");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  check_raw(input);
  check_round_trip(input);
  return 0;
}
