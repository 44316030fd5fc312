#pragma once

#include "domain/records.hpp"

namespace invited::domain {

// The member lists (SPEC §5): who reaches a website, a group or the organization, and what a
// user reaches. Read-only; part of a unit of work (domain/store.hpp). Each list takes either
// form of ListRequest and keeps one order in both.
class MemberListReadTx {
 public:
  virtual ~MemberListReadTx() = default;

  // Everyone who reaches the website: directly, through a group holding it, or as an
  // organization member; one row per user with the strongest role (ties go to the most direct
  // access), ordered by the time they first gained access (any path; that is the row's
  // created_at), then user id. A cursor is a user id that still reaches the website.
  virtual Page<Member> list_website_members(Pk org_pk, Pk website_pk,
                                            const ListRequest& request) = 0;
  // Direct members of the group, by created_at, then user id.
  virtual Page<Member> list_group_members(Pk group_pk, const ListRequest& request) = 0;
  // Organization members, by created_at, then user id.
  virtual Page<Member> list_organization_members(Pk org_pk, const ListRequest& request) = 0;
  // Every live website of `org_pk` the user reaches, with the strongest role (ties go to the
  // most direct access), in website order (created_at, then id). A cursor is any website of the
  // organization.
  virtual Page<UserWebsite> list_user_websites(Pk org_pk, Pk user_pk,
                                               const ListRequest& request) = 0;
};

}  // namespace invited::domain
