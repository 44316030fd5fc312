#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "http/message.hpp"

namespace invited::http {

// Cross-origin access for browser pages served from other origins (--cors-origins; the CORS
// protocol of the Fetch standard), for paths under /api/ only. Credentials are never allowed:
// the API key travels in x-api-key, which the page's own code sends. Immutable once parsed;
// safe to share between threads.
class CorsPolicy {
 public:
  // What a preflight allows a page to send, and what an answer lets it read.
  static constexpr std::string_view kAllowedHeaders = "content-type, x-api-key, idempotency-key";
  static constexpr std::string_view kExposedHeaders =
      "x-request-id, x-rate-limit-limit, x-rate-limit-remaining, x-rate-limit-reset, retry-after";
  // How long a browser may reuse a preflight's answer (Chromium caps it at 7200 s).
  static constexpr int kMaxAgeSeconds = 7200;

  // Parses a comma-separated list such as "https://app.example.com, http://localhost:3000".
  // Each origin is scheme://host[:port]: scheme http or https, a host name or IP address (IPv6
  // in brackets), an optional port 1-65535; no path (not even "/"), query, fragment, user info
  // or wildcard. Scheme and host compare case-insensitively and a default port (:80, :443) is the
  // same as none. A blank list allows no origin: CORS is off. Returns the policy, or a message
  // that names the first bad entry and says what to fix.
  static std::variant<CorsPolicy, std::string> parse(std::string_view list);

  CorsPolicy() = default;

  bool enabled() const { return !origins_.empty(); }

  // The answer to a preflight: an OPTIONS request to a path under /api/ that has routes (their
  // methods are `allow`, the route's Allow header) from an allowed Origin: 204 with
  // access-control-allow-origin (that origin), -allow-methods (`allow`), -allow-headers,
  // -max-age and vary: origin. nullopt for any other request, which is answered as without CORS.
  std::optional<Response> preflight(const Request& request, std::string_view allow) const;

  // The headers of an actual answer: for a request to a path under /api/ from an allowed Origin,
  // access-control-allow-origin (that origin) and access-control-expose-headers; while CORS is
  // on, vary: origin on every answer under /api/, so no cache serves one origin's answer to
  // another. An answer that already allows an origin (a preflight's) is left as it is.
  void add_headers(const Request& request, Response& response) const;

 private:
  // The allowed origin a request names in its Origin header, as the request spelled it.
  std::optional<std::string> allowed_origin(const Request& request) const;

  std::vector<std::string> origins_;  // normalized: lower-case, without a default port
};

}  // namespace invited::http
