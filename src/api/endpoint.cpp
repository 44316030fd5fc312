#include "api/endpoint.hpp"

#include "api/json_io.hpp"

namespace invited::api {

void ApiCall::reply(int status, const boost::json::value& json) {
  reply(json_response(status, json));
}

void ApiCall::reply(http::Response response) { respond_(std::move(response)); }

void ApiCall::fail(const domain::Error& error) { reply(error_response(error)); }

void ApiCall::write(domain::WriteWork work, RenderResponse render) {
  if (keyed_) {
    return write_keyed(
        store_, keyed_, std::move(work), std::move(render),
        [self = shared_from_this()](http::Response response) { self->reply(std::move(response)); });
  }
  store_.write(std::move(work), [self = shared_from_this(), render = std::move(render)](
                                    domain::Status status) { self->reply(render(status)); });
}

bool ApiCall::require_global_key() {
  if (!principal->scoped) return true;
  fail({domain::ErrorCode::kGlobalKeyRequired,
        "this operation needs a global API key; this key is scoped to websites"});
  return false;
}

namespace {

// The key check of a request that waits for `100 Continue`: a missing, unknown or revoked key
// is answered 401 before the body is sent (SPEC §3 checks the key before the body).
void check_key(Services& services, http::Request& request,
               std::function<void(std::optional<http::Response>)> done) {
  services.authenticator.authenticate(
      request.header("x-api-key").value_or(""),
      [done = std::move(done)](domain::Result<Authenticator::PrincipalPtr> principal) {
        if (!principal) return done(error_response(principal.error()));
        done(std::nullopt);
      });
}

// The rest of an API request once its organization's request budget decided: the x-rate-limit-*
// headers and the key id on every answer, 429 when refused, then the body checks and
// Idempotency-Key handling before `handler`.
void serve_within_budget(Services& services, http::Request& request, Body body,
                         const ApiHandler& handler, http::Respond respond,
                         Authenticator::PrincipalPtr principal,
                         const RateLimiter::Decision& decision) {
  http::Respond answer = [respond = std::move(respond), decision,
                          key_id = principal->key_id.str()](http::Response response) {
    if (decision.limit > 0) {
      response.headers.emplace_back("x-rate-limit-limit", std::to_string(decision.limit));
      response.headers.emplace_back("x-rate-limit-remaining", std::to_string(decision.remaining));
      response.headers.emplace_back("x-rate-limit-reset", std::to_string(decision.reset_at));
    }
    response.log_key_id = key_id;
    respond(std::move(response));
  };
  if (!decision.allowed) return answer(rate_limited_response(decision, "per-minute request"));
  boost::json::object parsed_body;
  if (body == Body::kJson) {
    auto parsed = read_json_object(request);
    if (auto* rejection = std::get_if<http::Response>(&parsed)) {
      return answer(std::move(*rejection));
    }
    parsed_body = std::move(std::get<boost::json::object>(parsed));
  }
  const domain::Principal& caller = *principal;
  services.idempotency.handle(request, caller, answer,
                              [&services, &request, &handler, caller_ptr = std::move(principal),
                               parsed_body = std::move(parsed_body)](
                                  http::Respond finish, IdempotentRequestPtr keyed) mutable {
                                auto call = std::make_shared<ApiCall>(
                                    request, std::move(caller_ptr), std::move(finish),
                                    services.store, std::move(keyed));
                                call->body = std::move(parsed_body);
                                handler(call);
                              });
}

}  // namespace

http::Handler api_endpoint(Services& services, Body body, ApiHandler handler) {
  http::HeaderCheck key_check = [&services](http::Request& request, auto done) {
    check_key(services, request, std::move(done));
  };
  http::Handler::Serve serve = [&services, body, handler = std::move(handler)](
                                   http::Request& request, http::Respond respond) {
    std::string_view secret = request.header("x-api-key").value_or("");
    services.authenticator.authenticate(
        secret, [&services, &request, body, &handler, respond = std::move(respond)](
                    domain::Result<Authenticator::PrincipalPtr> principal) mutable {
          if (!principal) return respond(error_response(principal.error()));
          domain::Pk org_pk = (*principal)->org_pk;
          services.budgets.take_request(
              org_pk, [&services, &request, body, &handler, respond = std::move(respond),
                       principal = std::move(*principal)](
                          domain::Result<RateLimiter::Decision> decided) mutable {
                if (!decided) {
                  http::Response refusal = error_response(decided.error());
                  refusal.log_key_id = principal->key_id.str();
                  return respond(std::move(refusal));
                }
                serve_within_budget(services, request, body, handler, std::move(respond),
                                    std::move(principal), *decided);
              });
        });
  };
  return http::Handler(std::move(serve), std::move(key_check));
}

http::Handler public_json_endpoint(Services& services, ApiHandler handler) {
  return [&services, handler = std::move(handler)](http::Request& request, http::Respond respond) {
    auto call = std::make_shared<ApiCall>(request, nullptr, std::move(respond), services.store);
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
