#include "api/routes.hpp"

#include "api/json_io.hpp"

namespace invited::api {

void register_all(http::Router& router, Services& services) {
  register_ops(router, services);
  register_websites(router, services);
  register_groups(router, services);
  register_invites_bulk(router, services);
}

http::Fallbacks json_fallbacks() {
  return http::Fallbacks{
      .not_found =
          [](const http::Request& request) {
            return error_response(404, "not_found", "no route for " + request.path);
          },
      .method_not_allowed =
          [](const http::Request& request, const std::string& allow) {
            return error_response(405, "method_not_allowed",
                                  request.method_text + " is not allowed on " + request.route +
                                      "; use " + allow);
          },
      .unavailable =
          [](const http::Request&) {
            auto response = error_response(503, "unavailable",
                                           "the server has too many open connections; retry shortly");
            response.headers.emplace_back("retry-after", "1");
            return response;
          },
  };
}

}  // namespace invited::api
