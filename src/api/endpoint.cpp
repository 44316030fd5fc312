#include "api/endpoint.hpp"

#include "api/json_io.hpp"
#include "domain/clock.hpp"

namespace invited::api {

void ApiCall::reply(int status, const boost::json::value& json) {
  reply(json_response(status, json));
}

void ApiCall::reply(http::Response response) {
  for (auto& header : rate_headers_) response.headers.push_back(std::move(header));
  if (principal) response.log_key_id = principal->key_id.str();
  respond_(std::move(response));
}

void ApiCall::fail(const domain::Error& error) { reply(error_response(error)); }

bool ApiCall::require_global_key() {
  if (!principal->scoped) return true;
  fail({domain::ErrorCode::kGlobalKeyRequired,
        "this operation needs a global API key; this key is scoped to websites"});
  return false;
}

http::Handler api_endpoint(Services& services, Body body, ApiHandler handler) {
  return [&services, body, handler = std::move(handler)](http::Request& request,
                                                         http::Respond respond) {
    std::string_view secret = request.header("x-api-key").value_or("");
    services.authenticator.authenticate(
        secret, [&services, &request, body, &handler, respond = std::move(respond)](
                    domain::Result<Authenticator::PrincipalPtr> principal) mutable {
          if (!principal) return respond(error_response(principal.error()));
          auto decision = services.limiter.take_request((*principal)->org_pk, domain::now().unix_ms);
          std::vector<std::pair<std::string, std::string>> rate_headers;
          if (decision.limit > 0) {
            rate_headers = {{"x-rate-limit-limit", std::to_string(decision.limit)},
                            {"x-rate-limit-remaining", std::to_string(decision.remaining)},
                            {"x-rate-limit-reset", std::to_string(decision.reset_at)}};
          }
          auto call = std::make_shared<ApiCall>(request, std::move(*principal), std::move(respond),
                                                std::move(rate_headers));
          if (!decision.allowed) {
            return call->reply(rate_limited_response(decision, "per-minute request"));
          }
          if (body == Body::kJson) {
            auto parsed = read_json_object(request);
            if (auto* rejection = std::get_if<http::Response>(&parsed)) {
              return call->reply(std::move(*rejection));
            }
            call->body = std::move(std::get<boost::json::object>(parsed));
          }
          handler(call);
        });
  };
}

http::Handler public_json_endpoint(Services&, ApiHandler handler) {
  return [handler = std::move(handler)](http::Request& request, http::Respond respond) {
    auto call = std::make_shared<ApiCall>(request, nullptr, std::move(respond),
                                          std::vector<std::pair<std::string, std::string>>{});
    auto parsed = read_json_object(request);
    if (auto* rejection = std::get_if<http::Response>(&parsed)) {
      return call->reply(std::move(*rejection));
    }
    call->body = std::move(std::get<boost::json::object>(parsed));
    handler(call);
  };
}

http::Handler api_endpoint(Services& services, Body body, ServiceHandler handler) {
  return api_endpoint(services, body,
                      [&services, handler](const CallPtr& call) { handler(services, call); });
}

}  // namespace invited::api
