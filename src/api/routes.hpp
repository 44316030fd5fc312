#pragma once

#include "api/endpoint.hpp"
#include "http/router.hpp"
#include "http/server.hpp"

namespace invited::api {

// Each resource file registers its own endpoints.
void register_invites_bulk(http::Router& router, Services& services);
void register_websites(http::Router& router, Services& services);
void register_groups(http::Router& router, Services& services);
void register_members(http::Router& router, Services& services);
void register_invites(http::Router& router, Services& services);
void register_api_keys(http::Router& router, Services& services);
void register_ops(http::Router& router, Services& services);
// GET /metrics alone; register_ops registers it too unless services.metrics_on_own_listener.
void register_metrics(http::Router& router, Services& services);
void register_accept_pages(http::Router& router, Services& services);
void register_invitations(http::Router& router, Services& services);
void register_webhook_endpoints(http::Router& router, Services& services);
void register_events(http::Router& router, Services& services);
// POST /_test/clock, in test builds only (src/api/test_clock.cpp); does nothing otherwise.
void register_test_clock(http::Router& router);

// How a token endpoint answers: an HTML page (the pages under /invites/) or JSON.
enum class TokenAnswer { kPage, kJson };

// Wraps a token endpoint (accept and decline pages, JSON accept) in the per-client-address
// budget of --token-limit-per-minute: over it, 429 with Retry-After, as a page or as JSON
// `rate_limited`, before anything else is checked.
http::Handler throttled_token_endpoint(Services& services, TokenAnswer answer,
                                       http::Handler handler);

// Registers every endpoint of the service.
void register_all(http::Router& router, Services& services);

// Answers for unknown routes and methods and for refused connections: JSON, or an HTML page
// for paths under /invites/.
http::Fallbacks json_fallbacks();

}  // namespace invited::api
