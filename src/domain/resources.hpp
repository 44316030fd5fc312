#pragma once

#include <optional>
#include <string>
#include <vector>

#include "domain/clock.hpp"
#include "domain/field_errors.hpp"
#include "domain/principal.hpp"
#include "domain/records.hpp"
#include "domain/result.hpp"
#include "domain/store.hpp"
#include "domain/uuid.hpp"

namespace invited::domain {

inline constexpr std::size_t kMaxUrlLength = 2048;
inline constexpr std::size_t kMaxResourceNameLength = 200;
inline constexpr std::size_t kMaxGroupWebsites = 1000;

// POST /api/v1/websites: an absolute http(s) URL with a host, at most 2048 characters, no
// whitespace or control characters; an optional name (1..200 characters), defaulting to the
// URL's host.
struct NewWebsiteRequest {
  std::string url;
  std::string name;
};

std::optional<NewWebsiteRequest> validate_new_website(const std::optional<std::string>& url,
                                                      const std::optional<std::string>& name,
                                                      FieldErrors& errors);

// POST /api/v1/groups: a name (1..200 characters) and up to 1000 distinct website ids.
struct NewGroupRequest {
  std::string name;
  std::vector<Uuid> website_ids;
};

std::optional<NewGroupRequest> validate_new_group(
    const std::optional<std::string>& name,
    const std::optional<std::vector<std::string>>& website_ids, FieldErrors& errors);

// PATCH /api/v1/groups/{id}: an optional new name, website ids to add and to remove (at most
// 1000 each, distinct, none in both lists).
struct GroupPatch {
  std::optional<std::string> name;
  std::vector<Uuid> add_website_ids;
  std::vector<Uuid> remove_website_ids;
};

std::optional<GroupPatch> validate_group_patch(
    const std::optional<std::string>& name,
    const std::optional<std::vector<std::string>>& add_website_ids,
    const std::optional<std::vector<std::string>>& remove_website_ids, FieldErrors& errors);

// Row keys of live websites of `org_pk` for `ids`; an unknown id is reported as
// `field[i]` "is not a website of this organization".
std::vector<Pk> resolve_websites(TenancyReadTx& tx, Pk org_pk, std::string_view field,
                                 const std::vector<Uuid>& ids, FieldErrors& errors);

// Every change below records its event of SPEC §9 in the same unit (actor: the principal's key):
// website.created / .deleted / .restored, group.created / .updated / .deleted, and
// invitation.revoked for each pending invite a deletion revokes. Nothing when nothing changed
// (deleting a deleted website, restoring a live one).
//
// Creates a website of the principal's organization.
Result<Website> create_website(WriteTx& tx, const Principal& principal,
                               const NewWebsiteRequest& request, Instant now);

// Creates a group of the principal's organization. kValidation (with `errors` filled) if a
// website id is unknown.
Result<Group> create_group(WriteTx& tx, const Principal& principal, const NewGroupRequest& request,
                           Instant now, FieldErrors& errors);

// Applies a patch: renames, adds websites (already present ones are ignored), removes websites
// (absent ones are ignored). kNotFound for an unknown group; kValidation (with `errors` filled)
// if an id to add is not a live website of the organization.
Result<Group> patch_group(WriteTx& tx, const Principal& principal, const Uuid& group_id,
                          const GroupPatch& patch, Instant now, FieldErrors& errors);

// Deletes the group: it disappears from lists and its members lose the access it gave them.
// kNotFound if it does not exist (or was already deleted).
Status delete_group(WriteTx& tx, const Principal& principal, const Uuid& group_id, Instant now);

// Soft-deletes a website (idempotent: deleting a deleted website succeeds) or restores one
// (idempotent too). kNotFound if the organization has no such website.
Result<Website> delete_website(WriteTx& tx, const Principal& principal, const Uuid& website_id,
                               Instant now);
Result<Website> restore_website(WriteTx& tx, const Principal& principal, const Uuid& website_id,
                                Instant now);

// The ids of a list field: each must be a UUID and appear once; failures are reported as
// `field[i]`.
std::vector<Uuid> parse_distinct_ids(std::string_view field, const std::vector<std::string>& ids,
                                     FieldErrors& errors);

// An optional list of at most 1000 distinct website ids (empty when absent); failures are
// reported on `field` or `field[i]`.
std::vector<Uuid> parse_website_id_list(std::string_view field,
                                        const std::optional<std::vector<std::string>>& ids,
                                        FieldErrors& errors);

// Validates a name field of a resource: present (when `required`), 1..200 characters, no
// control characters.
std::optional<std::string> validate_resource_name(std::string_view field,
                                                  const std::optional<std::string>& name,
                                                  bool required, FieldErrors& errors);

}  // namespace invited::domain
