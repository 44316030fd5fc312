#pragma once

#include <string_view>

#include "domain/result.hpp"
#include "domain/types.hpp"

namespace invited::domain {

// The sentences of the contract about one target (SPEC §4 results), in one place.

// "Website not found", "Group not found", "Organization not found".
std::string_view target_not_found(TargetKind kind);
// "User is already a member of this website" (group, organization).
std::string_view already_member(TargetKind kind);
// "User added to website" (group, organization).
std::string_view user_added(TargetKind kind);

inline constexpr std::string_view kInvitationSent = "Invitation sent";

// kNotFound with target_not_found(kind).
Error not_found(TargetKind kind);

}  // namespace invited::domain
