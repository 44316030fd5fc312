#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "domain/records.hpp"
#include "domain/types.hpp"
#include "domain/uuid.hpp"
#include "store/postgres/connection.hpp"
#include "store/postgres/list_page.hpp"

namespace invited::store::postgres {

// Who reaches one website, and how: directly, through a live group that holds it, or as a
// member of its organization (SPEC §1), read in the member list's order from the indexes of
// the three grant paths, so a page costs about its own length whatever the number of people
// who reach the website (website_access.cpp has the plan). The PostgreSQL twin of
// store/sqlite/website_access.hpp: the same rows in the same order.
//
// Both run inside the caller's transaction on `db`.

// Up to `count` members of website `website_pk` of organization `org_pk` after `after`, in list
// order (the time of each user's earliest grant through any path, then user id), one row per
// user with their strongest role (ties go to the most direct access: website, then group, then
// organization).
std::vector<domain::Member> walk_website_members(Connection& db, domain::Pk org_pk,
                                                 domain::Pk website_pk, ListPosition after,
                                                 std::int64_t count);

// Where user `user_id` stands in that list: at their earliest grant that reaches the website
// now, else (a member removed since they were listed) at the earliest grant among the removed
// memberships that gave access (exact when one membership gave it). Nullopt if neither.
std::optional<ListPosition> locate_website_member(Connection& db, domain::Pk org_pk,
                                                  domain::Pk website_pk,
                                                  const domain::Uuid& user_id);

}  // namespace invited::store::postgres
