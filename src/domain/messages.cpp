#include "domain/messages.hpp"

#include <string>

namespace invited::domain {

std::string_view target_not_found(TargetKind kind) {
  switch (kind) {
    case TargetKind::kOrganization:
      return "Organization not found";
    case TargetKind::kGroup:
      return "Group not found";
    case TargetKind::kWebsite:
      return "Website not found";
  }
  return "Website not found";
}

std::string_view already_member(TargetKind kind) {
  switch (kind) {
    case TargetKind::kOrganization:
      return "User is already a member of this organization";
    case TargetKind::kGroup:
      return "User is already a member of this group";
    case TargetKind::kWebsite:
      return "User is already a member of this website";
  }
  return "User is already a member of this website";
}

std::string_view user_added(TargetKind kind) {
  switch (kind) {
    case TargetKind::kOrganization:
      return "User added to organization";
    case TargetKind::kGroup:
      return "User added to group";
    case TargetKind::kWebsite:
      return "User added to website";
  }
  return "User added to website";
}

Error not_found(TargetKind kind) {
  return {ErrorCode::kNotFound, std::string(target_not_found(kind))};
}

}  // namespace invited::domain
