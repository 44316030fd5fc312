// Member lists: who reaches a website, a group's and an organization's members, and the
// websites one user reaches.
#include <utility>
#include <variant>

#include "store/postgres/list_page.hpp"
#include "store/postgres/member_rows.hpp"
#include "store/postgres/transaction.hpp"
#include "store/postgres/website_access.hpp"

namespace invited::store::postgres {

using domain::Pk;
using domain::Uuid;

namespace {

// The page form of a website's member list: everyone who reaches website $2 of organization
// $1, one row per user: the strongest role (ties go to the most direct access: website, then
// group, then organization) and, as the row's time, the earliest grant through any path. Ranks
// every member, so its cost grows with the list (as the page form's total does anyway); the
// cursor form walks the indexes instead (website_access.cpp) and yields the same rows in the
// same order.
#define INVITED_WEBSITE_ACCESS_CTE                                                    \
  "WITH grants(user_pk, role, access, created_at) AS ("                               \
  "  SELECT user_pk, role, 2, created_at FROM website_members WHERE website_pk = $2"  \
  "  UNION ALL"                                                                       \
  "  SELECT gm.user_pk, gm.role, 1, gm.created_at FROM group_members gm"              \
  "    JOIN group_websites gw ON gw.group_pk = gm.group_pk"                           \
  "    JOIN website_groups g ON g.pk = gm.group_pk AND g.deleted_at IS NULL"          \
  "    WHERE gw.website_pk = $2"                                                      \
  "  UNION ALL"                                                                       \
  "  SELECT user_pk, role, 0, created_at FROM organization_members WHERE org_pk = $1" \
  "), best AS ("                                                                      \
  "  SELECT DISTINCT ON (user_pk) user_pk, role, access,"                             \
  "    min(created_at) OVER (PARTITION BY user_pk) AS since"                          \
  "  FROM grants ORDER BY user_pk, role DESC, access DESC, created_at"                \
  ") "

// $3 limit, $4 offset.
constexpr Statement kListWebsiteMembers{
    "member_lists_website", INVITED_WEBSITE_ACCESS_CTE
    "SELECT u.id, u.email, u.first_name, u.last_name, u.email_verified, b.role, b.access, "
    "b.since FROM best b JOIN users u ON u.pk = b.user_pk "
    "ORDER BY b.since, u.id LIMIT $3 OFFSET $4"};
constexpr Statement kCountWebsiteMembers{"member_lists_website_count",
                                         INVITED_WEBSITE_ACCESS_CTE "SELECT count(*) FROM best"};
#undef INVITED_WEBSITE_ACCESS_CTE

}  // namespace

domain::Page<domain::Member> Transaction::list_website_members(Pk org_pk, Pk website_pk,
                                                               const domain::ListRequest& request) {
  const bool numbered = std::holds_alternative<domain::PageRequest>(request);
  return read_list<domain::Member>(
      request, ListPosition::before_first(),
      [&](const Uuid& user_id) { return locate_website_member(db_, org_pk, website_pk, user_id); },
      [&](const ListPosition& after, std::int64_t limit, std::int64_t offset,
          std::vector<domain::Member>& items) {
        if (!numbered) {
          // The cursor form walks the membership indexes (website_access.cpp).
          for (auto& member : walk_website_members(db_, org_pk, website_pk, after, limit)) {
            items.push_back(std::move(member));
          }
          return;
        }
        Result rows = db_.query(kListWebsiteMembers,
                                Params().add(org_pk).add(website_pk).add(limit).add(offset));
        for (int row = 0; row < rows.rows(); ++row) items.push_back(read_member(rows, row));
      },
      [&] {
        return db_.query(kCountWebsiteMembers, Params().add(org_pk).add(website_pk)).int64(0, 0);
      });
}

// The direct members of one target, by created_at, then user id: the same steps for a group
// and for the organization (`kind` chooses the statements).
domain::Page<domain::Member> Transaction::list_direct_members(domain::Target target,
                                                              const domain::ListRequest& request) {
  // $1 target, ($2, $3) the position to start after, $4 limit, $5 offset.
#define INVITED_DIRECT_MEMBERS(table, key, access)  \
  INVITED_MEMBER_COLUMNS(access)                    \
  " FROM " table                                    \
  " m JOIN users u ON u.pk = m.user_pk "            \
  "WHERE m." key                                    \
  " = $1 AND (m.created_at, m.user_id) > ($2, $3) " \
  "ORDER BY m.created_at, m.user_id LIMIT $4 OFFSET $5"
  // The member's place: their membership, else the one they held when they were removed.
#define INVITED_LOCATE_MEMBER(table, key, kind)                             \
  "SELECT created_at, user_id FROM ("                                       \
  "  SELECT 0 AS removed, m.created_at, m.user_id FROM users u JOIN " table \
  " m "                                                                     \
  "    ON m." key                                                           \
  " = $2 AND m.user_pk = u.pk WHERE u.id = $1"                              \
  "  UNION ALL"                                                             \
  "  SELECT 1, r.created_at, u.id FROM users u JOIN removed_memberships r " \
  "    ON r.target_kind = " kind                                            \
  " AND r.target_pk = $2 AND r.user_pk = u.pk WHERE u.id = $1"              \
  ") AS places ORDER BY removed LIMIT 1"
  struct Statements {
    Statement list;
    Statement count;
    Statement locate;
  };
  static constexpr Statements kGroup{
      {"member_lists_group", INVITED_DIRECT_MEMBERS("group_members", "group_pk", "1")},
      {"member_lists_group_count", "SELECT count(*) FROM group_members WHERE group_pk = $1"},
      {"member_lists_group_locate", INVITED_LOCATE_MEMBER("group_members", "group_pk", "2")}};
  static constexpr Statements kOrganization{
      {"member_lists_organization", INVITED_DIRECT_MEMBERS("organization_members", "org_pk", "0")},
      {"member_lists_organization_count",
       "SELECT count(*) FROM organization_members WHERE org_pk = $1"},
      {"member_lists_organization_locate",
       INVITED_LOCATE_MEMBER("organization_members", "org_pk", "0")}};
#undef INVITED_DIRECT_MEMBERS
#undef INVITED_LOCATE_MEMBER
  const Statements& sql = target.kind == domain::TargetKind::kOrganization ? kOrganization : kGroup;
  return read_list<domain::Member>(
      request, ListPosition::before_first(),
      [&](const Uuid& user_id) {
        return position_of(db_.query(sql.locate, Params().add(user_id).add(target.pk)));
      },
      [&](const ListPosition& after, std::int64_t limit, std::int64_t offset,
          std::vector<domain::Member>& items) {
        Result rows = db_.query(
            sql.list, Params().add(target.pk).add(after.time).add(after.id).add(limit).add(offset));
        for (int row = 0; row < rows.rows(); ++row) items.push_back(read_member(rows, row));
      },
      [&] { return db_.query(sql.count, Params().add(target.pk)).int64(0, 0); });
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
  // The websites user $6 reaches in organization $1, each with the strongest role (ties go to
  // the most direct access), in website order. An organization member reaches every live
  // website: the organization's websites, read from websites_live_by_time after the position
  // and cut at the limit (a seek and a walk of one page, whatever the organization's size).
  // Anyone else reaches those of their direct and group memberships, read through the user's
  // own memberships and sorted: that costs what the user holds, never what the organization
  // holds. Only one of the two branches returns rows. ($2, $3) the position to start after,
  // $4 limit, $5 offset.
#define INVITED_ORG_ROLE            \
  "WITH org_role AS MATERIALIZED (" \
  "  SELECT role FROM organization_members WHERE org_pk = $1 AND user_pk = $6) "
#define INVITED_HELD_WEBSITES                                                                \
  "w.pk IN (SELECT website_pk FROM website_members WHERE user_pk = $6"                       \
  "  UNION SELECT gw.website_pk FROM group_members gm"                                       \
  "  JOIN website_groups g ON g.pk = gm.group_pk AND g.org_pk = $1 AND g.deleted_at IS NULL" \
  "  JOIN group_websites gw ON gw.group_pk = gm.group_pk WHERE gm.user_pk = $6) "            \
  "AND w.org_pk = $1 AND w.deleted_at IS NULL AND NOT EXISTS (SELECT 1 FROM org_role) "
  static constexpr Statement kList{
      "member_lists_user_websites", INVITED_ORG_ROLE
      ", reached AS ("
      "  (SELECT w.pk, w.id, w.url, w.name, w.created_at FROM websites w"
      "   WHERE w.org_pk = $1 AND w.deleted_at IS NULL AND (w.created_at, w.id) > ($2, $3)"
      "   AND EXISTS (SELECT 1 FROM org_role)"
      "   ORDER BY w.created_at, w.id LIMIT $4 OFFSET $5)"
      "  UNION ALL"
      "  (SELECT w.pk, w.id, w.url, w.name, w.created_at FROM websites w "
      "WHERE " INVITED_HELD_WEBSITES
      "AND (w.created_at, w.id) > ($2, $3)"
      "   ORDER BY w.created_at, w.id LIMIT $4 OFFSET $5)"
      ") "
      "SELECT r.id, r.url, r.name, best.role, best.access FROM reached r "
      "CROSS JOIN LATERAL (SELECT role, access FROM ("
      "    SELECT role, 0 AS access FROM org_role"
      "    UNION ALL SELECT gm.role, 1 FROM group_websites gw"
      "      JOIN website_groups g ON g.pk = gw.group_pk AND g.deleted_at IS NULL"
      "      JOIN group_members gm ON gm.group_pk = gw.group_pk AND gm.user_pk = $6"
      "      WHERE gw.website_pk = r.pk"
      "    UNION ALL SELECT role, 2 FROM website_members WHERE website_pk = r.pk AND user_pk = $6"
      "  ) AS paths ORDER BY role DESC, access DESC LIMIT 1) AS best "
      "ORDER BY r.created_at, r.id"};
  static constexpr Statement kCount{
      "member_lists_user_websites_count", INVITED_ORG_ROLE
      "SELECT CASE WHEN EXISTS (SELECT 1 FROM org_role) THEN"
      "  (SELECT count(*) FROM websites WHERE org_pk = $1 AND deleted_at IS NULL)"
      "  ELSE (SELECT count(*) FROM websites w WHERE " INVITED_HELD_WEBSITES ") END"};
#undef INVITED_ORG_ROLE
#undef INVITED_HELD_WEBSITES
  // Any website of the organization keeps its place, reached by the user or not.
  static constexpr Statement kLocate{
      "member_lists_user_websites_locate",
      "SELECT created_at, id FROM websites WHERE id = $1 AND org_pk = $2"};
  return read_list<domain::UserWebsite>(
      request, ListPosition::before_first(),
      [&](const Uuid& id) { return position_of(db_.query(kLocate, Params().add(id).add(org_pk))); },
      [&](const ListPosition& after, std::int64_t limit, std::int64_t offset,
          std::vector<domain::UserWebsite>& items) {
        Result rows = db_.query(
            kList,
            Params().add(org_pk).add(after.time).add(after.id).add(limit).add(offset).add(user_pk));
        for (int row = 0; row < rows.rows(); ++row) {
          items.push_back(domain::UserWebsite{
              .website_id = rows.uuid(row, 0),
              .url = rows.text(row, 1),
              .name = rows.text(row, 2),
              .role = static_cast<domain::Role>(rows.int64(row, 3)),
              .access_type = static_cast<domain::AccessType>(rows.int64(row, 4))});
        }
      },
      [&] {
        // $2 to $5 unused: NULLs of their types.
        Params params;
        params.add(org_pk).add_null(Type::kInt8).add_null(Type::kUuid);
        params.add_null(Type::kInt8).add_null(Type::kInt8).add(user_pk);
        return db_.query(kCount, params).int64(0, 0);
      });
}

}  // namespace invited::store::postgres
