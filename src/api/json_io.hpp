#pragma once

#include <boost/json.hpp>
#include <optional>
#include <string_view>
#include <variant>
#include <vector>

#include "api/rate_limiter.hpp"
#include "domain/field_errors.hpp"
#include "domain/records.hpp"
#include "domain/result.hpp"
#include "domain/types.hpp"
#include "domain/uuid.hpp"
#include "http/message.hpp"

namespace invited::api {

// JSON in and out for every API handler, and the error body of SPEC §3.

http::Response json_response(int status, const boost::json::value& body);
// The same for a body already serialized.
http::Response json_text_response(int status, std::string body);

// {"success": false, "error", "code", "details"?}. A 503 also carries `retry-after: 1`.
http::Response error_response(int status, std::string_view code, std::string_view message,
                              const std::vector<domain::FieldError>& details = {});
// Maps a domain error to its status and code.
http::Response error_response(const domain::Error& error);
// 429 rate_limited with retry-after, for the budget named by `budget_name` ("per-minute
// request", "hourly invite").
http::Response rate_limited_response(const RateLimiter::Decision& decision,
                                     std::string_view budget_name);

// 400 validation_error listing every failing field.
http::Response validation_error(const domain::FieldErrors& errors);

// The body checks of SPEC §3 in order: size (413), media type (415), JSON (400 invalid_json:
// syntax, trailing data, not an object, nesting over 32). Returns the object or the response
// that rejects the request.
std::variant<boost::json::object, http::Response> read_json_object(const http::Request& request);

boost::json::string uuid_json(const domain::Uuid& id);
boost::json::string timestamp_json(domain::UnixSeconds seconds);
boost::json::value optional_json(const std::optional<std::string>& text);

// Typed reads of one field of a request object, for handlers that list every failing field.
// Each returns nullopt when the field is absent or null, and adds a message to `errors` when it
// has the wrong JSON type.
std::optional<std::string> string_field(const boost::json::object& body, std::string_view name,
                                        domain::FieldErrors& errors);
std::optional<std::vector<std::string>> string_array_field(const boost::json::object& body,
                                                           std::string_view name,
                                                           domain::FieldErrors& errors);
// Adds "is not a known field" for every key of `body` not in `known`; an empty key ("") is
// named as such, under the field "".
void reject_unknown_fields(const boost::json::object& body,
                           std::initializer_list<std::string_view> known,
                           domain::FieldErrors& errors);

}  // namespace invited::api
