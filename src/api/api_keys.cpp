// /api/v1/api-keys: create (the secret is shown once), list (never secrets), revoke (SPEC §5).
// Global keys only.
#include <boost/json.hpp>

#include "api/json_io.hpp"
#include "api/paged_read.hpp"
#include "api/request_bodies.hpp"
#include "api/routes.hpp"
#include "api/views.hpp"
#include "domain/clock.hpp"
#include "domain/organizations.hpp"

namespace invited::api {
namespace json = boost::json;
namespace {

json::object key_json(const domain::ApiKey& key) {
  json::array websites;
  for (const auto& id : key.website_ids) websites.push_back(uuid_json(id));
  return json::object{{"key_id", uuid_json(key.id)},
                      {"name", key.name},
                      {"scoped", key.scoped},
                      {"website_ids", std::move(websites)},
                      {"created_at", timestamp_json(key.created_at)},
                      {"revoked_at", key.revoked_at ? json::value(timestamp_json(*key.revoked_at))
                                                    : json::value(nullptr)}};
}

void create_key(Services&, const CallPtr& call) {
  domain::FieldErrors errors;
  auto request = read_new_api_key(call->body, errors);
  if (!request) return call->reply(validation_error(errors));
  if (!call->require_global_key()) return;

  struct State {
    domain::FieldErrors unknown_websites;
    std::optional<domain::IssuedApiKey> issued;
  };
  auto state = std::make_shared<State>();
  auto now = domain::now();
  call->write(
      [principal = call->principal, state, request = std::move(*request),
       now](domain::WriteTx& tx) -> domain::Status {
        state->unknown_websites = {};
        auto issued =
            domain::create_api_key(tx, principal->org_pk, request, now, state->unknown_websites,
                                   domain::Actor::api_key(*principal));
        if (!issued) return issued.error();
        state->issued = std::move(*issued);
        return {};
      },
      [state](const domain::Status& status) {
        if (!status && !state->unknown_websites.empty()) {
          return validation_error(state->unknown_websites);
        }
        if (!status) return error_response(status.error());
        const auto& key = state->issued->key;
        json::array websites;
        for (const auto& id : key.website_ids) websites.push_back(uuid_json(id));
        return json_response(201, json::object{{"key_id", uuid_json(key.id)},
                                               {"api_key", state->issued->secret},
                                               {"name", key.name},
                                               {"website_ids", std::move(websites)}});
      });
}

void list_keys(Services& services, const CallPtr& call) {
  domain::FieldErrors errors;
  auto list = read_list_request(call->request, errors);
  if (!errors.empty()) return call->reply(validation_error(errors));
  if (!call->require_global_key()) return;
  reply_with_list<domain::ApiKey>(
      services, call, std::move(list), "api_keys", "the key_id of an API key of this organization",
      [call](domain::ReadTx& tx, const domain::ListRequest& requested,
             domain::Page<domain::ApiKey>& out) {
        out = tx.list_api_keys(call->principal->org_pk, requested);
        return domain::Status();
      },
      key_json);
}

void revoke_key(Services& services, const CallPtr& call) {
  if (!call->require_global_key()) return;
  domain::Error not_found{domain::ErrorCode::kNotFound, "API key not found"};
  auto id = domain::Uuid::parse(call->request.path_params.at(0));
  if (!id) return call->fail(not_found);
  auto key = std::make_shared<std::optional<domain::ApiKey>>();
  auto now = domain::now();
  services.store.write(
      [call, id = *id, key, now](domain::WriteTx& tx) -> domain::Status {
        auto revoked = domain::revoke_api_key(tx, call->principal->org_pk, id, now,
                                              domain::Actor::api_key(*call->principal));
        if (!revoked) return revoked.error();
        *key = std::move(*revoked);
        return {};
      },
      [&services, call, key](domain::Status status) {
        if (!status) return call->fail(status.error());
        services.authenticator.forget((*key)->pk);
        call->reply(200, json::object{{"success", true}, {"api_key", key_json(**key)}});
      });
}

}  // namespace

void register_api_keys(http::Router& router, Services& services) {
  router.add(http::Method::kPost, "/api/v1/api-keys",
             api_endpoint(services, Body::kJson, create_key));
  router.add(http::Method::kGet, "/api/v1/api-keys",
             api_endpoint(services, Body::kNone, list_keys));
  router.add(http::Method::kDelete, "/api/v1/api-keys/{key_id}",
             api_endpoint(services, Body::kNone, revoke_key));
}

}  // namespace invited::api
