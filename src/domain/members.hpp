#pragma once

#include <optional>
#include <string>

#include "domain/field_errors.hpp"
#include "domain/records.hpp"
#include "domain/result.hpp"
#include "domain/store.hpp"

namespace invited::domain {

// Changing and removing memberships (PATCH and DELETE of .../members/{user_id}). Only direct
// memberships of the target are changed: access through a group or the organization is managed
// on that group or the organization.

// The role of a PATCH body: admin or viewer, and for the organization also owner.
std::optional<Role> validate_member_role(const std::optional<std::string>& role, TargetKind kind,
                                         FieldErrors& errors);

// kNotFound when the user has no direct membership on `target`. The organization always keeps
// at least one owner: demoting the last one is kConflict.
Result<Member> change_member_role(WriteTx& tx, Pk org_pk, Target target, const Uuid& user_id,
                                  Role role);

// kNotFound when there is nothing to remove; removing the organization's last owner is
// kConflict.
Status remove_member(WriteTx& tx, Pk org_pk, Target target, const Uuid& user_id);

}  // namespace invited::domain
