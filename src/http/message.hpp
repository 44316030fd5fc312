#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace invited::http {

// The request and response types that the rest of the service sees. They carry no Boost.Beast
// types, so handlers compile without the networking headers.

enum class Method { kGet, kHead, kPost, kPut, kPatch, kDelete, kOptions, kOther };

std::string_view method_name(Method method);

struct Request {
  Method method = Method::kOther;
  std::string method_text;
  std::string target;  // as sent: path and query
  std::string path;    // percent-decoding is left to handlers (ids never need it)
  std::string query;   // after '?', without it
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-case
  std::string body;
  // The body was larger than the limit and was not read; the connection closes after the reply.
  bool body_too_large = false;
  std::string request_id;
  std::string route;                     // the matched pattern, e.g. /api/v1/websites/{id}
  std::vector<std::string> path_params;  // values of the pattern's {placeholders}, in order

  // The first header called `name` (lower-case), if any.
  std::optional<std::string_view> header(std::string_view name) const;
  // The value of `name` in the query string, percent-decoded; nullopt if absent.
  std::optional<std::string> query_param(std::string_view name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  // Extra headers. Values come from the service itself, never raw from a request.
  std::vector<std::pair<std::string, std::string>> headers;
  bool close_connection = false;
  // For the access log only; never sent. The API key id that made the request, if any.
  std::string log_key_id;
};

// Hands a handler's response back to the connection. Call exactly once, from any thread.
using Respond = std::function<void(Response)>;

// Serves one request. `request` stays valid until `respond` is called.
using Handler = std::function<void(Request& request, Respond respond)>;

// Decodes %XX escapes and '+' (as in application/x-www-form-urlencoded). Returns nullopt for a
// malformed escape.
std::optional<std::string> percent_decode(std::string_view text);

// The value of `name` in an `a=1&b=2` string, percent-decoded; nullopt if absent or malformed.
std::optional<std::string> form_value(std::string_view form, std::string_view name);

}  // namespace invited::http
