#pragma once

#include <optional>
#include <span>
#include <vector>

#include "domain/records.hpp"

namespace invited::domain {

// Storage of direct memberships: at most one (user, target, role) per user and target, where a
// target is an organization, a website or a group. Part of a unit of work (domain/store.hpp).
class MembershipReadTx {
 public:
  virtual ~MembershipReadTx() = default;

  virtual bool has_membership(Target target, Pk user_pk) = 0;
  virtual std::optional<Role> membership_role(Target target, Pk user_pk) = 0;
  // The member row of `user_pk` on `target` (direct membership only).
  virtual std::optional<Member> find_member(Target target, Pk user_pk) = 0;
  // Whether the user holds any membership in the organization (itself, a website or a group).
  virtual bool has_any_membership(Pk org_pk, Pk user_pk) = 0;
  // The set-based twin of has_membership: whether the user holds a direct membership on each of
  // `target_pks` (all targets of kind `kind`), one flag per target in the same order.
  virtual std::vector<bool> find_memberships(TargetKind kind, std::span<const Pk> target_pks,
                                             Pk user_pk) = 0;
};

class MembershipWriteTx : public virtual MembershipReadTx {
 public:
  // Adds the membership unless the user already has one on `target`; true if it was added.
  // The store's uniqueness constraint decides, so concurrent callers see exactly one `true`.
  virtual bool add_membership_if_absent(Target target, Pk user_pk, Role role, UnixSeconds now) = 0;
  // The set-based twin: add_membership_if_absent of `user` on each of `target_pks` (distinct
  // targets of kind `kind`) at once; one flag per target in the same order, true where it was
  // added. It takes the whole UserRef so that a store need not read the user's row again.
  virtual std::vector<bool> add_memberships_if_absent(TargetKind kind,
                                                      std::span<const Pk> target_pks,
                                                      const UserRef& user, Role role,
                                                      UnixSeconds now) = 0;
  virtual void set_membership_role(Target target, Pk user_pk, Role role) = 0;
  // True if a membership was removed.
  virtual bool delete_membership(Target target, Pk user_pk) = 0;
  virtual int count_organization_owners(Pk org_pk) = 0;
};

}  // namespace invited::domain
