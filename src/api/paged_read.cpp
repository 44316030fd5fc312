#include "api/paged_read.hpp"

#include <charconv>

namespace invited::api {
namespace json = boost::json;
namespace {

std::optional<std::int64_t> parse_integer(std::string_view text) {
  std::int64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// The value of `name` if it is a whole number within [low, high]; otherwise adds `message`.
std::optional<std::int64_t> bounded_integer(const http::Request& request, const char* name,
                                            std::int64_t low, std::int64_t high,
                                            const char* message, domain::FieldErrors& errors) {
  auto text = request.query_param(name);
  if (!text) return std::nullopt;
  auto value = parse_integer(*text);
  if (!value || *value < low || *value > high) {
    errors.add(name, message);
    return std::nullopt;
  }
  return value;
}

}  // namespace

domain::ListRequest read_list_request(const http::Request& request, domain::FieldErrors& errors) {
  const bool cursor_form = request.query_param("limit") || request.query_param("starting_after");
  if (cursor_form) {
    for (const char* name : {"page_num", "page_size"}) {
      if (request.query_param(name)) {
        errors.add(name,
                   "cannot be combined with limit or starting_after: use either the page form "
                   "(page_num, page_size) or the cursor form (limit, starting_after)");
      }
    }
    domain::CursorRequest cursor;
    if (auto limit = bounded_integer(request, "limit", 1, 100,
                                     "must be a whole number between 1 and 100", errors)) {
      cursor.limit = *limit;
    }
    if (auto text = request.query_param("starting_after")) {
      cursor.starting_after = domain::Uuid::parse(*text);
      if (!cursor.starting_after) {
        errors.add("starting_after",
                   "must be the id of the last item seen, a UUID such as "
                   "123e4567-e89b-12d3-a456-426614174000");
      }
    }
    return cursor;
  }
  domain::PageRequest page;
  if (auto num = bounded_integer(request, "page_num", 0, 1'000'000'000,
                                 "must be a whole number of at least 0", errors)) {
    page.num = *num;
  }
  if (auto size = bounded_integer(request, "page_size", 1, 100,
                                  "must be a whole number between 1 and 100", errors)) {
    page.size = *size;
  }
  return page;
}

json::object list_body(std::string_view items_name, json::array items,
                       const domain::ListRequest& request, std::int64_t total, bool has_more) {
  json::object body;
  body[items_name] = std::move(items);
  if (const auto* page = std::get_if<domain::PageRequest>(&request)) {
    body["page_num"] = page->num;
    body["page_size"] = page->size;
    body["total"] = total;
  } else {
    body["has_more"] = has_more;
  }
  return body;
}

http::Response unknown_cursor_response(std::string_view what) {
  domain::FieldErrors errors;
  errors.add("starting_after",
             "must be " + std::string(what) + ", as the last item of a page of it shows");
  return validation_error(errors);
}

}  // namespace invited::api
