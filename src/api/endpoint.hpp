#pragma once

#include <boost/json.hpp>
#include <functional>
#include <memory>
#include <string>

#include "api/authenticator.hpp"
#include "api/idempotency.hpp"
#include "api/organization_budgets.hpp"
#include "api/rate_limiter.hpp"
#include "domain/bulk_invite.hpp"
#include "domain/principal.hpp"
#include "domain/result.hpp"
#include "domain/store.hpp"
#include "http/message.hpp"

namespace invited::api {

// What the API handlers use; owned and wired by src/app/.
struct Services {
  domain::Store& store;
  Authenticator& authenticator;
  RateLimiter& limiter;          // the token endpoints' per-client budget
  OrganizationBudgets& budgets;  // the organizations' request and target budgets
  Idempotency& idempotency;
  domain::InvitePolicy invite_policy;
  std::string public_url;
  // Appends the Prometheus text of every component to its argument (GET /metrics).
  std::function<void(std::string&)> write_metrics;
  // GET /metrics is served on a listener of its own (register_metrics), not with the API.
  bool metrics_on_own_listener = false;
  // --webhook-allow-insecure: http:// and non-public addresses are accepted for endpoints.
  bool webhook_allow_insecure = false;
  // Wakes the webhook delivery worker (a delivery was made due now); may be empty.
  std::function<void()> webhooks_due;
};

// One authenticated API request in progress. Handlers hold it by shared_ptr across their store
// call and answer through it exactly once.
class ApiCall : public std::enable_shared_from_this<ApiCall> {
 public:
  // `keyed`: the request's Idempotency-Key when it has one (POST), else null.
  ApiCall(http::Request& http_request, Authenticator::PrincipalPtr caller, http::Respond respond,
          domain::Store& store, IdempotentRequestPtr keyed = nullptr)
      : request(http_request),
        principal(std::move(caller)),
        respond_(std::move(respond)),
        store_(store),
        keyed_(std::move(keyed)) {}

  http::Request& request;
  Authenticator::PrincipalPtr principal;
  boost::json::object body;  // the parsed body, for endpoints that take JSON

  void reply(int status, const boost::json::value& json);
  void reply(http::Response response);
  void fail(const domain::Error& error);

  // Answers 403 global_key_required and returns false when the key is scoped.
  bool require_global_key();

  // Runs `work` as this request's one unit of work, then answers `render(status)`: the success
  // response once the unit has committed, or the unit's error after it rolled back. Every
  // handler that writes does it through here, so that a request with an Idempotency-Key claims
  // its key and keeps its response in that same unit (write_keyed in api/idempotency.hpp; then
  // `render` of a success runs inside the unit, on the writer thread, and must only read what
  // `work` captured). Without a key this is a plain Store::write and `render` runs on the event
  // loop after the commit.
  void write(domain::WriteWork work, RenderResponse render);

 private:
  http::Respond respond_;
  domain::Store& store_;
  IdempotentRequestPtr keyed_;
};

using CallPtr = std::shared_ptr<ApiCall>;
using ApiHandler = std::function<void(const CallPtr&)>;

enum class Body { kNone, kJson };

// Wraps `handler` in the checks every /api/v1 endpoint runs, in the order of SPEC §3: API key
// (401), the organization's request budget (429), then for kJson bodies size (413), media type
// (415) and JSON (400 invalid_json), then Idempotency-Key handling for POST. Every response
// after authentication carries the x-rate-limit-* headers.
http::Handler api_endpoint(Services& services, Body body, ApiHandler handler);

// An endpoint without an API key (the body carries its own credential): the body checks of
// kJson only; `call->principal` is null, no rate-limit headers are sent and Idempotency-Key is
// ignored.
http::Handler public_json_endpoint(Services& services, ApiHandler handler);

// The same for a plain function of the services and the call.
using ServiceHandler = void (*)(Services&, const CallPtr&);
http::Handler api_endpoint(Services& services, Body body, ServiceHandler handler);

}  // namespace invited::api
