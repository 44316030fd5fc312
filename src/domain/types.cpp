#include "domain/types.hpp"

#include <ctime>

namespace invited::domain {

std::optional<Role> parse_role(std::string_view text) {
  if (text == "viewer") return Role::kViewer;
  if (text == "admin") return Role::kAdmin;
  if (text == "owner") return Role::kOwner;
  return std::nullopt;
}

std::string_view role_name(Role role) {
  switch (role) {
    case Role::kViewer:
      return "viewer";
    case Role::kAdmin:
      return "admin";
    case Role::kOwner:
      return "owner";
  }
  return "viewer";
}

std::string_view target_kind_name(TargetKind kind) {
  switch (kind) {
    case TargetKind::kOrganization:
      return "organization";
    case TargetKind::kWebsite:
      return "website";
    case TargetKind::kGroup:
      return "group";
  }
  return "website";
}

std::optional<InviteMethod> parse_invite_method(std::string_view text) {
  if (text == "direct") return InviteMethod::kDirect;
  if (text == "email") return InviteMethod::kEmail;
  return std::nullopt;
}

std::string_view invite_status_name(InviteStatus status) {
  switch (status) {
    case InviteStatus::kPending:
      return "pending";
    case InviteStatus::kAccepted:
      return "accepted";
    case InviteStatus::kDeclined:
      return "declined";
    case InviteStatus::kExpired:
      return "expired";
    case InviteStatus::kRevoked:
      return "revoked";
  }
  return "pending";
}

std::optional<InviteStatus> parse_invite_status(std::string_view text) {
  for (auto status : {InviteStatus::kPending, InviteStatus::kAccepted, InviteStatus::kDeclined,
                      InviteStatus::kExpired, InviteStatus::kRevoked}) {
    if (invite_status_name(status) == text) return status;
  }
  return std::nullopt;
}

std::string_view delivery_name(Delivery delivery) {
  switch (delivery) {
    case Delivery::kQueued:
      return "queued";
    case Delivery::kSent:
      return "sent";
    case Delivery::kFailed:
      return "failed";
  }
  return "queued";
}

std::string_view access_type_name(AccessType access) {
  switch (access) {
    case AccessType::kOrganization:
      return "organization";
    case AccessType::kGroup:
      return "group";
    case AccessType::kWebsite:
      return "website";
  }
  return "website";
}

std::string format_timestamp(UnixSeconds seconds) {
  std::time_t t = static_cast<std::time_t>(seconds);
  std::tm utc{};
  gmtime_r(&t, &utc);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buffer;
}

}  // namespace invited::domain
