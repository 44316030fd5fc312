// /api/v1/groups: create, list, get, rename and change websites, delete (SPEC §5). Global keys
// only.
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

domain::Error group_not_found() { return domain::not_found(domain::TargetKind::kGroup); }

std::optional<domain::Uuid> group_id_param(const CallPtr& call) {
  auto id = domain::Uuid::parse(call->request.path_params.at(0));
  if (!id) call->fail(group_not_found());
  return id;
}

// Runs a group change in one unit of work and answers with the group, or with the unknown
// website ids it named (400), or with the domain's error.
template <typename Change>
void write_group(const CallPtr& call, int success_status, Change change) {
  struct State {
    domain::FieldErrors unknown_websites;
    std::optional<domain::Group> group;
  };
  auto state = std::make_shared<State>();
  call->write(
      [state, change = std::move(change)](domain::WriteTx& tx) -> domain::Status {
        state->unknown_websites = {};
        domain::Result<domain::Group> group = change(tx, state->unknown_websites);
        if (!group) return group.error();
        state->group = std::move(*group);
        return {};
      },
      [state, success_status](const domain::Status& status) {
        if (!status && !state->unknown_websites.empty()) {
          return validation_error(state->unknown_websites);
        }
        if (!status) return error_response(status.error());
        return json_response(success_status, json::object{{"group", group_json(*state->group)}});
      });
}

void create_group(Services&, const CallPtr& call) {
  domain::FieldErrors errors;
  auto request = read_new_group(call->body, errors);
  if (!request) return call->reply(validation_error(errors));
  if (!call->require_global_key()) return;
  auto now = domain::now();
  write_group(call, 201,
              [principal = call->principal, request = std::move(*request), now](
                  domain::WriteTx& tx, domain::FieldErrors& unknown) {
                return domain::create_group(tx, *principal, request, now, unknown);
              });
}

void patch_group(Services&, const CallPtr& call) {
  domain::FieldErrors errors;
  auto patch = read_group_patch(call->body, errors);
  if (!patch) return call->reply(validation_error(errors));
  if (!call->require_global_key()) return;
  auto id = group_id_param(call);
  if (!id) return;
  write_group(call, 200,
              [principal = call->principal, id = *id, patch = std::move(*patch),
               now = domain::now()](domain::WriteTx& tx, domain::FieldErrors& unknown) {
                return domain::patch_group(tx, *principal, id, patch, now, unknown);
              });
}

void delete_group(Services& services, const CallPtr& call) {
  if (!call->require_global_key()) return;
  auto id = group_id_param(call);
  if (!id) return;
  auto now = domain::now();
  services.store.write(
      [principal = call->principal, id = *id, now](domain::WriteTx& tx) {
        return domain::delete_group(tx, *principal, id, now);
      },
      [call](domain::Status status) {
        if (!status) return call->fail(status.error());
        call->reply(200, json::object{{"success", true}});
      });
}

void list_groups(Services& services, const CallPtr& call) {
  domain::FieldErrors errors;
  auto list = read_list_request(call->request, errors);
  if (!errors.empty()) return call->reply(validation_error(errors));
  if (!call->require_global_key()) return;
  reply_with_list<domain::Group>(
      services, call, std::move(list), "groups", "the id of a group of this organization",
      [call](domain::ReadTx& tx, const domain::ListRequest& requested,
             domain::Page<domain::Group>& out) {
        out = tx.list_groups(call->principal->org_pk, requested);
        return domain::Status();
      },
      group_json);
}

void get_group(Services& services, const CallPtr& call) {
  if (!call->require_global_key()) return;
  auto id = group_id_param(call);
  if (!id) return;
  auto group = std::make_shared<std::optional<domain::Group>>();
  services.store.read(
      [call, id = *id, group](domain::ReadTx& tx) -> domain::Status {
        *group = tx.find_group(call->principal->org_pk, id);
        return *group ? domain::Status() : domain::Status(group_not_found());
      },
      [call, group](domain::Status status) {
        if (!status) return call->fail(status.error());
        call->reply(200, json::object{{"group", group_json(**group)}});
      });
}

}  // namespace

void register_groups(http::Router& router, Services& services) {
  router.add(http::Method::kPost, "/api/v1/groups",
             api_endpoint(services, Body::kJson, create_group));
  router.add(http::Method::kGet, "/api/v1/groups",
             api_endpoint(services, Body::kNone, list_groups));
  router.add(http::Method::kGet, "/api/v1/groups/{id}",
             api_endpoint(services, Body::kNone, get_group));
  router.add(http::Method::kPatch, "/api/v1/groups/{id}",
             api_endpoint(services, Body::kJson, patch_group));
  router.add(http::Method::kDelete, "/api/v1/groups/{id}",
             api_endpoint(services, Body::kNone, delete_group));
}

}  // namespace invited::api
