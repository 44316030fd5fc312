#include "api/json_io.hpp"

#include <algorithm>
#include <boost/json/basic_parser_impl.hpp>

#include "log/utf8.hpp"

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

// A Boost.JSON parser handler that builds the value as json::parser does (a value_stack) and
// also refuses a key repeated within one object (RFC 8259 leaves that to the receiver; SPEC §3
// refuses it, so a gateway reading the first value and this service reading the last can never
// see two different requests). Keys of the open objects are kept in one buffer; each object's
// keys are checked when it closes (sorted, so an object of n keys costs n log n).
class DuplicateCheckingHandler {
 public:
  static constexpr std::size_t max_object_size = json::object::max_size();
  static constexpr std::size_t max_array_size = json::array::max_size();
  static constexpr std::size_t max_key_size = json::string::max_size();
  static constexpr std::size_t max_string_size = json::string::max_size();

  explicit DuplicateCheckingHandler(json::storage_ptr storage) : stack(std::move(storage)) {}

  json::value_stack stack;
  std::string duplicate_key;  // set when parsing stopped at a repeated key

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_object_begin(json::error_code&) {
    frames_.push_back(keys_.size());
    return true;
  }
  bool on_object_end(std::size_t n, json::error_code& ec) {
    const std::size_t first = frames_.back();
    frames_.pop_back();
    if (keys_.size() - first > 1) {
      sorted_.assign(keys_.begin() + static_cast<std::ptrdiff_t>(first), keys_.end());
      std::sort(sorted_.begin(), sorted_.end(),
                [this](const KeySpan& a, const KeySpan& b) { return text(a) < text(b); });
      for (std::size_t i = 1; i < sorted_.size(); ++i) {
        if (text(sorted_[i]) == text(sorted_[i - 1])) {
          duplicate_key = std::string(text(sorted_[i]));
          ec = json::error::syntax;
          return false;
        }
      }
    }
    key_text_.resize(first == keys_.size() ? key_text_.size() : keys_[first].offset);
    keys_.resize(first);
    stack.push_object(n);
    return true;
  }
  bool on_array_begin(json::error_code&) { return true; }
  bool on_array_end(std::size_t n, json::error_code&) {
    stack.push_array(n);
    return true;
  }
  bool on_key_part(json::string_view s, std::size_t, json::error_code&) {
    if (!key_open_) begin_key();
    key_text_.append(s.data(), s.size());
    stack.push_chars(s);
    return true;
  }
  bool on_key(json::string_view s, std::size_t, json::error_code&) {
    if (!key_open_) begin_key();
    key_text_.append(s.data(), s.size());
    keys_.back().length = key_text_.size() - keys_.back().offset;
    key_open_ = false;
    stack.push_key(s);
    return true;
  }
  bool on_string_part(json::string_view s, std::size_t, json::error_code&) {
    stack.push_chars(s);
    return true;
  }
  bool on_string(json::string_view s, std::size_t, json::error_code&) {
    stack.push_string(s);
    return true;
  }
  bool on_number_part(json::string_view, json::error_code&) { return true; }
  bool on_int64(std::int64_t i, json::string_view, json::error_code&) {
    stack.push_int64(i);
    return true;
  }
  bool on_uint64(std::uint64_t u, json::string_view, json::error_code&) {
    stack.push_uint64(u);
    return true;
  }
  bool on_double(double d, json::string_view, json::error_code&) {
    stack.push_double(d);
    return true;
  }
  bool on_bool(bool b, json::error_code&) {
    stack.push_bool(b);
    return true;
  }
  bool on_null(json::error_code&) {
    stack.push_null();
    return true;
  }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }

 private:
  struct KeySpan {
    std::size_t offset;
    std::size_t length;
  };
  std::string_view text(const KeySpan& key) const {
    return std::string_view(key_text_).substr(key.offset, key.length);
  }
  void begin_key() {
    keys_.push_back({key_text_.size(), 0});
    key_open_ = true;
  }

  std::vector<std::size_t> frames_;  // per open object: index of its first key in keys_
  std::vector<KeySpan> keys_;        // keys of the open objects, innermost last
  std::string key_text_;             // their characters
  std::vector<KeySpan> sorted_;      // scratch
  bool key_open_ = false;
};

// Parses `text` as one JSON document into `storage`. On failure returns null and sets `error`
// to a sentence saying what is wrong.
json::value parse_strict(std::string_view text, const json::parse_options& options,
                         json::storage_ptr storage, std::string& error) {
  json::basic_parser<DuplicateCheckingHandler> parser(options, json::storage_ptr());
  parser.handler().stack.reset(std::move(storage));
  json::error_code code;
  std::size_t used = parser.write_some(false, text.data(), text.size(), code);
  if (!code && used < text.size()) code = json::error::extra_data;
  if (!code && !parser.done()) code = json::error::incomplete;
  if (code) {
    const std::string& key = parser.handler().duplicate_key;
    error = key.empty() ? code.message() : "the key \"" + key + "\" appears twice in one object";
    return nullptr;
  }
  return parser.handler().stack.release();
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
  // Messages may quote the request (a path, a field name), which may hold any bytes: repaired
  // here, where they enter JSON, so every error body is valid UTF-8.
  json::object body;
  body["success"] = false;
  body["error"] = log::valid_utf8(message);
  body["code"] = code;
  if (!details.empty()) {
    json::array items;
    items.reserve(details.size());
    for (const auto& detail : details) {
      items.push_back(json::object{{"field", log::valid_utf8(detail.field)},
                                   {"message", log::valid_utf8(detail.message)}});
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
  std::string error;
  // One arena per request body: the parsed tree is freed in one go with the request.
  json::value value = parse_strict(request.body, options,
                                   json::make_shared_resource<json::monotonic_resource>(), error);
  if (!error.empty()) {
    return error_response(400, "invalid_json", "request body is not valid JSON: " + error);
  }
  if (!value.is_object()) {
    return error_response(400, "invalid_json", "request body must be one JSON object");
  }
  return std::move(value.as_object());
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
    if (entry.key().empty()) {
      errors.add("", "a field name is empty (the key \"\"): remove it");
    } else if (std::find(known.begin(), known.end(), entry.key()) == known.end()) {
      errors.add(std::string(entry.key()), "is not a known field");
    }
  }
}

}  // namespace invited::api
