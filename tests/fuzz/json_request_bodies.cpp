// Fuzzes the JSON request bodies: arbitrary bytes as the body of a JSON endpoint go through
// read_json_object() (the body checks of SPEC §3) and, when they make an object, through every
// endpoint's reader and its domain validation (api/request_bodies.hpp) — the code the endpoints
// run. Properties: nothing crashes or trips a sanitizer; a rejection is 400 invalid_json or
// 413 with the SPEC §3 error body; a reader returns a request exactly when no field failed,
// and a failure answers 400 validation_error whose body is valid UTF-8 JSON listing each field;
// an accepted request keeps the limits of its contract.
#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <variant>

#include "api/json_io.hpp"
#include "api/request_bodies.hpp"
#include "domain/bulk_invite.hpp"
#include "fuzz_check.hpp"

namespace {

using namespace invited;
namespace json = boost::json;
using fuzz::check;

// The error body of SPEC §3: {"success": false, "error": "...", "code": `code`, "details"?}.
void check_error_body(const http::Response& response, std::string_view code) {
  check(fuzz::is_utf8(response.body), "an error body is valid UTF-8");
  boost::system::error_code error;
  json::value value = json::parse(response.body, error);
  check(!error && value.is_object(), "an error body is one JSON object");
  const auto& body = value.as_object();
  check(body.contains("success") && body.at("success") == false, "an error says success: false");
  check(body.contains("code") && body.at("code").is_string() && body.at("code").as_string() == code,
        "an error carries its code");
  check(body.contains("error") && body.at("error").is_string() &&
            !body.at("error").as_string().empty(),
        "an error has a message");
  if (code != "validation_error") return;
  check(body.contains("details") && body.at("details").is_array() &&
            !body.at("details").as_array().empty(),
        "a validation error lists its fields");
  // A detail's field is the key as sent, so it may be "" ({"": 1}: "a field name is empty").
  for (const auto& detail : body.at("details").as_array()) {
    check(detail.is_object() && detail.as_object().contains("field") &&
              detail.as_object().at("field").is_string() &&
              detail.as_object().contains("message") &&
              detail.as_object().at("message").is_string() &&
              !detail.as_object().at("message").as_string().empty(),
          "every detail has a field and a message");
  }
}

// Runs one reader and checks the contract shared by all of them; returns what it read.
template <typename Read>
auto read_checked(Read read) {
  domain::FieldErrors errors;
  auto request = read(errors);
  check(request.has_value() == errors.empty(),
        "a reader returns a request exactly when no field failed");
  if (!request) {
    auto response = api::validation_error(errors);
    check(response.status == 400, "a field failure is 400");
    check_error_body(response, "validation_error");
  }
  return request;
}

void check_targets(const domain::BulkInviteRequest& request, std::size_t max) {
  check(!request.target_ids.empty() && request.target_ids.size() <= max,
        "an invite names 1..max targets");
  for (std::size_t i = 0; i < request.target_ids.size(); ++i) {
    for (std::size_t k = i + 1; k < request.target_ids.size(); ++k) {
      check(request.target_ids[i] != request.target_ids[k], "invite targets are distinct");
    }
  }
  check(request.role != domain::Role::kOwner, "an invite never grants owner");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  http::Request request;
  request.method = http::Method::kPost;
  request.headers.emplace_back("content-type", "application/json");
  request.body.assign(reinterpret_cast<const char*>(data), size);

  auto parsed = api::read_json_object(request);
  if (const auto* rejection = std::get_if<http::Response>(&parsed)) {
    check(rejection->status == 400 || rejection->status == 413, "a body is refused 400 or 413");
    check_error_body(*rejection, rejection->status == 400 ? "invalid_json" : "payload_too_large");
    return 0;
  }
  const json::object& body = std::get<json::object>(parsed);

  if (auto bulk = read_checked([&](auto& e) { return api::read_bulk_invite(body, e); })) {
    check(bulk->kind != domain::TargetKind::kOrganization, "a bulk invite is never to the org");
    check_targets(*bulk, domain::kMaxBulkTargets);
  }
  const domain::Uuid org_id = *domain::Uuid::parse("0190a0b8-7c3e-7a51-9d2f-3b4c5d6e7f80");
  if (auto single =
          read_checked([&](auto& e) { return api::read_single_invite(body, org_id, e); })) {
    check_targets(*single, 1);
    if (single->kind == domain::TargetKind::kOrganization) {
      check(single->target_ids.front() == org_id, "an organization invite targets the caller");
    }
  }
  if (auto website = read_checked([&](auto& e) { return api::read_new_website(body, e); })) {
    check(!website->url.empty() && !website->name.empty(), "a website has a URL and a name");
  }
  read_checked([&](auto& e) { return api::read_new_group(body, e); });
  read_checked([&](auto& e) { return api::read_group_patch(body, e); });
  read_checked([&](auto& e) { return api::read_new_api_key(body, e); });
  for (auto kind : {domain::TargetKind::kWebsite, domain::TargetKind::kGroup,
                    domain::TargetKind::kOrganization}) {
    if (auto role = read_checked([&](auto& e) { return api::read_member_role(body, kind, e); })) {
      check(*role != domain::Role::kOwner || kind == domain::TargetKind::kOrganization,
            "only organization members can be owners");
    }
  }
  if (auto token = read_checked([&](auto& e) { return api::read_accept_token(body, e); })) {
    check(!token->empty(), "a token is never empty");
  }
  return 0;
}
