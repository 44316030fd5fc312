// /api/v1/invites: one invite, list, get, revoke, resend (SPEC §5). Website invites are open
// to scoped keys within their allowlist; revoke and resend need a global key.
#include "domain/invites.hpp"

#include <boost/json.hpp>

#include "api/json_io.hpp"
#include "api/routes.hpp"
#include "api/views.hpp"
#include "domain/clock.hpp"
#include "domain/messages.hpp"

namespace invited::api {
namespace json = boost::json;
namespace {

domain::Error invite_not_found() { return {domain::ErrorCode::kNotFound, "Invite not found"}; }

json::object invite_json(const domain::InviteRecord& invite, domain::UnixSeconds now) {
  json::object item{{"id", uuid_json(invite.id)},
                    {"email", invite.email},
                    {"type", domain::target_kind_name(invite.kind)}};
  switch (invite.kind) {
    case domain::TargetKind::kWebsite:
      item["website_id"] = uuid_json(invite.target_id);
      break;
    case domain::TargetKind::kGroup:
      item["group_id"] = uuid_json(invite.target_id);
      break;
    case domain::TargetKind::kOrganization:
      item["organization_id"] = uuid_json(invite.target_id);
      break;
  }
  item["role"] = domain::role_name(invite.role);
  item["status"] = domain::invite_status_name(invite.effective_status(now));
  item["delivery"] = domain::delivery_name(invite.delivery);
  item["created_at"] = timestamp_json(invite.created_at);
  item["expires_at"] = timestamp_json(invite.expires_at);
  return item;
}

void create_invite(Services& services, const CallPtr& call) {
  domain::FieldErrors errors;
  const auto& body = call->body;
  reject_unknown_fields(body,
                        {"type", "website_id", "group_id", "email", "role", "invite_method",
                         "first_name", "last_name"},
                        errors);
  domain::SingleInviteInput input{
      .type = string_field(body, "type", errors),
      .website_id = string_field(body, "website_id", errors),
      .group_id = string_field(body, "group_id", errors),
      .invitee = {.invite_method = string_field(body, "invite_method", errors),
                  .email = string_field(body, "email", errors),
                  .role = string_field(body, "role", errors),
                  .first_name = string_field(body, "first_name", errors),
                  .last_name = string_field(body, "last_name", errors)}};
  auto request = domain::validate_single_invite(input, call->principal->org_id, errors);
  if (!request) return call->reply(validation_error(errors));
  if (auto scope = domain::check_bulk_invite_scope(*call->principal, *request); !scope) {
    return call->fail(scope.error());
  }
  auto now = domain::now();
  auto budget = services.limiter.take_targets(call->principal->org_pk, 1, now.unix_ms);
  if (!budget.allowed) return call->reply(rate_limited_response(budget, "hourly invite"));

  auto shared_request = std::make_shared<domain::BulkInviteRequest>(std::move(*request));
  auto outcome = std::make_shared<domain::BulkInviteOutcome>();
  services.store.write(
      [&services, call, shared_request, outcome, now](domain::WriteTx& tx) -> domain::Status {
        *outcome = domain::run_bulk_invite(tx, *call->principal, *shared_request,
                                           services.invite_policy, now);
        // A failed single invite wrote nothing; rolling back keeps it that way.
        return domain::single_invite_status(*shared_request, outcome->results.front());
      },
      [call, shared_request, outcome](domain::Status status) {
        if (!status) return call->fail(status.error());
        const auto& result = outcome->results.front();
        if (result.outcome == domain::TargetOutcome::kAdded) {
          return call->reply(200,
                             json::object{{"success", true},
                                          {"message", domain::user_added(shared_request->kind)},
                                          {"user_id", uuid_json(result.id)}});
        }
        call->reply(200, json::object{{"success", true},
                                      {"message", domain::kInvitationSent},
                                      {"invite_id", uuid_json(result.id)}});
      });
}

void list_invites(Services& services, const CallPtr& call) {
  domain::FieldErrors errors;
  auto page = read_page(call->request, errors);
  const auto& request = call->request;
  std::optional<domain::InviteStatus> status;
  if (auto text = request.query_param("status")) {
    status = domain::parse_invite_status(*text);
    if (!status) {
      errors.add("status", R"(must be "pending", "accepted", "declined", "expired" or "revoked")");
    }
  }
  std::optional<std::string> email_key;
  if (auto text = request.query_param("email")) {
    auto email = domain::Email::parse(*text);
    if (!email) {
      errors.add("email", "must be an email address such as name@example.com");
    } else {
      email_key = email->key();
    }
  }
  std::optional<domain::Uuid> website_id;
  std::optional<domain::Uuid> group_id;
  for (auto [name, target] : {std::pair{"website_id", &website_id}, {"group_id", &group_id}}) {
    if (auto text = request.query_param(name)) {
      *target = domain::Uuid::parse(*text);
      if (!*target) errors.add(name, "must be a UUID such as 123e4567-e89b-12d3-a456-426614174000");
    }
  }
  if (!errors.empty()) return call->reply(validation_error(errors));
  if (group_id && !call->require_global_key()) return;

  auto now = domain::now().seconds();
  auto result = std::make_shared<domain::Page<domain::InviteRecord>>();
  services.store.read(
      [call, page, result, status, email_key, website_id, group_id,
       now](domain::ReadTx& tx) -> domain::Status {
        const auto& principal = *call->principal;
        domain::InviteFilter filter{
            .status = status,
            .now = now,
            .email_key = email_key,
            .website_pk = std::nullopt,
            .group_pk = std::nullopt,
            .scoped_key_pk = principal.scoped ? std::optional(principal.key_pk) : std::nullopt};
        // An id the key cannot see filters everything out, as an unknown id would.
        if (website_id) {
          auto website = tx.find_website_including_deleted(principal.org_pk, *website_id);
          filter.website_pk = website ? website->pk : -1;
        }
        if (group_id) {
          auto group = tx.find_group(principal.org_pk, *group_id);
          filter.group_pk = group ? group->pk : -1;
        }
        *result = tx.list_invites(principal.org_pk, filter, page);
        return {};
      },
      [call, page, result, now](domain::Status status_of_read) {
        if (!status_of_read) return call->fail(status_of_read.error());
        call->reply(200, page_body("invites",
                                   to_json_array(result->items,
                                                 [now](const domain::InviteRecord& invite) {
                                                   return invite_json(invite, now);
                                                 }),
                                   page, result->total));
      });
}

void get_invite(Services& services, const CallPtr& call) {
  auto id = domain::Uuid::parse(call->request.path_params.at(0));
  if (!id) return call->fail(invite_not_found());
  auto invite = std::make_shared<std::optional<domain::InviteRecord>>();
  services.store.read(
      [call, id = *id, invite](domain::ReadTx& tx) -> domain::Status {
        *invite = tx.find_invite(call->principal->org_pk, id);
        if (!*invite || !domain::can_see_invite(*call->principal, **invite)) {
          return invite_not_found();
        }
        return {};
      },
      [call, invite](domain::Status status) {
        if (!status) return call->fail(status.error());
        call->reply(200, json::object{{"invite", invite_json(**invite, domain::now().seconds())}});
      });
}

// DELETE (revoke) and POST .../resend: the invite as it is afterwards.
template <bool kResend>
void change_invite(Services& services, const CallPtr& call) {
  if (!call->require_global_key()) return;
  auto id = domain::Uuid::parse(call->request.path_params.at(0));
  if (!id) return call->fail(invite_not_found());
  auto invite = std::make_shared<std::optional<domain::InviteRecord>>();
  auto now = domain::now();
  services.store.write(
      [&services, call, id = *id, invite, now](domain::WriteTx& tx) -> domain::Status {
        auto changed =
            kResend ? domain::resend_invite(tx, *call->principal, id, services.invite_policy, now)
                    : domain::revoke_invite(tx, *call->principal, id, now);
        if (!changed) return changed.error();
        *invite = std::move(*changed);
        return {};
      },
      [call, invite, now](domain::Status status) {
        if (!status) return call->fail(status.error());
        call->reply(
            200, json::object{{"success", true}, {"invite", invite_json(**invite, now.seconds())}});
      });
}

}  // namespace

void register_invites(http::Router& router, Services& services) {
  using http::Method;
  router.add(Method::kPost, "/api/v1/invites", api_endpoint(services, Body::kJson, create_invite));
  router.add(Method::kGet, "/api/v1/invites", api_endpoint(services, Body::kNone, list_invites));
  router.add(Method::kGet, "/api/v1/invites/{id}", api_endpoint(services, Body::kNone, get_invite));
  router.add(Method::kDelete, "/api/v1/invites/{id}",
             api_endpoint(services, Body::kNone, change_invite<false>));
  router.add(Method::kPost, "/api/v1/invites/{id}/resend",
             api_endpoint(services, Body::kNone, change_invite<true>));
}

}  // namespace invited::api
