#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace invited::domain {

// Row key inside the store. Never leaves the process: the API speaks Uuid.
using Pk = std::int64_t;

// Seconds since the Unix epoch, UTC.
using UnixSeconds = std::int64_t;

// Roles in rising strength; the numeric value is stored and compared.
enum class Role : int { kViewer = 1, kAdmin = 2, kOwner = 3 };

std::optional<Role> parse_role(std::string_view text);
std::string_view role_name(Role role);

// What a membership or invite points at.
enum class TargetKind : int { kOrganization = 0, kWebsite = 1, kGroup = 2 };

std::string_view target_kind_name(TargetKind kind);

struct Target {
  TargetKind kind;
  Pk pk;
};

enum class InviteMethod { kDirect, kEmail };

std::optional<InviteMethod> parse_invite_method(std::string_view text);

// Stored status of an invite. kExpired is only ever derived (a pending invite past its expiry)
// or stored when a replacement closes an expired one.
enum class InviteStatus : int {
  kPending = 0,
  kAccepted = 1,
  kDeclined = 2,
  kExpired = 3,
  kRevoked = 4,
};

std::string_view invite_status_name(InviteStatus status);
std::optional<InviteStatus> parse_invite_status(std::string_view text);

enum class Delivery : int { kQueued = 0, kSent = 1, kFailed = 2 };

std::string_view delivery_name(Delivery delivery);

// How a member reaches a website: directly, through a group, or as an organization member.
enum class AccessType : int { kOrganization = 0, kGroup = 1, kWebsite = 2 };

std::string_view access_type_name(AccessType access);

// RFC 3339 UTC with second precision: 2026-11-26T11:30:27Z.
std::string format_timestamp(UnixSeconds seconds);

}  // namespace invited::domain
