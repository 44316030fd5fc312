// Member lists: who reaches a website, a group's and an organization's members, and the
// websites one user reaches.
#include <utility>

#include "store/postgres/list_page.hpp"
#include "store/postgres/member_rows.hpp"
#include "store/postgres/transaction.hpp"

namespace invited::store::postgres {

using domain::Pk;
using domain::Uuid;

namespace {

// Everyone who reaches website $2 of organization $1, one row per user: the strongest role
// (ties go to the most direct access: website, then group, then organization) and, as the
// row's time, the earliest grant through any path. The list orders by (since, user id).
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

// $3/$4 the position to start after, $5 limit, $6 offset.
constexpr Statement kListWebsiteMembers{
    "member_lists_website", INVITED_WEBSITE_ACCESS_CTE
    "SELECT u.id, u.email, u.first_name, u.last_name, u.email_verified, b.role, b.access, "
    "b.since FROM best b JOIN users u ON u.pk = b.user_pk WHERE (b.since, u.id) > ($3, $4) "
    "ORDER BY b.since, u.id LIMIT $5 OFFSET $6"};
constexpr Statement kCountWebsiteMembers{"member_lists_website_count",
                                         INVITED_WEBSITE_ACCESS_CTE "SELECT count(*) FROM best"};
#undef INVITED_WEBSITE_ACCESS_CTE

// Where user $3 stands in the member list of website $2 of organization $1: the earliest grant
// that reaches the website now, else (a member removed since they were listed) the earliest
// grant among the removed memberships that gave access (exact when one membership gave it).
constexpr Statement kLocateWebsiteMember{
    "member_lists_website_locate",
    "SELECT coalesce("
    "  (SELECT min(created_at) FROM ("
    "     SELECT created_at FROM website_members WHERE website_pk = $2 AND user_pk = u.pk"
    "     UNION ALL"
    "     SELECT gm.created_at FROM group_members gm"
    "       JOIN group_websites gw ON gw.group_pk = gm.group_pk AND gw.website_pk = $2"
    "       JOIN website_groups g ON g.pk = gm.group_pk AND g.deleted_at IS NULL"
    "       WHERE gm.user_pk = u.pk"
    "     UNION ALL"
    "     SELECT created_at FROM organization_members WHERE org_pk = $1 AND user_pk = u.pk"
    "   ) AS now_held),"
    "  (SELECT min(created_at) FROM removed_memberships r WHERE r.user_pk = u.pk AND ("
    "     (r.target_kind = 1 AND r.target_pk = $2) OR (r.target_kind = 0 AND r.target_pk = $1)"
    "     OR (r.target_kind = 2 AND r.target_pk IN "
    "       (SELECT group_pk FROM group_websites WHERE website_pk = $2))))"
    "), u.id FROM users u WHERE u.id = $3"};

}  // namespace

domain::Page<domain::Member> Transaction::list_website_members(Pk org_pk, Pk website_pk,
                                                               const domain::ListRequest& request) {
  return read_list<domain::Member>(
      request, ListPosition::before_first(),
      [&](const Uuid& user_id) -> std::optional<ListPosition> {
        Result rows =
            db_.query(kLocateWebsiteMember, Params().add(org_pk).add(website_pk).add(user_id));
        if (rows.rows() == 0 || rows.is_null(0, 0)) return std::nullopt;
        return ListPosition{rows.int64(0, 0), rows.uuid(0, 1)};
      },
      [&](const ListPosition& after, std::int64_t limit, std::int64_t offset,
          std::vector<domain::Member>& items) {
        Result rows = db_.query(kListWebsiteMembers, Params()
                                                         .add(org_pk)
                                                         .add(website_pk)
                                                         .add(after.time)
                                                         .add(after.id)
                                                         .add(limit)
                                                         .add(offset));
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
  // website; anyone else those of their direct and group memberships, read through the user's
  // own memberships. ($2, $3) the position to start after, $4 limit, $5 offset.
#define INVITED_USER_WEBSITES                                                                     \
  "WITH org_role AS (SELECT role FROM organization_members WHERE org_pk = $1 AND user_pk = $6), " \
  "reached AS ("                                                                                  \
  "  SELECT w.pk, w.id, w.url, w.name, w.created_at FROM websites w"                              \
  "    WHERE w.org_pk = $1 AND w.deleted_at IS NULL AND EXISTS (SELECT 1 FROM org_role)"          \
  "  UNION"                                                                                       \
  "  SELECT w.pk, w.id, w.url, w.name, w.created_at FROM websites w"                              \
  "    WHERE w.org_pk = $1 AND w.deleted_at IS NULL AND NOT EXISTS (SELECT 1 FROM org_role)"      \
  "    AND w.pk IN (SELECT website_pk FROM website_members WHERE user_pk = $6"                    \
  "      UNION SELECT gw.website_pk FROM group_members gm"                                        \
  "      JOIN website_groups g ON g.pk = gm.group_pk AND g.org_pk = $1"                           \
  "        AND g.deleted_at IS NULL"                                                              \
  "      JOIN group_websites gw ON gw.group_pk = gm.group_pk WHERE gm.user_pk = $6)"              \
  ") "
  static constexpr Statement kList{
      "member_lists_user_websites", INVITED_USER_WEBSITES
      "SELECT r.id, r.url, r.name, best.role, best.access FROM reached r "
      "CROSS JOIN LATERAL (SELECT role, access FROM ("
      "    SELECT role, 0 AS access FROM org_role"
      "    UNION ALL SELECT gm.role, 1 FROM group_websites gw"
      "      JOIN website_groups g ON g.pk = gw.group_pk AND g.deleted_at IS NULL"
      "      JOIN group_members gm ON gm.group_pk = gw.group_pk AND gm.user_pk = $6"
      "      WHERE gw.website_pk = r.pk"
      "    UNION ALL SELECT role, 2 FROM website_members WHERE website_pk = r.pk AND user_pk = $6"
      "  ) AS paths ORDER BY role DESC, access DESC LIMIT 1) AS best "
      "WHERE (r.created_at, r.id) > ($2, $3) ORDER BY r.created_at, r.id LIMIT $4 OFFSET $5"};
  static constexpr Statement kCount{"member_lists_user_websites_count", INVITED_USER_WEBSITES
                                    "SELECT count(*) FROM reached"};  // $2 to $5 unused
#undef INVITED_USER_WEBSITES
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
        auto start = ListPosition::before_first();
        return db_
            .query(kCount,
                   Params().add(org_pk).add(start.time).add(start.id).add(0).add(0).add(user_pk))
            .int64(0, 0);
      });
}

}  // namespace invited::store::postgres
