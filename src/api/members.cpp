// Members of websites, groups and the organization, and the websites one user reaches
// (SPEC §5). Website member routes are open to scoped keys within their allowlist; the others
// need a global key.
#include "domain/members.hpp"

#include <boost/json.hpp>

#include "api/json_io.hpp"
#include "api/paged_read.hpp"
#include "api/request_bodies.hpp"
#include "api/routes.hpp"
#include "api/views.hpp"
#include "domain/messages.hpp"

namespace invited::api {
namespace json = boost::json;
namespace {

using domain::TargetKind;

// Finds the target named by the route inside a unit of work, or says why it cannot be seen.
domain::Result<domain::Target> resolve_target(domain::ReadTx& tx,
                                              const domain::Principal& principal, TargetKind kind,
                                              const std::string& id_text) {
  if (kind == TargetKind::kOrganization) return domain::Target{kind, principal.org_pk};
  auto id = domain::Uuid::parse(id_text);
  if (kind == TargetKind::kGroup) {
    auto group = id ? tx.find_group(principal.org_pk, *id) : std::nullopt;
    if (!group) return domain::not_found(kind);
    return domain::Target{kind, group->pk};
  }
  auto website = id ? tx.find_website(principal.org_pk, *id) : std::nullopt;
  if (!website || !principal.can_reach_website(website->pk)) {
    return domain::not_found(kind);
  }
  return domain::Target{kind, website->pk};
}

// The route's target id (empty for the organization) and, for member routes, the user id.
std::string target_param(const CallPtr& call, TargetKind kind) {
  return kind == TargetKind::kOrganization ? std::string() : call->request.path_params.at(0);
}

// The public id of the target named by target_param (resolved already, so it parses).
domain::Uuid target_uuid(const domain::Principal& principal, const std::string& id) {
  if (id.empty()) return principal.org_id;
  return domain::Uuid::parse(id).value_or(domain::Uuid());
}

std::string user_param(const CallPtr& call) { return call->request.path_params.back(); }

bool allowed(const CallPtr& call, TargetKind kind) {
  return kind == TargetKind::kWebsite || call->require_global_key();
}

template <TargetKind kKind>
void list_members(Services& services, const CallPtr& call) {
  domain::FieldErrors errors;
  auto list = read_list_request(call->request, errors);
  if (!errors.empty()) return call->reply(validation_error(errors));
  if (!allowed(call, kKind)) return;
  reply_with_list<domain::Member>(
      services, call, std::move(list), "members", "the user_id of a member of this list",
      [call, id = target_param(call, kKind)](domain::ReadTx& tx,
                                             const domain::ListRequest& requested,
                                             domain::Page<domain::Member>& out) -> domain::Status {
        auto target = resolve_target(tx, *call->principal, kKind, id);
        if (!target) return target.error();
        switch (kKind) {
          case TargetKind::kWebsite:
            out = tx.list_website_members(call->principal->org_pk, target->pk, requested);
            break;
          case TargetKind::kGroup:
            out = tx.list_group_members(target->pk, requested);
            break;
          case TargetKind::kOrganization:
            out = tx.list_organization_members(target->pk, requested);
            break;
        }
        return {};
      },
      member_json);
}

template <TargetKind kKind>
void patch_member(Services& services, const CallPtr& call) {
  domain::FieldErrors errors;
  auto role = read_member_role(call->body, kKind, errors);
  if (!role) return call->reply(validation_error(errors));
  if (!allowed(call, kKind)) return;
  auto user_id = domain::Uuid::parse(user_param(call));
  if (!user_id) return call->fail({domain::ErrorCode::kNotFound, "Member not found"});

  auto member = std::make_shared<std::optional<domain::Member>>();
  services.store.write(
      [call, member, role = *role, user_id = *user_id,
       id = target_param(call, kKind)](domain::WriteTx& tx) -> domain::Status {
        auto target = resolve_target(tx, *call->principal, kKind, id);
        if (!target) return target.error();
        auto changed = domain::change_member_role(tx, *call->principal, *target,
                                                  target_uuid(*call->principal, id), user_id, role,
                                                  domain::now());
        if (!changed) return changed.error();
        *member = std::move(*changed);
        return {};
      },
      [call, member](domain::Status status) {
        if (!status) return call->fail(status.error());
        call->reply(200, json::object{{"member", member_json(**member)}});
      });
}

template <TargetKind kKind>
void delete_member(Services& services, const CallPtr& call) {
  if (!allowed(call, kKind)) return;
  auto user_id = domain::Uuid::parse(user_param(call));
  if (!user_id) return call->fail({domain::ErrorCode::kNotFound, "Member not found"});
  services.store.write(
      [call, user_id = *user_id, id = target_param(call, kKind)](domain::WriteTx& tx) {
        auto target = resolve_target(tx, *call->principal, kKind, id);
        if (!target) return domain::Status(target.error());
        return domain::remove_member(tx, *call->principal, *target,
                                     target_uuid(*call->principal, id), user_id, domain::now());
      },
      [call](domain::Status status) {
        if (!status) return call->fail(status.error());
        call->reply(200, json::object{{"success", true}});
      });
}

json::object user_website_json(const domain::UserWebsite& website) {
  return json::object{{"website_id", uuid_json(website.website_id)},
                      {"url", website.url},
                      {"name", website.name},
                      {"role", domain::role_name(website.role)},
                      {"access_type", domain::access_type_name(website.access_type)}};
}

void list_user_websites(Services& services, const CallPtr& call) {
  domain::FieldErrors errors;
  auto list = read_list_request(call->request, errors);
  if (!errors.empty()) return call->reply(validation_error(errors));
  if (!call->require_global_key()) return;
  auto user_id = domain::Uuid::parse(call->request.path_params.at(0));
  domain::Error not_found{domain::ErrorCode::kNotFound, "User not found"};
  if (!user_id) return call->fail(not_found);
  reply_with_list<domain::UserWebsite>(
      services, call, std::move(list), "websites",
      "the website_id of a website of this organization",
      [call, user_id = *user_id, not_found](
          domain::ReadTx& tx, const domain::ListRequest& requested,
          domain::Page<domain::UserWebsite>& out) -> domain::Status {
        const auto org_pk = call->principal->org_pk;
        // A user with nothing in this organization is indistinguishable from an unknown one.
        auto user = tx.find_user_by_id(user_id);
        if (!user || !tx.has_any_membership(org_pk, user->pk)) return not_found;
        out = tx.list_user_websites(org_pk, user->pk, requested);
        return {};
      },
      user_website_json);
}

}  // namespace

void register_members(http::Router& router, Services& services) {
  using http::Method;
  router.add(Method::kGet, "/api/v1/websites/{id}/members",
             api_endpoint(services, Body::kNone, list_members<TargetKind::kWebsite>));
  router.add(Method::kPatch, "/api/v1/websites/{id}/members/{user_id}",
             api_endpoint(services, Body::kJson, patch_member<TargetKind::kWebsite>));
  router.add(Method::kDelete, "/api/v1/websites/{id}/members/{user_id}",
             api_endpoint(services, Body::kNone, delete_member<TargetKind::kWebsite>));
  router.add(Method::kGet, "/api/v1/groups/{id}/members",
             api_endpoint(services, Body::kNone, list_members<TargetKind::kGroup>));
  router.add(Method::kPatch, "/api/v1/groups/{id}/members/{user_id}",
             api_endpoint(services, Body::kJson, patch_member<TargetKind::kGroup>));
  router.add(Method::kDelete, "/api/v1/groups/{id}/members/{user_id}",
             api_endpoint(services, Body::kNone, delete_member<TargetKind::kGroup>));
  router.add(Method::kGet, "/api/v1/organizations/members",
             api_endpoint(services, Body::kNone, list_members<TargetKind::kOrganization>));
  router.add(Method::kPatch, "/api/v1/organizations/members/{user_id}",
             api_endpoint(services, Body::kJson, patch_member<TargetKind::kOrganization>));
  router.add(Method::kDelete, "/api/v1/organizations/members/{user_id}",
             api_endpoint(services, Body::kNone, delete_member<TargetKind::kOrganization>));
  router.add(Method::kGet, "/api/v1/users/{user_id}/websites",
             api_endpoint(services, Body::kNone, list_user_websites));
}

}  // namespace invited::api
