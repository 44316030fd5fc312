// POST /api/v1/invitations/accept: accepting an invitation as JSON (SPEC §5). No API key: the
// token is the credential.
#include "domain/invitations.hpp"

#include <boost/json.hpp>

#include "api/json_io.hpp"
#include "api/request_bodies.hpp"
#include "api/routes.hpp"
#include "domain/clock.hpp"
#include "domain/messages.hpp"

namespace invited::api {
namespace json = boost::json;
namespace {

std::string_view target_key(domain::TargetKind kind) {
  switch (kind) {
    case domain::TargetKind::kOrganization:
      return "organization_id";
    case domain::TargetKind::kGroup:
      return "group_id";
    case domain::TargetKind::kWebsite:
      return "website_id";
  }
  return "website_id";
}

// One result, shaped like a bulk result.
json::object result_json(const domain::AcceptResult& result, const domain::Uuid& user_id) {
  json::object item;
  item[target_key(result.kind)] = uuid_json(result.target_id);
  switch (result.outcome) {
    case domain::AcceptOutcome::kAdded:
      item["success"] = true;
      item["message"] = domain::user_added(result.kind);
      item["user_id"] = uuid_json(user_id);
      break;
    case domain::AcceptOutcome::kAlreadyMember:
      item["success"] = false;
      item["error"] = domain::already_member(result.kind);
      break;
    case domain::AcceptOutcome::kTargetGone:
      item["success"] = false;
      item["error"] = domain::target_not_found(result.kind);
      break;
    case domain::AcceptOutcome::kNotPending:
      item["success"] = false;
      item["error"] = "Invitation was revoked";
      break;
  }
  return item;
}

void accept(Services& services, const CallPtr& call) {
  domain::FieldErrors errors;
  auto token = read_accept_token(call->body, errors);
  if (!token) return call->reply(validation_error(errors));

  auto accepted = std::make_shared<domain::Result<domain::AcceptedInvitation>>(
      domain::Error{domain::ErrorCode::kInternal, ""});
  auto now = domain::now();
  services.store.write(
      [accepted, token = *token, now](domain::WriteTx& tx) {
        *accepted = domain::accept_invitation(tx, token, now);
        if (!*accepted) return domain::Status(accepted->error());
        return domain::Status();
      },
      [call, accepted](domain::Status status) {
        if (!*accepted) return call->fail(accepted->error());
        if (!status) return call->fail(status.error());
        const auto& value = **accepted;
        json::array results;
        for (const auto& result : value.results)
          results.push_back(result_json(result, value.user.id));
        call->reply(200, json::object{{"success", true},
                                      {"user_id", uuid_json(value.user.id)},
                                      {"results", std::move(results)}});
      });
}

}  // namespace

void register_invitations(http::Router& router, Services& services) {
  router.add(
      http::Method::kPost, "/api/v1/invitations/accept",
      throttled_token_endpoint(services, TokenAnswer::kJson,
                               public_json_endpoint(services, [&services](const CallPtr& call) {
                                 accept(services, call);
                               })));
}

}  // namespace invited::api
