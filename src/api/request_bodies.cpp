#include "api/request_bodies.hpp"

#include "api/json_io.hpp"
#include "domain/invitations.hpp"
#include "domain/invites.hpp"
#include "domain/members.hpp"

namespace invited::api {
namespace json = boost::json;

std::optional<domain::BulkInviteRequest> read_bulk_invite(const json::object& body,
                                                          domain::FieldErrors& errors) {
  reject_unknown_fields(
      body,
      {"invite_method", "email", "role", "website_ids", "group_ids", "first_name", "last_name"},
      errors);
  domain::BulkInviteInput input{
      .invite_method = string_field(body, "invite_method", errors),
      .email = string_field(body, "email", errors),
      .role = string_field(body, "role", errors),
      .website_ids = string_array_field(body, "website_ids", errors),
      .group_ids = string_array_field(body, "group_ids", errors),
      .first_name = string_field(body, "first_name", errors),
      .last_name = string_field(body, "last_name", errors),
  };
  return domain::validate_bulk_invite(input, errors);
}

std::optional<domain::BulkInviteRequest> read_single_invite(const json::object& body,
                                                            const domain::Uuid& org_id,
                                                            domain::FieldErrors& errors) {
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
  return domain::validate_single_invite(input, org_id, errors);
}

std::optional<domain::NewWebsiteRequest> read_new_website(const json::object& body,
                                                          domain::FieldErrors& errors) {
  reject_unknown_fields(body, {"url", "name"}, errors);
  auto url = string_field(body, "url", errors);
  auto name = string_field(body, "name", errors);
  return domain::validate_new_website(url, name, errors);
}

std::optional<domain::NewGroupRequest> read_new_group(const json::object& body,
                                                      domain::FieldErrors& errors) {
  reject_unknown_fields(body, {"name", "website_ids"}, errors);
  auto name = string_field(body, "name", errors);
  auto website_ids = string_array_field(body, "website_ids", errors);
  return domain::validate_new_group(name, website_ids, errors);
}

std::optional<domain::GroupPatch> read_group_patch(const json::object& body,
                                                   domain::FieldErrors& errors) {
  reject_unknown_fields(body, {"name", "add_website_ids", "remove_website_ids"}, errors);
  auto name = string_field(body, "name", errors);
  auto add = string_array_field(body, "add_website_ids", errors);
  auto remove = string_array_field(body, "remove_website_ids", errors);
  return domain::validate_group_patch(name, add, remove, errors);
}

std::optional<domain::NewApiKeyRequest> read_new_api_key(const json::object& body,
                                                         domain::FieldErrors& errors) {
  reject_unknown_fields(body, {"name", "website_ids"}, errors);
  auto name = string_field(body, "name", errors);
  auto website_ids = string_array_field(body, "website_ids", errors);
  return domain::validate_new_api_key(name, website_ids, errors);
}

std::optional<domain::Role> read_member_role(const json::object& body, domain::TargetKind kind,
                                             domain::FieldErrors& errors) {
  reject_unknown_fields(body, {"role"}, errors);
  auto role = domain::validate_member_role(string_field(body, "role", errors), kind, errors);
  if (!errors.empty()) return std::nullopt;
  return role;
}

std::optional<std::string> read_accept_token(const json::object& body,
                                             domain::FieldErrors& errors) {
  reject_unknown_fields(body, {"token"}, errors);
  auto token = string_field(body, "token", errors);
  if (!token && !errors.has("token")) errors.add("token", "is required");
  if (token && (token->empty() || token->size() > domain::kMaxTokenLength)) {
    errors.add("token", "must be the token of an invitation link");
  }
  if (!errors.empty()) return std::nullopt;
  return token;
}

}  // namespace invited::api
