// /api/v1/websites: create, list, get, soft delete and restore (SPEC §5).
#include <boost/json.hpp>

#include "api/json_io.hpp"
#include "api/paged_read.hpp"
#include "api/request_bodies.hpp"
#include "api/routes.hpp"
#include "api/views.hpp"
#include "domain/clock.hpp"
#include "domain/messages.hpp"
#include "domain/resources.hpp"

namespace invited::api {
namespace json = boost::json;
namespace {

domain::Error website_not_found() { return domain::not_found(domain::TargetKind::kWebsite); }

// The website id of the path, or nullopt after answering 404.
std::optional<domain::Uuid> website_id_param(const CallPtr& call) {
  auto id = domain::Uuid::parse(call->request.path_params.at(0));
  if (!id) call->fail(website_not_found());
  return id;
}

void create_website(Services&, const CallPtr& call) {
  domain::FieldErrors errors;
  auto request = read_new_website(call->body, errors);
  if (!request) return call->reply(validation_error(errors));
  if (!call->require_global_key()) return;

  auto created = std::make_shared<domain::Website>();
  auto shared_request = std::make_shared<domain::NewWebsiteRequest>(std::move(*request));
  auto now = domain::now();
  call->write(
      [principal = call->principal, created, shared_request, now](domain::WriteTx& tx) {
        auto website = domain::create_website(tx, *principal, *shared_request, now);
        if (!website) return domain::Status(website.error());
        *created = std::move(*website);
        return domain::Status();
      },
      [created](const domain::Status& status) {
        if (!status) return error_response(status.error());
        return json_response(201, json::object{{"website", website_json(*created)}});
      });
}

void list_websites(Services& services, const CallPtr& call) {
  domain::FieldErrors errors;
  auto list = read_list_request(call->request, errors);
  if (!errors.empty()) return call->reply(validation_error(errors));
  reply_with_list<domain::Website>(
      services, call, std::move(list), "websites", "the id of a website this key can list",
      [call](domain::ReadTx& tx, const domain::ListRequest& requested,
             domain::Page<domain::Website>& out) {
        const auto& principal = *call->principal;
        out = tx.list_websites(principal.org_pk,
                               principal.scoped ? std::optional(principal.key_pk) : std::nullopt,
                               requested);
        return domain::Status();
      },
      website_json);
}

void get_website(Services& services, const CallPtr& call) {
  auto id = website_id_param(call);
  if (!id) return;
  auto website = std::make_shared<std::optional<domain::Website>>();
  services.store.read(
      [call, id = *id, website](domain::ReadTx& tx) -> domain::Status {
        *website = tx.find_website(call->principal->org_pk, id);
        if (!*website || !call->principal->can_reach_website((*website)->pk)) {
          return website_not_found();
        }
        return {};
      },
      [call, website](domain::Status status) {
        if (!status) return call->fail(status.error());
        call->reply(200, json::object{{"website", website_json(**website)}});
      });
}

// DELETE (soft, idempotent) and POST .../restore share their shape: the website as it is now.
template <bool kDelete>
void change_deleted(Services&, const CallPtr& call) {
  if (!call->require_global_key()) return;
  auto id = website_id_param(call);
  if (!id) return;
  auto website = std::make_shared<std::optional<domain::Website>>();
  auto now = domain::now();
  call->write(
      [principal = call->principal, id = *id, website, now](domain::WriteTx& tx) -> domain::Status {
        auto changed = kDelete ? domain::delete_website(tx, *principal, id, now)
                               : domain::restore_website(tx, *principal, id, now);
        if (!changed) return changed.error();
        *website = std::move(*changed);
        return {};
      },
      [website](const domain::Status& status) {
        if (!status) return error_response(status.error());
        auto body = website_json(**website);
        body["deleted_at"] = (*website)->deleted_at
                                 ? json::value(timestamp_json(*(*website)->deleted_at))
                                 : json::value(nullptr);
        return json_response(200, json::object{{"success", true}, {"website", std::move(body)}});
      });
}

}  // namespace

void register_websites(http::Router& router, Services& services) {
  router.add(http::Method::kPost, "/api/v1/websites",
             api_endpoint(services, Body::kJson, create_website));
  router.add(http::Method::kGet, "/api/v1/websites",
             api_endpoint(services, Body::kNone, list_websites));
  router.add(http::Method::kGet, "/api/v1/websites/{id}",
             api_endpoint(services, Body::kNone, get_website));
  router.add(http::Method::kDelete, "/api/v1/websites/{id}",
             api_endpoint(services, Body::kNone, change_deleted<true>));
  router.add(http::Method::kPost, "/api/v1/websites/{id}/restore",
             api_endpoint(services, Body::kNone, change_deleted<false>));
}

}  // namespace invited::api
