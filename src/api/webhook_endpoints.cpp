// /api/v1/webhook-endpoints: create (the secret is shown once), list and read (never secrets),
// PATCH, delete, rotate the secret, list the delivery attempts and retry one (SPEC §9). Global
// keys only.
#include "domain/webhook_endpoints.hpp"

#include <boost/json.hpp>

#include "api/json_io.hpp"
#include "api/paged_read.hpp"
#include "api/routes.hpp"
#include "domain/clock.hpp"

namespace invited::api {
namespace json = boost::json;
namespace {

json::object endpoint_json(const domain::WebhookEndpoint& endpoint) {
  json::array types;
  for (const auto& type : endpoint.event_types) types.emplace_back(type);
  return json::object{{"id", uuid_json(endpoint.id)},
                      {"url", endpoint.url},
                      {"event_types", endpoint.event_types.empty() ? json::value(nullptr)
                                                                   : json::value(std::move(types))},
                      {"enabled", endpoint.enabled},
                      {"description", optional_json(endpoint.description)},
                      {"created_at", timestamp_json(endpoint.created_at)},
                      {"updated_at", timestamp_json(endpoint.updated_at)}};
}

json::object attempt_json(const domain::WebhookAttempt& attempt) {
  return json::object{{"id", uuid_json(attempt.id)},
                      {"event_id", uuid_json(attempt.event_id)},
                      {"event_type", attempt.event_type},
                      {"attempt", attempt.attempt},
                      {"status_code", attempt.status_code ? json::value(*attempt.status_code)
                                                          : json::value(nullptr)},
                      {"error", optional_json(attempt.error)},
                      {"duration_ms", attempt.duration_ms},
                      {"created_at", timestamp_json(attempt.created_at)}};
}

// The fields of a create (`creating`) or PATCH body, validated; nullopt with `errors` filled.
std::optional<domain::WebhookEndpointChange> read_endpoint_change(const json::object& body,
                                                                  bool creating,
                                                                  bool allow_insecure,
                                                                  domain::FieldErrors& errors) {
  reject_unknown_fields(body, {"url", "event_types", "enabled", "description"}, errors);
  auto url = string_field(body, "url", errors);
  auto types = string_array_field(body, "event_types", errors);
  std::optional<bool> enabled;
  if (auto it = body.find("enabled"); it != body.end()) {
    if (it->value().is_bool()) {
      enabled = it->value().get_bool();
    } else {
      errors.add("enabled", "must be true or false");
    }
  }
  auto description = string_field(body, "description", errors);
  if (auto it = body.find("description"); it != body.end() && it->value().is_null()) {
    description = std::string();  // null clears it
  }
  if (auto it = body.find("url"); !creating && it != body.end() && it->value().is_null()) {
    errors.add("url", "must be a string (an endpoint always has a URL)");
  }
  return domain::validate_webhook_endpoint(url, types, enabled, description, creating,
                                           allow_insecure, errors);
}

std::optional<domain::Uuid> path_id(const CallPtr& call, std::size_t index) {
  return domain::Uuid::parse(call->request.path_params.at(index));
}

domain::Error endpoint_not_found() {
  return {domain::ErrorCode::kNotFound, "webhook endpoint not found"};
}

void create_endpoint(Services& services, const CallPtr& call) {
  domain::FieldErrors errors;
  auto change = read_endpoint_change(call->body, true, services.webhook_allow_insecure, errors);
  if (!change) return call->reply(validation_error(errors));
  if (!call->require_global_key()) return;
  auto issued = std::make_shared<std::optional<domain::IssuedWebhookEndpoint>>();
  auto now = domain::now();
  call->write(
      [org_pk = call->principal->org_pk, issued, change = std::move(*change), now,
       actor = domain::Actor::api_key(*call->principal)](domain::WriteTx& tx) -> domain::Status {
        issued->reset();
        auto created = domain::create_webhook_endpoint(tx, org_pk, change, now, actor);
        if (!created) return created.error();
        *issued = std::move(*created);
        return {};
      },
      [issued](const domain::Status& status) {
        if (!status) return error_response(status.error());
        return json_response(201,
                             json::object{{"webhook_endpoint", endpoint_json((*issued)->endpoint)},
                                          {"secret", (*issued)->secret}});
      });
}

void list_endpoints(Services& services, const CallPtr& call) {
  domain::FieldErrors errors;
  auto list = read_list_request(call->request, errors);
  if (!errors.empty()) return call->reply(validation_error(errors));
  if (!call->require_global_key()) return;
  reply_with_list<domain::WebhookEndpoint>(
      services, call, std::move(list), "webhook_endpoints",
      "the id of a webhook endpoint of this organization",
      [call](domain::ReadTx& tx, const domain::ListRequest& requested,
             domain::Page<domain::WebhookEndpoint>& out) {
        out = tx.list_webhook_endpoints(call->principal->org_pk, requested);
        return domain::Status();
      },
      endpoint_json);
}

void get_endpoint(Services& services, const CallPtr& call) {
  if (!call->require_global_key()) return;
  auto id = path_id(call, 0);
  if (!id) return call->fail(endpoint_not_found());
  auto found = std::make_shared<std::optional<domain::WebhookEndpoint>>();
  services.store.read(
      [call, id = *id, found](domain::ReadTx& tx) -> domain::Status {
        *found = tx.find_webhook_endpoint(call->principal->org_pk, id);
        if (!*found) return endpoint_not_found();
        return {};
      },
      [call, found](domain::Status status) {
        if (!status) return call->fail(status.error());
        call->reply(200, json::object{{"webhook_endpoint", endpoint_json(**found)}});
      });
}

void patch_endpoint(Services& services, const CallPtr& call) {
  domain::FieldErrors errors;
  auto change = read_endpoint_change(call->body, false, services.webhook_allow_insecure, errors);
  if (!change) return call->reply(validation_error(errors));
  if (!call->require_global_key()) return;
  auto id = path_id(call, 0);
  if (!id) return call->fail(endpoint_not_found());
  auto updated = std::make_shared<std::optional<domain::WebhookEndpoint>>();
  auto now = domain::now();
  call->write(
      [org_pk = call->principal->org_pk, id = *id, updated, change = std::move(*change), now,
       actor = domain::Actor::api_key(*call->principal)](domain::WriteTx& tx) -> domain::Status {
        updated->reset();
        auto result = domain::update_webhook_endpoint(tx, org_pk, id, change, now, actor);
        if (!result) return result.error();
        *updated = std::move(*result);
        return {};
      },
      [updated](const domain::Status& status) {
        if (!status) return error_response(status.error());
        return json_response(200, json::object{{"webhook_endpoint", endpoint_json(**updated)}});
      });
}

void delete_endpoint(Services&, const CallPtr& call) {
  if (!call->require_global_key()) return;
  auto id = path_id(call, 0);
  if (!id) return call->fail(endpoint_not_found());
  auto deleted = std::make_shared<std::optional<domain::WebhookEndpoint>>();
  auto now = domain::now();
  call->write(
      [org_pk = call->principal->org_pk, id = *id, deleted, now,
       actor = domain::Actor::api_key(*call->principal)](domain::WriteTx& tx) -> domain::Status {
        deleted->reset();
        auto result = domain::delete_webhook_endpoint(tx, org_pk, id, now, actor);
        if (!result) return result.error();
        *deleted = std::move(*result);
        return {};
      },
      [deleted](const domain::Status& status) {
        if (!status) return error_response(status.error());
        return json_response(
            200, json::object{{"success", true}, {"webhook_endpoint", endpoint_json(**deleted)}});
      });
}

void rotate_secret(Services&, const CallPtr& call) {
  if (!call->require_global_key()) return;
  auto id = path_id(call, 0);
  if (!id) return call->fail(endpoint_not_found());
  auto issued = std::make_shared<std::optional<domain::IssuedWebhookEndpoint>>();
  auto now = domain::now();
  call->write(
      [org_pk = call->principal->org_pk, id = *id, issued, now,
       actor = domain::Actor::api_key(*call->principal)](domain::WriteTx& tx) -> domain::Status {
        issued->reset();
        auto result = domain::rotate_webhook_secret(tx, org_pk, id, now, actor);
        if (!result) return result.error();
        *issued = std::move(*result);
        return {};
      },
      [issued](const domain::Status& status) {
        if (!status) return error_response(status.error());
        return json_response(200, json::object{{"secret", (*issued)->secret}});
      });
}

void list_deliveries(Services& services, const CallPtr& call) {
  domain::FieldErrors errors;
  auto list = read_list_request(call->request, errors);
  if (!errors.empty()) return call->reply(validation_error(errors));
  if (!call->require_global_key()) return;
  auto id = path_id(call, 0);
  if (!id) return call->fail(endpoint_not_found());
  reply_with_list<domain::WebhookAttempt>(
      services, call, std::move(list), "deliveries", "the id of a delivery of this endpoint",
      [call, id = *id](domain::ReadTx& tx, const domain::ListRequest& requested,
                       domain::Page<domain::WebhookAttempt>& out) -> domain::Status {
        auto endpoint = tx.find_webhook_endpoint(call->principal->org_pk, id);
        if (!endpoint) return endpoint_not_found();
        out = tx.list_webhook_attempts(endpoint->pk, requested);
        return {};
      },
      attempt_json);
}

void retry_delivery(Services& services, const CallPtr& call) {
  if (!call->require_global_key()) return;
  auto id = path_id(call, 0);
  if (!id) return call->fail(endpoint_not_found());
  auto attempt_id = path_id(call, 1);
  if (!attempt_id) return call->fail({domain::ErrorCode::kNotFound, "delivery not found"});
  auto now = domain::now();
  call->write(
      [org_pk = call->principal->org_pk, id = *id, attempt_id = *attempt_id,
       now](domain::WriteTx& tx) {
        return domain::retry_webhook_delivery(tx, org_pk, id, attempt_id, now);
      },
      [&services](const domain::Status& status) {
        if (!status) return error_response(status.error());
        if (services.webhooks_due) services.webhooks_due();
        return json_response(202, json::object{{"success", true}});
      });
}

}  // namespace

void register_webhook_endpoints(http::Router& router, Services& services) {
  router.add(http::Method::kPost, "/api/v1/webhook-endpoints",
             api_endpoint(services, Body::kJson, create_endpoint));
  router.add(http::Method::kGet, "/api/v1/webhook-endpoints",
             api_endpoint(services, Body::kNone, list_endpoints));
  router.add(http::Method::kGet, "/api/v1/webhook-endpoints/{id}",
             api_endpoint(services, Body::kNone, get_endpoint));
  router.add(http::Method::kPatch, "/api/v1/webhook-endpoints/{id}",
             api_endpoint(services, Body::kJson, patch_endpoint));
  router.add(http::Method::kDelete, "/api/v1/webhook-endpoints/{id}",
             api_endpoint(services, Body::kNone, delete_endpoint));
  router.add(http::Method::kPost, "/api/v1/webhook-endpoints/{id}/rotate-secret",
             api_endpoint(services, Body::kNone, rotate_secret));
  router.add(http::Method::kGet, "/api/v1/webhook-endpoints/{id}/deliveries",
             api_endpoint(services, Body::kNone, list_deliveries));
  router.add(http::Method::kPost, "/api/v1/webhook-endpoints/{id}/deliveries/{delivery_id}/retry",
             api_endpoint(services, Body::kNone, retry_delivery));
}

}  // namespace invited::api
