#include "api/routes.hpp"

#include "api/html_io.hpp"
#include "api/json_io.hpp"
#include "web/pages.hpp"

namespace invited::api {

void register_all(http::Router& router, Services& services) {
  register_ops(router, services);
  register_websites(router, services);
  register_groups(router, services);
  register_members(router, services);
  register_invites(router, services);
  register_api_keys(router, services);
  register_invites_bulk(router, services);
  register_invitations(router, services);
  register_accept_pages(router, services);
  register_webhook_endpoints(router, services);
  register_events(router, services);
  register_test_clock(router);
}

namespace {

bool is_page(const http::Request& request) { return request.path.rfind("/invites/", 0) == 0; }

}  // namespace

http::Fallbacks json_fallbacks() {
  return http::Fallbacks{
      .not_found =
          [](const http::Request& request) {
            if (is_page(request)) {
              return page_response(
                  404, web::message_page("Page not found", "There is no page at this address."));
            }
            return error_response(404, "not_found", "no route for " + request.path);
          },
      .method_not_allowed =
          [](const http::Request& request, const std::string& allow) {
            if (is_page(request)) {
              return page_response(405, web::message_page("Method not allowed",
                                                          "This page only answers " + allow + "."));
            }
            return error_response(
                405, "method_not_allowed",
                request.method_text + " is not allowed on " + request.route + "; use " + allow);
          },
      .unavailable =
          [](const http::Request&, http::Fallbacks::Unavailable why) {
            return error_response(
                503, "unavailable",
                why == http::Fallbacks::Unavailable::kClientConnections
                    ? "this client has too many open connections; close some or retry shortly"
                    : "the server has too many open connections; retry shortly");
          },
  };
}

}  // namespace invited::api
