#include "api/json_io.hpp"

#include <algorithm>
#include <charconv>

namespace invited::api {
namespace json = boost::json;

namespace {

constexpr std::size_t kBodyLimit = 64 * 1024;
constexpr int kMaxDepth = 32;

bool is_json_media_type(std::string_view value) {
  auto semicolon = value.find(';');
  std::string_view type = value.substr(0, semicolon);
  while (!type.empty() && type.back() == ' ') type.remove_suffix(1);
  while (!type.empty() && type.front() == ' ') type.remove_prefix(1);
  constexpr std::string_view kJson = "application/json";
  return type.size() == kJson.size() &&
         std::equal(type.begin(), type.end(), kJson.begin(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == b;
         });
}

int status_of(domain::ErrorCode code) {
  switch (code) {
    case domain::ErrorCode::kValidation:
      return 400;
    case domain::ErrorCode::kUnauthorized:
      return 401;
    case domain::ErrorCode::kGlobalKeyRequired:
    case domain::ErrorCode::kForbidden:
      return 403;
    case domain::ErrorCode::kNotFound:
      return 404;
    case domain::ErrorCode::kConflict:
      return 409;
    case domain::ErrorCode::kGone:
      return 410;
    case domain::ErrorCode::kInternal:
      return 500;
    case domain::ErrorCode::kUnavailable:
      return 503;
  }
  return 500;
}

std::string_view code_name(domain::ErrorCode code) {
  switch (code) {
    case domain::ErrorCode::kValidation:
      return "validation_error";
    case domain::ErrorCode::kUnauthorized:
      return "unauthorized";
    case domain::ErrorCode::kGlobalKeyRequired:
      return "global_key_required";
    case domain::ErrorCode::kForbidden:
      return "forbidden";
    case domain::ErrorCode::kNotFound:
      return "not_found";
    case domain::ErrorCode::kConflict:
      return "conflict";
    case domain::ErrorCode::kGone:
      return "gone";
    case domain::ErrorCode::kInternal:
      return "internal_error";
    case domain::ErrorCode::kUnavailable:
      return "unavailable";
  }
  return "internal_error";
}

std::optional<std::int64_t> parse_integer(std::string_view text) {
  std::int64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

http::Response json_response(int status, const json::value& body) {
  return json_text_response(status, json::serialize(body));
}

http::Response json_text_response(int status, std::string body) {
  http::Response response;
  response.status = status;
  response.body = std::move(body);
  response.headers.emplace_back("cache-control", "no-store");
  return response;
}

http::Response error_response(int status, std::string_view code, std::string_view message,
                              const std::vector<domain::FieldError>& details) {
  json::object body;
  body["success"] = false;
  body["error"] = message;
  body["code"] = code;
  if (!details.empty()) {
    json::array items;
    items.reserve(details.size());
    for (const auto& detail : details) {
      items.push_back(json::object{{"field", detail.field}, {"message", detail.message}});
    }
    body["details"] = std::move(items);
  }
  auto response = json_response(status, body);
  // SPEC §3: every 503 (overloaded, shutting down, storage unavailable) says when to retry.
  if (status == 503) response.headers.emplace_back("retry-after", "1");
  return response;
}

http::Response error_response(const domain::Error& error) {
  int status = status_of(error.code);
  // A 500 never shows internals: the request id in the header is what support needs.
  std::string_view message = status == 500 ? "internal error; quote the x-request-id to support"
                                           : std::string_view(error.message);
  return error_response(status, code_name(error.code), message);
}

http::Response rate_limited_response(const RateLimiter::Decision& decision,
                                     std::string_view budget_name) {
  auto response = error_response(429, "rate_limited",
                                 "this organization has used its " + std::string(budget_name) +
                                     " budget; retry after " +
                                     std::to_string(decision.retry_after) + " seconds");
  response.headers.emplace_back("retry-after", std::to_string(decision.retry_after));
  return response;
}

http::Response validation_error(const domain::FieldErrors& errors) {
  return error_response(400, "validation_error", errors.summary(), errors.all());
}

std::variant<json::object, http::Response> read_json_object(const http::Request& request) {
  if (request.body_too_large || request.body.size() > kBodyLimit) {
    return error_response(413, "payload_too_large", "request body is larger than 64 KiB");
  }
  auto content_type = request.header("content-type");
  if (!content_type || !is_json_media_type(*content_type)) {
    return error_response(415, "unsupported_media_type",
                          "send the body as JSON with Content-Type: application/json");
  }
  json::parse_options options;
  options.max_depth = kMaxDepth;
  boost::system::error_code error;
  // One arena per request body: the parsed tree is freed in one go with the request.
  json::value value = json::parse(request.body, error,
                                  json::make_shared_resource<json::monotonic_resource>(), options);
  if (error) {
    return error_response(400, "invalid_json",
                          "request body is not valid JSON: " + error.message());
  }
  if (!value.is_object()) {
    return error_response(400, "invalid_json", "request body must be one JSON object");
  }
  return std::move(value.as_object());
}

domain::PageRequest read_page(const http::Request& request, domain::FieldErrors& errors) {
  domain::PageRequest page;
  if (auto text = request.query_param("page_num")) {
    auto value = parse_integer(*text);
    if (!value || *value < 0 || *value > 1'000'000'000) {
      errors.add("page_num", "must be a whole number of at least 0");
    } else {
      page.num = *value;
    }
  }
  if (auto text = request.query_param("page_size")) {
    auto value = parse_integer(*text);
    if (!value || *value < 1 || *value > 100) {
      errors.add("page_size", "must be a whole number between 1 and 100");
    } else {
      page.size = *value;
    }
  }
  return page;
}

json::object page_body(std::string_view items_name, json::array items, domain::PageRequest page,
                       std::int64_t total) {
  json::object body;
  body[items_name] = std::move(items);
  body["page_num"] = page.num;
  body["page_size"] = page.size;
  body["total"] = total;
  return body;
}

json::string uuid_json(const domain::Uuid& id) {
  char text[36];
  id.write(text);
  return json::string(std::string_view(text, sizeof text));
}

json::string timestamp_json(domain::UnixSeconds seconds) {
  return json::string(domain::format_timestamp(seconds));
}

json::value optional_json(const std::optional<std::string>& text) {
  if (!text) return nullptr;
  return json::string(*text);
}

std::optional<std::string> string_field(const json::object& body, std::string_view name,
                                        domain::FieldErrors& errors) {
  auto it = body.find(name);
  if (it == body.end() || it->value().is_null()) return std::nullopt;
  if (!it->value().is_string()) {
    errors.add(std::string(name), "must be a string");
    return std::nullopt;
  }
  return std::string(it->value().get_string());
}

std::optional<std::vector<std::string>> string_array_field(const json::object& body,
                                                           std::string_view name,
                                                           domain::FieldErrors& errors) {
  auto it = body.find(name);
  if (it == body.end() || it->value().is_null()) return std::nullopt;
  if (!it->value().is_array()) {
    errors.add(std::string(name), "must be an array of UUID strings");
    return std::nullopt;
  }
  const auto& array = it->value().get_array();
  std::vector<std::string> items;
  items.reserve(array.size());
  bool all_strings = true;
  for (std::size_t i = 0; i < array.size(); ++i) {
    if (!array[i].is_string()) {
      errors.add(std::string(name) + "[" + std::to_string(i) + "]", "must be a UUID string");
      all_strings = false;
      continue;
    }
    items.emplace_back(array[i].get_string());
  }
  if (!all_strings) return std::nullopt;
  return items;
}

void reject_unknown_fields(const json::object& body, std::initializer_list<std::string_view> known,
                           domain::FieldErrors& errors) {
  for (const auto& entry : body) {
    if (std::find(known.begin(), known.end(), entry.key()) == known.end()) {
      errors.add(std::string(entry.key()), "is not a known field");
    }
  }
}

}  // namespace invited::api
