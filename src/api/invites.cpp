// /api/v1/invites: one invite, list, get, revoke, resend (SPEC §5). Website invites are open
// to scoped keys within their allowlist; revoke and resend need a global key.
#include "domain/invites.hpp"

#include <boost/json.hpp>

#include "api/invite_submission.hpp"
#include "api/json_io.hpp"
#include "api/paged_read.hpp"
#include "api/request_bodies.hpp"
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
  auto request = read_single_invite(call->body, call->principal->org_id, errors);
  if (!request) return call->reply(validation_error(errors));
  submit_invite(
      services, call, std::move(*request),
      [](const domain::BulkInviteRequest& submitted, const domain::BulkInviteOutcome& outcome) {
        // A failed single invite wrote nothing; rolling back keeps it that way.
        return domain::single_invite_status(submitted, outcome.results.front());
      },
      [](const domain::BulkInviteRequest& submitted, const domain::BulkInviteOutcome& outcome) {
        const auto& result = outcome.results.front();
        if (result.outcome == domain::TargetOutcome::kAdded) {
          return json_response(200, json::object{{"success", true},
                                                 {"message", domain::user_added(submitted.kind)},
                                                 {"user_id", uuid_json(result.id)}});
        }
        return json_response(200, json::object{{"success", true},
                                               {"message", domain::kInvitationSent},
                                               {"invite_id", uuid_json(result.id)}});
      });
}

void list_invites(Services& services, const CallPtr& call) {
  domain::FieldErrors errors;
  auto list = read_list_request(call->request, errors);
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
  reply_with_list<domain::InviteRecord>(
      services, call, std::move(list), "invites", "the id of an invite this key can list",
      [call, status, email_key, website_id, group_id, now](
          domain::ReadTx& tx, const domain::ListRequest& requested,
          domain::Page<domain::InviteRecord>& out) {
        const auto& principal = *call->principal;
        // An id the key cannot see filters everything out, as an unknown id does.
        const domain::InviteFilter filter{
            .status = status,
            .now = now,
            .email_key = email_key,
            .website_id = website_id,
            .group_id = group_id,
            .scoped_key_pk = principal.scoped ? std::optional(principal.key_pk) : std::nullopt};
        out = tx.list_invites(principal.org_pk, filter, requested);
        return domain::Status();
      },
      [now](const domain::InviteRecord& invite) { return invite_json(invite, now); });
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
  call->write(
      [&services, principal = call->principal, id = *id, invite,
       now](domain::WriteTx& tx) -> domain::Status {
        auto changed = kResend
                           ? domain::resend_invite(tx, *principal, id, services.invite_policy, now)
                           : domain::revoke_invite(tx, *principal, id, now);
        if (!changed) return changed.error();
        *invite = std::move(*changed);
        return {};
      },
      [invite, now](const domain::Status& status) {
        if (!status) return error_response(status.error());
        return json_response(
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
