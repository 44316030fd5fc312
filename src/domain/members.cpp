#include "domain/members.hpp"

namespace invited::domain {
namespace {

Error member_not_found() { return {ErrorCode::kNotFound, "Member not found"}; }

Error last_owner() {
  return {ErrorCode::kConflict,
          "This user is the organization's last owner; make another member owner first"};
}

// The user's row key and current role on `target`, if they are a direct member.
std::optional<std::pair<Pk, Role>> current_membership(WriteTx& tx, Target target,
                                                      const Uuid& user_id) {
  auto user = tx.find_user_by_id(user_id);
  if (!user) return std::nullopt;
  auto role = tx.membership_role(target, user->pk);
  if (!role) return std::nullopt;
  return std::pair{user->pk, *role};
}

bool is_last_owner(WriteTx& tx, Pk org_pk, Target target, Role current) {
  return target.kind == TargetKind::kOrganization && current == Role::kOwner &&
         tx.count_organization_owners(org_pk) <= 1;
}

}  // namespace

std::optional<Role> validate_member_role(const std::optional<std::string>& role, TargetKind kind,
                                         FieldErrors& errors) {
  if (!role) {
    if (!errors.has("role")) errors.add("role", "is required");
    return std::nullopt;
  }
  auto parsed = parse_role(*role);
  bool organization = kind == TargetKind::kOrganization;
  if (!parsed || (*parsed == Role::kOwner && !organization)) {
    errors.add("role", organization ? R"(must be "owner", "admin" or "viewer")"
                                    : R"(must be "admin" or "viewer")");
    return std::nullopt;
  }
  return parsed;
}

Result<Member> change_member_role(WriteTx& tx, const Principal& principal, Target target,
                                  const Uuid& target_id, const Uuid& user_id, Role role,
                                  Instant now) {
  const Pk org_pk = principal.org_pk;
  auto membership = current_membership(tx, target, user_id);
  if (!membership) return member_not_found();
  auto [user_pk, current] = *membership;
  if (role != Role::kOwner && is_last_owner(tx, org_pk, target, current)) return last_owner();
  if (role != current) tx.set_membership_role(target, user_pk, role);
  auto member = tx.find_member(target, user_pk);
  if (!member) return member_not_found();
  if (role != current) {
    tx.record_event(membership_event(EventType::kMembershipUpdated, org_pk,
                                     MembershipFacts{.target = target,
                                                     .target_id = target_id,
                                                     .user = {user_pk, user_id},
                                                     .email = member->email,
                                                     .role = role},
                                     Actor::api_key(principal), now.seconds()));
  }
  return *member;
}

Status remove_member(WriteTx& tx, const Principal& principal, Target target, const Uuid& target_id,
                     const Uuid& user_id, Instant now) {
  const Pk org_pk = principal.org_pk;
  auto membership = current_membership(tx, target, user_id);
  if (!membership) return member_not_found();
  auto [user_pk, current] = *membership;
  if (is_last_owner(tx, org_pk, target, current)) return last_owner();
  auto member = tx.find_member(target, user_pk);
  tx.delete_membership(target, user_pk);
  tx.record_event(membership_event(EventType::kMembershipDeleted, org_pk,
                                   MembershipFacts{.target = target,
                                                   .target_id = target_id,
                                                   .user = {user_pk, user_id},
                                                   .email = member ? member->email : std::string(),
                                                   .role = current},
                                   Actor::api_key(principal), now.seconds()));
  return {};
}

}  // namespace invited::domain
