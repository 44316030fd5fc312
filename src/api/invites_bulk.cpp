// POST /api/v1/invites/bulk (SPEC §4).
#include <boost/json.hpp>

#include "api/json_io.hpp"
#include "api/routes.hpp"
#include "domain/bulk_invite.hpp"
#include "domain/clock.hpp"

namespace invited::api {
namespace json = boost::json;
namespace {

using domain::TargetKind;
using domain::TargetOutcome;

domain::BulkInviteInput read_input(const json::object& body, domain::FieldErrors& errors) {
  reject_unknown_fields(
      body,
      {"invite_method", "email", "role", "website_ids", "group_ids", "first_name", "last_name"},
      errors);
  return domain::BulkInviteInput{
      .invite_method = string_field(body, "invite_method", errors),
      .email = string_field(body, "email", errors),
      .role = string_field(body, "role", errors),
      .website_ids = string_array_field(body, "website_ids", errors),
      .group_ids = string_array_field(body, "group_ids", errors),
      .first_name = string_field(body, "first_name", errors),
      .last_name = string_field(body, "last_name", errors),
  };
}

json::object result_json(TargetKind kind, const domain::TargetResult& result) {
  const bool website = kind == TargetKind::kWebsite;
  json::object item;
  item[website ? "website_id" : "group_id"] = uuid_json(result.target_id);
  switch (result.outcome) {
    case TargetOutcome::kNotFound:
      item["success"] = false;
      item["error"] = website ? "Website not found" : "Group not found";
      break;
    case TargetOutcome::kAlreadyMember:
      item["success"] = false;
      item["error"] = website ? "User is already a member of this website"
                              : "User is already a member of this group";
      break;
    case TargetOutcome::kAdded:
      item["success"] = true;
      item["message"] = website ? "User added to website" : "User added to group";
      item["user_id"] = uuid_json(result.id);
      break;
    case TargetOutcome::kInvited:
      item["success"] = true;
      item["message"] = "Invitation sent";
      item["invite_id"] = uuid_json(result.id);
      break;
  }
  return item;
}

void bulk_invite(Services& services, const CallPtr& call) {
  domain::FieldErrors errors;
  auto input = read_input(call->body, errors);
  auto request = domain::validate_bulk_invite(input, errors);
  if (!request) return call->reply(validation_error(errors));
  if (auto scope = domain::check_bulk_invite_scope(*call->principal, *request); !scope) {
    return call->fail(scope.error());
  }
  auto now = domain::now();
  auto budget = services.limiter.take_targets(
      call->principal->org_pk, static_cast<std::int64_t>(request->target_ids.size()), now.unix_ms);
  if (!budget.allowed) return call->reply(rate_limited_response(budget, "hourly invite"));

  auto shared_request = std::make_shared<domain::BulkInviteRequest>(std::move(*request));
  auto outcome = std::make_shared<domain::BulkInviteOutcome>();
  services.store.write(
      [&services, call, shared_request, outcome, now](domain::WriteTx& tx) -> domain::Status {
        *outcome = domain::run_bulk_invite(tx, *call->principal, *shared_request,
                                           services.invite_policy, now);
        return {};
      },
      [call, shared_request, outcome](domain::Status status) {
        if (!status) return call->fail(status.error());
        json::array results;
        results.reserve(outcome->results.size());
        for (const auto& result : outcome->results) {
          results.push_back(result_json(shared_request->kind, result));
        }
        call->reply(200, json::object{{"success", true}, {"results", std::move(results)}});
      });
}

}  // namespace

void register_invites_bulk(http::Router& router, Services& services) {
  router.add(http::Method::kPost, "/api/v1/invites/bulk",
             api_endpoint(services, Body::kJson, bulk_invite));
}

}  // namespace invited::api
