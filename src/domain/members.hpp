#pragma once

#include <optional>
#include <string>

#include "domain/clock.hpp"
#include "domain/field_errors.hpp"
#include "domain/principal.hpp"
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
// Records membership.updated when the role changes (actor: the principal's key); `target_id`
// is the target's public id, for the event.
Result<Member> change_member_role(WriteTx& tx, const Principal& principal, Target target,
                                  const Uuid& target_id, const Uuid& user_id, Role role,
                                  Instant now);

// kNotFound when there is nothing to remove; removing the organization's last owner is
// kConflict. Records membership.deleted with the membership as it was.
Status remove_member(WriteTx& tx, const Principal& principal, Target target, const Uuid& target_id,
                     const Uuid& user_id, Instant now);

}  // namespace invited::domain
