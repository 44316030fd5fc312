// /api/v1/groups: create, list, get, and the members of one group (SPEC §5). Global keys only.
#include <boost/json.hpp>

#include "api/json_io.hpp"
#include "api/routes.hpp"
#include "api/views.hpp"
#include "domain/clock.hpp"
#include "domain/resources.hpp"

namespace invited::api {
namespace json = boost::json;
namespace {

domain::Error group_not_found() { return {domain::ErrorCode::kNotFound, "Group not found"}; }

std::optional<domain::Uuid> group_id_param(const CallPtr& call) {
  auto id = domain::Uuid::parse(call->request.path_params.at(0));
  if (!id) call->fail(group_not_found());
  return id;
}

void create_group(Services& services, const CallPtr& call) {
  domain::FieldErrors errors;
  reject_unknown_fields(call->body, {"name", "website_ids"}, errors);
  auto name = string_field(call->body, "name", errors);
  auto website_ids = string_array_field(call->body, "website_ids", errors);
  auto request = domain::validate_new_group(name, website_ids, errors);
  if (!request) return call->reply(validation_error(errors));
  if (!call->require_global_key()) return;

  struct State {
    domain::NewGroupRequest request;
    domain::FieldErrors unknown_websites;
    std::optional<domain::Group> group;
  };
  auto state = std::make_shared<State>(State{std::move(*request), {}, {}});
  auto now = domain::now();
  services.store.write(
      [call, state, now](domain::WriteTx& tx) -> domain::Status {
        const auto& principal = *call->principal;
        state->unknown_websites = {};
        std::vector<domain::Pk> website_pks;
        const auto& ids = state->request.website_ids;
        for (std::size_t i = 0; i < ids.size(); ++i) {
          auto pk = tx.find_live_website_pk(principal.org_pk, ids[i]);
          if (!pk) {
            state->unknown_websites.add("website_ids[" + std::to_string(i) + "]",
                                        "is not a website of this organization");
            continue;
          }
          website_pks.push_back(*pk);
        }
        if (!state->unknown_websites.empty()) {
          return domain::Error{domain::ErrorCode::kValidation, "unknown websites"};
        }
        auto id = domain::Uuid::v7(now.unix_ms);
        tx.insert_group(principal.org_pk, id, state->request.name, website_pks, now.seconds());
        state->group = tx.find_group(principal.org_pk, id);
        return {};
      },
      [call, state](domain::Status status) {
        if (!state->unknown_websites.empty()) {
          return call->reply(validation_error(state->unknown_websites));
        }
        if (!status) return call->fail(status.error());
        call->reply(201, json::object{{"group", group_json(*state->group)}});
      });
}

void list_groups(Services& services, const CallPtr& call) {
  if (!call->require_global_key()) return;
  domain::FieldErrors errors;
  auto page = read_page(call->request, errors);
  if (!errors.empty()) return call->reply(validation_error(errors));
  auto result = std::make_shared<domain::Page<domain::Group>>();
  services.store.read(
      [call, page, result](domain::ReadTx& tx) -> domain::Status {
        *result = tx.list_groups(call->principal->org_pk, page);
        return {};
      },
      [call, page, result](domain::Status status) {
        if (!status) return call->fail(status.error());
        json::array items;
        items.reserve(result->items.size());
        for (const auto& group : result->items) items.push_back(group_json(group));
        call->reply(200, page_body("groups", std::move(items), page, result->total));
      });
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

void list_group_members(Services& services, const CallPtr& call) {
  if (!call->require_global_key()) return;
  auto id = group_id_param(call);
  if (!id) return;
  domain::FieldErrors errors;
  auto page = read_page(call->request, errors);
  if (!errors.empty()) return call->reply(validation_error(errors));
  auto result = std::make_shared<domain::Page<domain::Member>>();
  services.store.read(
      [call, id = *id, page, result](domain::ReadTx& tx) -> domain::Status {
        auto group = tx.find_group(call->principal->org_pk, id);
        if (!group) return group_not_found();
        *result = tx.list_group_members(group->pk, page);
        return {};
      },
      [call, page, result](domain::Status status) {
        if (!status) return call->fail(status.error());
        json::array items;
        items.reserve(result->items.size());
        for (const auto& member : result->items) items.push_back(member_json(member));
        call->reply(200, page_body("members", std::move(items), page, result->total));
      });
}

}  // namespace

void register_groups(http::Router& router, Services& services) {
  router.add(http::Method::kPost, "/api/v1/groups",
             api_endpoint(services, Body::kJson, create_group));
  router.add(http::Method::kGet, "/api/v1/groups", api_endpoint(services, Body::kNone, list_groups));
  router.add(http::Method::kGet, "/api/v1/groups/{id}",
             api_endpoint(services, Body::kNone, get_group));
  router.add(http::Method::kGet, "/api/v1/groups/{id}/members",
             api_endpoint(services, Body::kNone, list_group_members));
}

}  // namespace invited::api
