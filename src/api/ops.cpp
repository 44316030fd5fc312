// Operations endpoints: /healthz, /readyz, /metrics, /openapi.json. No API key.
#include <boost/json.hpp>

#include "api/json_io.hpp"
#include "api/routes.hpp"

namespace invited::api {
namespace json = boost::json;

// docs/<name>, compiled into the binary (cmake/embed_files.cmake).
std::string_view document_text(std::string_view name);

void register_ops(http::Router& router, Services& services) {
  router.add(http::Method::kGet, "/healthz", [](http::Request&, http::Respond respond) {
    respond(json_response(200, json::object{{"status", "ok"}}));
  });
  router.add(http::Method::kGet, "/readyz", [&services](http::Request&, http::Respond respond) {
    services.store.check_ready([respond = std::move(respond)](domain::Status status) {
      if (!status) {
        return respond(error_response(503, "unavailable", "not ready: " + status.error().message));
      }
      respond(json_response(200, json::object{{"status", "ready"}}));
    });
  });
  // docs/openapi.json is the one source of the contract: served as it is in the repository.
  router.add(http::Method::kGet, "/openapi.json", [](http::Request&, http::Respond respond) {
    http::Response response;
    response.body = std::string(document_text("openapi.json"));
    response.headers.emplace_back("cache-control", "public, max-age=300");
    respond(std::move(response));
  });
  router.add(http::Method::kGet, "/metrics", [&services](http::Request&, http::Respond respond) {
    http::Response response;
    response.content_type = "text/plain; version=0.0.4; charset=utf-8";
    if (services.write_metrics) services.write_metrics(response.body);
    respond(std::move(response));
  });
}

}  // namespace invited::api
