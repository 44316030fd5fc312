#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
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
  // The client's IP address: the peer's, or, when the peer is a trusted proxy, the one its
  // X-Forwarded-For names (TrustedProxies::client_address). Per-client limits use it.
  std::string client_address;
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

// Decides on a request's header alone, before its body is read, whether the body is wanted:
// calls `done` exactly once, from any thread, with nullopt to go on or with the response that
// refuses the request (the body is then never read). Used for `Expect: 100-continue`.
using HeaderCheck =
    std::function<void(Request& request, std::function<void(std::optional<Response>)> done)>;

// Serves one request: `serve(request, respond)`; `request` stays valid until `respond` is
// called. `check_header`, when set, runs first for requests that send `Expect: 100-continue`.
// Any callable of (Request&, Respond) converts to a Handler without a header check.
struct Handler {
  using Serve = std::function<void(Request& request, Respond respond)>;

  Handler() = default;
  template <typename F>
  requires(!std::is_same_v<std::decay_t<F>, Handler> && std::is_invocable_v<F&, Request&, Respond>)
      Handler(F serve_function)  // NOLINT(google-explicit-constructor): handlers are callables
      : serve(std::move(serve_function)) {}
  Handler(Serve serve_function, HeaderCheck header_check)
      : serve(std::move(serve_function)), check_header(std::move(header_check)) {}

  void operator()(Request& request, Respond respond) const { serve(request, std::move(respond)); }

  Serve serve;
  HeaderCheck check_header;
};

// Decodes %XX escapes and '+' (as in application/x-www-form-urlencoded). Returns nullopt for a
// malformed escape.
std::optional<std::string> percent_decode(std::string_view text);

// The value of `name` in an `a=1&b=2` string, percent-decoded; nullopt if absent or malformed.
std::optional<std::string> form_value(std::string_view form, std::string_view name);

}  // namespace invited::http
