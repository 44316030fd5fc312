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
void register_accept_pages(http::Router& router, Services& services);
void register_invitations(http::Router& router, Services& services);

// Registers every endpoint of the service.
void register_all(http::Router& router, Services& services);

// Answers for unknown routes and methods and for refused connections: JSON, or an HTML page
// for paths under /invites/.
http::Fallbacks json_fallbacks();

}  // namespace invited::api
