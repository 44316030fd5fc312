// POST /api/v1/invites/bulk (SPEC §4).
#include <boost/json.hpp>

#include "api/invite_submission.hpp"
#include "api/json_io.hpp"
#include "api/request_bodies.hpp"
#include "api/routes.hpp"
#include "domain/bulk_invite.hpp"
#include "domain/clock.hpp"
#include "domain/messages.hpp"

namespace invited::api {
namespace json = boost::json;
namespace {

using domain::TargetKind;
using domain::TargetOutcome;

// The response body, written directly: every string in it is either a constant of the
// contract or a UUID, so nothing needs escaping. (The hot path of the service: building a
// boost::json tree of 50 results cost more than the rest of the JSON work together.)
std::string results_json(TargetKind kind, const std::vector<domain::TargetResult>& results) {
  const bool website = kind == TargetKind::kWebsite;
  const std::string_view target_key = website ? R"({"website_id":")" : R"({"group_id":")";
  std::string out;
  out.reserve(40 + results.size() * 140);
  out += R"({"success":true,"results":[)";
  char id[36];
  for (std::size_t i = 0; i < results.size(); ++i) {
    const auto& result = results[i];
    if (i) out += ',';
    out += target_key;
    result.target_id.write(id);
    out.append(id, sizeof id);
    out += "\",";
    switch (result.outcome) {
      case TargetOutcome::kNotFound:
        out += R"("success":false,"error":")";
        out += domain::target_not_found(kind);
        out += "\"}";
        continue;
      case TargetOutcome::kAlreadyMember:
        out += R"("success":false,"error":")";
        out += domain::already_member(kind);
        out += "\"}";
        continue;
      case TargetOutcome::kAdded:
        out += R"("success":true,"message":")";
        out += domain::user_added(kind);
        out += R"(","user_id":")";
        break;
      case TargetOutcome::kInvited:
        out += R"("success":true,"message":")";
        out += domain::kInvitationSent;
        out += R"(","invite_id":")";
        break;
    }
    result.id.write(id);
    out.append(id, sizeof id);
    out += "\"}";
  }
  out += "]}";
  return out;
}

void bulk_invite(Services& services, const CallPtr& call) {
  domain::FieldErrors errors;
  auto request = read_bulk_invite(call->body, errors);
  if (!request) return call->reply(validation_error(errors));
  submit_invite(
      services, call, std::move(*request),
      [](const domain::BulkInviteRequest&, const domain::BulkInviteOutcome&) {
        return domain::Status();  // per-target failures are results, not errors
      },
      [](const domain::BulkInviteRequest& submitted, const domain::BulkInviteOutcome& outcome) {
        return json_text_response(200, results_json(submitted.kind, outcome.results));
      });
}

}  // namespace

void register_invites_bulk(http::Router& router, Services& services) {
  router.add(http::Method::kPost, "/api/v1/invites/bulk",
             api_endpoint(services, Body::kJson, bulk_invite));
}

}  // namespace invited::api
