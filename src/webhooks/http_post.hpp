#pragma once

#include <cstdint>
#include <optional>
#include <stop_token>
#include <string>
#include <utility>
#include <vector>

namespace invited::webhooks {

// The answer to one webhook POST, or why none came.
struct PostResult {
  std::optional<int> status_code;  // the HTTP status, when an answer came
  std::string error;               // empty on a 2xx; else what went wrong, with a body excerpt
  std::int64_t duration_ms = 0;
  bool succeeded() const { return status_code && *status_code >= 200 && *status_code < 300; }
};

struct PostOptions {
  std::int64_t timeout_ms = 10'000;  // the whole exchange, connecting included
  // Connect to loopback, private, link-local and other non-public addresses too
  // (--webhook-allow-insecure). Off: such an address is refused when the connection is made,
  // whatever name resolved to it (domain::is_public_address).
  bool allow_insecure = false;
};

// POSTs `body` (JSON) with `headers` ("name: value") to `url` over libcurl: no redirects
// followed (a 3xx is an answer like any non-2xx), no proxy, http and https only, at most
// `timeout_ms`, the answer's body read to at most 64 KiB and kept as a 200-byte excerpt. Every
// address the connection tries is checked in CURLOPT_OPENSOCKETFUNCTION, the one place that
// sees the address actually connected to. Aborted soon after `stop` is requested. Thread-safe
// (one easy handle per call); curl_global_init must have run.
PostResult post_webhook(const std::string& url, const std::vector<std::string>& headers,
                        const std::string& body, const PostOptions& options, std::stop_token stop);

}  // namespace invited::webhooks
