// The member lists (domain/member_list_store.hpp).
#include <utility>

#include "store/list_reading.hpp"
#include "store/sqlite/list_page.hpp"
#include "store/sqlite/member_rows.hpp"
#include "store/sqlite/transaction.hpp"
#include "store/sqlite/website_access.hpp"

namespace invited::store::sqlite {

using domain::Pk;
using domain::UnixSeconds;
using domain::Uuid;

namespace {

// The page form of a website's member list: every grant that reaches website ?2 of
// organization ?1, reduced to one row per user with the strongest role (ties go to the most
// direct access: website, then group, then organization) and the time of the earliest grant.
// Ranks every member, so its cost grows with the list; the cursor form walks the indexes
// instead (website_access.cpp) and yields the same rows in the same order.
#define INVITED_WEBSITE_ACCESS_CTE                                                            \
  "WITH grants(user_pk, role, access, created_at) AS ("                                       \
  "  SELECT user_pk, role, 2, created_at FROM website_members WHERE website_pk = ?2"          \
  "  UNION ALL"                                                                               \
  "  SELECT gm.user_pk, gm.role, 1, gm.created_at FROM group_members gm"                      \
  "    JOIN group_websites gw ON gw.group_pk = gm.group_pk"                                   \
  "    JOIN website_groups g ON g.pk = gm.group_pk AND g.deleted_at IS NULL"                  \
  "    WHERE gw.website_pk = ?2"                                                              \
  "  UNION ALL"                                                                               \
  "  SELECT user_pk, role, 0, created_at FROM organization_members WHERE org_pk = ?1"         \
  "), best AS ("                                                                              \
  "  SELECT user_pk, role, access, MIN(created_at) OVER (PARTITION BY user_pk) AS since,"     \
  "    ROW_NUMBER() OVER ("                                                                   \
  "    PARTITION BY user_pk ORDER BY role DESC, access DESC, created_at) AS rank FROM grants" \
  ") "

constexpr const char* kListWebsiteMembers = INVITED_WEBSITE_ACCESS_CTE
    "SELECT u.id, u.email, u.first_name, u.last_name, u.email_verified, b.role, b.access, "
    "b.since FROM best b JOIN users u ON u.pk = b.user_pk WHERE b.rank = 1 "
    "ORDER BY b.since, u.id LIMIT ?3 OFFSET ?4";
constexpr const char* kCountWebsiteMembers =
    INVITED_WEBSITE_ACCESS_CTE "SELECT COUNT(*) FROM best WHERE rank = 1";
#undef INVITED_WEBSITE_ACCESS_CTE

}  // namespace

domain::Page<domain::Member> Transaction::list_website_members(Pk org_pk, Pk website_pk,
                                                               const domain::ListRequest& request) {
  domain::Page<domain::Member> result;
  if (const auto* page = std::get_if<domain::PageRequest>(&request)) {
    {
      auto row = db_.query(kCountWebsiteMembers);
      row.bind(1, org_pk).bind(2, website_pk);
      result.total = row.step() ? row.int64(0) : 0;
    }
    auto rows = db_.query(kListWebsiteMembers);
    rows.bind(1, org_pk).bind(2, website_pk).bind(3, page->size).bind(4, page->num * page->size);
    while (rows.step()) result.items.push_back(read_member(rows));
    return result;
  }
  // The cursor form walks the membership indexes (see website_access.cpp for the plan).
  const auto& cursor = std::get<domain::CursorRequest>(request);
  WebsiteAccess access(db_, group_streams_, org_pk, website_pk);
  auto after = ListPosition::before_first();
  if (cursor.starting_after) {
    auto user = find_user_by_id(*cursor.starting_after);
    std::optional<domain::UnixSeconds> since;
    if (user) {
      auto grant = access.of(user->pk);
      since = grant ? std::optional(grant->member.created_at) : access.former(user->pk);
    }
    if (!since) {
      result.unknown_cursor = true;
      return result;
    }
    after = ListPosition{*since, user->id};
  }
  auto walk = access.walk(after);
  while (static_cast<std::int64_t>(result.items.size()) <= cursor.limit) {
    auto grant = walk.next();
    if (!grant) break;
    result.items.push_back(std::move(grant->member));
  }
  end_cursor_page(result, cursor.limit);
  return result;
}

// The direct members of one target, by created_at, then user id: the same steps for a group
// and for the organization (`kind` chooses the statements).
domain::Page<domain::Member> Transaction::list_direct_members(domain::Target target,
                                                              const domain::ListRequest& request) {
  // ?1 target, (?2, ?3) the position to start after, ?4 limit, ?5 offset.
#define INVITED_DIRECT_MEMBERS(table, key, index, access)                              \
  "SELECT u.id, u.email, u.first_name, u.last_name, u.email_verified, m.role, " access \
  ", m.created_at FROM " table " m INDEXED BY " index                                  \
  " CROSS JOIN users u ON u.pk = m.user_pk "                                           \
  "WHERE m." key                                                                       \
  " = ?1 AND (m.created_at, m.user_id) > (?2, ?3) "                                    \
  "ORDER BY m.created_at, m.user_id LIMIT ?4 OFFSET ?5"
  // The member's place: their membership, else the one they held when they were removed.
#define INVITED_LOCATE_MEMBER(table, key, kind)                                   \
  "SELECT created_at, user_id FROM ("                                             \
  "  SELECT 0 AS removed, m.created_at, m.user_id FROM users u CROSS JOIN " table \
  " m "                                                                           \
  "    ON m." key                                                                 \
  " = ?2 AND m.user_pk = u.pk WHERE u.id = ?1"                                    \
  "  UNION ALL"                                                                   \
  "  SELECT 1, r.created_at, u.id FROM users u CROSS JOIN removed_memberships r " \
  "    ON r.target_kind = " kind                                                  \
  " AND r.target_pk = ?2 AND r.user_pk = u.pk WHERE u.id = ?1"                    \
  ") ORDER BY removed LIMIT 1"
  struct Statements {
    const char* list;
    const char* count;
    const char* locate;
  };
  static constexpr Statements kGroup{
      INVITED_DIRECT_MEMBERS("group_members", "group_pk", "group_members_by_time", "1"),
      "SELECT COUNT(*) FROM group_members WHERE group_pk = ?1",
      INVITED_LOCATE_MEMBER("group_members", "group_pk", "2")};
  static constexpr Statements kOrganization{
      INVITED_DIRECT_MEMBERS("organization_members", "org_pk", "organization_members_by_time", "0"),
      "SELECT COUNT(*) FROM organization_members WHERE org_pk = ?1",
      INVITED_LOCATE_MEMBER("organization_members", "org_pk", "0")};
#undef INVITED_DIRECT_MEMBERS
#undef INVITED_LOCATE_MEMBER
  const Statements& sql = target.kind == domain::TargetKind::kOrganization ? kOrganization : kGroup;
  return read_list<domain::Member>(
      request, ListPosition::before_first(),
      [&](const Uuid& user_id) {
        auto row = db_.query(sql.locate);
        row.bind(1, user_id).bind(2, target.pk);
        return position_of(row);
      },
      [&](const ListPosition& after, std::int64_t limit, std::int64_t offset,
          std::vector<domain::Member>& items) {
        auto rows = db_.query(sql.list);
        rows.bind(1, target.pk)
            .bind(2, after.time)
            .bind(3, after.id)
            .bind(4, limit)
            .bind(5, offset);
        while (rows.step()) items.push_back(read_member(rows));
      },
      [&] { return count_rows(db_, sql.count, target.pk); });
}

domain::Page<domain::Member> Transaction::list_group_members(Pk group_pk,
                                                             const domain::ListRequest& request) {
  return list_direct_members({domain::TargetKind::kGroup, group_pk}, request);
}

domain::Page<domain::Member> Transaction::list_organization_members(
    Pk org_pk, const domain::ListRequest& request) {
  return list_direct_members({domain::TargetKind::kOrganization, org_pk}, request);
}

domain::Page<domain::UserWebsite> Transaction::list_user_websites(
    Pk org_pk, Pk user_pk, const domain::ListRequest& request) {
  // An organization member reaches every live website of it: the list is the organization's
  // websites in order (an index walk). Anyone else reaches the websites of their direct and
  // group memberships in this organization, read through the user's own memberships and sorted:
  // that costs what the user holds, never what the organization holds.
  // ?1 org, (?2, ?3) the position to start after, ?4 limit, ?5 offset, ?6 user.
  static constexpr const char* kOrganizationWebsites =
      "SELECT w.pk, w.id, w.url, w.name FROM websites w INDEXED BY websites_live_by_time "
      "WHERE w.org_pk = ?1 AND w.deleted_at IS NULL AND (w.created_at, w.id) > (?2, ?3) "
      "ORDER BY w.created_at, w.id LIMIT ?4 OFFSET ?5";
  static constexpr const char* kCountOrganizationWebsites =
      "SELECT COUNT(*) FROM websites WHERE org_pk = ?1 AND deleted_at IS NULL";
#define INVITED_HELD_WEBSITES                                                                 \
  "w.pk IN (SELECT website_pk FROM website_members INDEXED BY website_members_by_user "       \
  "  WHERE user_pk = ?6 "                                                                     \
  "  UNION SELECT gw.website_pk FROM group_members gm INDEXED BY group_members_by_user "      \
  "  JOIN website_groups g ON g.pk = gm.group_pk AND g.org_pk = ?1 AND g.deleted_at IS NULL " \
  "  JOIN group_websites gw ON gw.group_pk = gm.group_pk WHERE gm.user_pk = ?6) "             \
  "AND w.org_pk = ?1 AND w.deleted_at IS NULL "
  static constexpr const char* kHeldWebsites =
      "SELECT w.pk, w.id, w.url, w.name FROM websites w WHERE " INVITED_HELD_WEBSITES
      "AND (w.created_at, w.id) > (?2, ?3) ORDER BY w.created_at, w.id LIMIT ?4 OFFSET ?5";
  static constexpr const char* kCountHeldWebsites =
      "SELECT COUNT(*) FROM websites w WHERE " INVITED_HELD_WEBSITES;
#undef INVITED_HELD_WEBSITES
  // Any website of the organization keeps its place, reached by the user or not.
  static constexpr const char* kLocate =
      "SELECT created_at, id FROM websites WHERE id = ?1 AND org_pk = ?2";
  // The user's roles on one website (?1) by each path; ?2 the user.
  static constexpr const char* kDirectRole =
      "SELECT role FROM website_members WHERE website_pk = ?1 AND user_pk = ?2";
  static constexpr const char* kGroupRole =
      "SELECT MAX(gm.role) FROM group_websites gw INDEXED BY group_websites_by_website "
      "JOIN website_groups g ON g.pk = gw.group_pk AND g.deleted_at IS NULL "
      "JOIN group_members gm ON gm.group_pk = gw.group_pk AND gm.user_pk = ?2 "
      "WHERE gw.website_pk = ?1";

  std::optional<domain::Role> organization_role;
  if (auto role = membership_role({domain::TargetKind::kOrganization, org_pk}, user_pk)) {
    organization_role = role;
  }
  // The strongest role on `website_pk` (ties go to the most direct access).
  auto best_access = [&](Pk website_pk, domain::UserWebsite& website) {
    std::optional<std::pair<domain::Role, domain::AccessType>> best;
    auto consider = [&](domain::Role role, domain::AccessType access) {
      if (!best || std::pair(role, access) > *best) best = std::pair(role, access);
    };
    if (organization_role) consider(*organization_role, domain::AccessType::kOrganization);
    {
      auto row = db_.query(kGroupRole);
      row.bind(1, website_pk).bind(2, user_pk);
      if (row.step() && !row.is_null(0)) {
        consider(static_cast<domain::Role>(row.int64(0)), domain::AccessType::kGroup);
      }
    }
    {
      auto row = db_.query(kDirectRole);
      row.bind(1, website_pk).bind(2, user_pk);
      if (row.step())
        consider(static_cast<domain::Role>(row.int64(0)), domain::AccessType::kWebsite);
    }
    if (best) {
      website.role = best->first;
      website.access_type = best->second;
    }
  };
  return read_list<domain::UserWebsite>(
      request, ListPosition::before_first(),
      [&](const Uuid& id) {
        auto row = db_.query(kLocate);
        row.bind(1, id).bind(2, org_pk);
        return position_of(row);
      },
      [&](const ListPosition& after, std::int64_t limit, std::int64_t offset,
          std::vector<domain::UserWebsite>& items) {
        std::vector<Pk> website_pks;
        {
          auto rows = db_.query(organization_role ? kOrganizationWebsites : kHeldWebsites);
          rows.bind(1, org_pk).bind(2, after.time).bind(3, after.id).bind(4, limit).bind(5, offset);
          if (!organization_role) rows.bind(6, user_pk);
          while (rows.step()) {
            website_pks.push_back(rows.int64(0));
            items.push_back(domain::UserWebsite{.website_id = rows.uuid(1),
                                                .url = rows.text(2),
                                                .name = rows.text(3),
                                                .role = domain::Role::kViewer,
                                                .access_type = domain::AccessType::kWebsite});
          }
        }
        auto first = items.size() - website_pks.size();
        for (std::size_t i = 0; i < website_pks.size(); ++i) {
          best_access(website_pks[i], items[first + i]);
        }
      },
      [&] {
        auto row = db_.query(organization_role ? kCountOrganizationWebsites : kCountHeldWebsites);
        row.bind(1, org_pk);
        if (!organization_role) row.bind(6, user_pk);
        return row.step() ? row.int64(0) : 0;
      });
}

}  // namespace invited::store::sqlite
