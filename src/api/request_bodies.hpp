#pragma once

#include <boost/json.hpp>
#include <optional>
#include <string>

#include "domain/bulk_invite.hpp"
#include "domain/field_errors.hpp"
#include "domain/organizations.hpp"
#include "domain/resources.hpp"
#include "domain/types.hpp"
#include "domain/uuid.hpp"

namespace invited::api {

// The typed request of every JSON body an endpoint takes, read from the object that
// read_json_object() returned. Each reader refuses unknown fields, reads every field with its
// JSON type, then runs the domain validation of that request. It returns the request, or
// nullopt with every failing field added to `errors` (never nullopt with `errors` unchanged);
// the caller answers `400 validation_error` with them. Pure functions: no I/O, thread-safe.
// These are the handlers' own readers, kept apart from the handlers so that the fuzz targets
// (tests/fuzz/) run exactly the code an endpoint runs.

// POST /api/v1/invites/bulk.
std::optional<domain::BulkInviteRequest> read_bulk_invite(const boost::json::object& body,
                                                          domain::FieldErrors& errors);
// POST /api/v1/invites; `org_id` is the target of type "organization".
std::optional<domain::BulkInviteRequest> read_single_invite(const boost::json::object& body,
                                                            const domain::Uuid& org_id,
                                                            domain::FieldErrors& errors);
// POST /api/v1/websites.
std::optional<domain::NewWebsiteRequest> read_new_website(const boost::json::object& body,
                                                          domain::FieldErrors& errors);
// POST /api/v1/groups.
std::optional<domain::NewGroupRequest> read_new_group(const boost::json::object& body,
                                                      domain::FieldErrors& errors);
// PATCH /api/v1/groups/{id}.
std::optional<domain::GroupPatch> read_group_patch(const boost::json::object& body,
                                                   domain::FieldErrors& errors);
// POST /api/v1/api-keys.
std::optional<domain::NewApiKeyRequest> read_new_api_key(const boost::json::object& body,
                                                         domain::FieldErrors& errors);
// PATCH of a member of a website, group or the organization (`kind`): {"role"}.
std::optional<domain::Role> read_member_role(const boost::json::object& body,
                                             domain::TargetKind kind, domain::FieldErrors& errors);
// POST /api/v1/invitations/accept: the invitation token, 1..kMaxTokenLength bytes.
std::optional<std::string> read_accept_token(const boost::json::object& body,
                                             domain::FieldErrors& errors);

}  // namespace invited::api
