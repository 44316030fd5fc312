#include "store/postgres/website_access.hpp"

#include <algorithm>
#include <array>
#include <utility>

#include "store/postgres/member_rows.hpp"
#include "store/postgres/params.hpp"
#include "store/postgres/result.hpp"

namespace invited::store::postgres {

using domain::Pk;

// The plan.
//
// A website's member list has one row per user who reaches the website, ordered by when they
// first gained access (through any path), then user id. Reducing every grant per user and
// sorting (what the page form does) costs O(members log members) per page. Instead, as the
// SQLite store does, the grants come out of the membership indexes already in list order
// (`(target, created_at, user_id)`, migration 0004), as three streams:
//
//   2 direct        website_members       website_members_by_time
//   1 group         group_members         group_members_by_time, for each live group holding
//                                         the website, merged and cut to the batch
//   0 organization  organization_members  organization_members_by_time
//
// One statement (kWalk) reads the next `batch` grants of each stream after the position
// (`(created_at, user_id) > ($3, $4)`, an index condition: a seek, not a filter), and for each
// such grant the user and all their grants that reach the website (point lookups through the
// user's memberships), hence the user's earliest grant time and strongest role. EXPLAIN shows
// a Merge Append of three Limits over index-only scans, then nested-loop index lookups per row,
// for the custom and the generic plan alike (docs/postgres.md, "How lists are walked").
//
// The caller merges (the rows arrive in list order): a grant is kept only when it is the user's
// earliest (their row in the list); a later grant of a user is skipped, since that user was or
// will be listed at the earlier place; equal grants of one user (two paths granted in the same
// second) are adjacent and kept once. A stream that returned its whole batch may hold more
// after its last row, so rows past the earliest such last row are left for the next round,
// which starts there with a batch twice as large. Usually one round fills the page: it reads
// `batch` index entries of the direct and organization streams, and `batch` of each live group
// holding the website (k groups: k × batch), whatever the number of members. Rounds beyond the
// first come only from skipped rows (later grants of users listed earlier), the same caveat as
// SQLite's walk.
namespace {

// $1 organization, $2 website, ($3, $4) the position to start after, $5 the batch.
// Columns: those of read_member (the user's row in the list, `since` as created_at), then the
// grant's stream and time.
constexpr Statement kWalk{
    "website_access_walk",
    "WITH live_groups AS MATERIALIZED ("
    "  SELECT gw.group_pk FROM group_websites gw"
    "  JOIN website_groups g ON g.pk = gw.group_pk AND g.deleted_at IS NULL"
    "  WHERE gw.website_pk = $2"
    "), grants AS ("
    "  (SELECT 2 AS stream, created_at, user_id FROM website_members"
    "   WHERE website_pk = $2 AND (created_at, user_id) > ($3, $4)"
    "   ORDER BY created_at, user_id LIMIT $5)"
    "  UNION ALL"
    "  (SELECT 1, s.created_at, s.user_id FROM live_groups lg CROSS JOIN LATERAL ("
    "     SELECT created_at, user_id FROM group_members"
    "     WHERE group_pk = lg.group_pk AND (created_at, user_id) > ($3, $4)"
    "     ORDER BY created_at, user_id LIMIT $5) AS s"
    "   ORDER BY s.created_at, s.user_id LIMIT $5)"
    "  UNION ALL"
    "  (SELECT 0, created_at, user_id FROM organization_members"
    "   WHERE org_pk = $1 AND (created_at, user_id) > ($3, $4)"
    "   ORDER BY created_at, user_id LIMIT $5)"
    ") "
    "SELECT c.user_id, u.email, u.first_name, u.last_name, u.email_verified, best.role,"
    "  best.access, best.since, c.stream, c.created_at "
    "FROM grants c "
    // OFFSET 0 keeps each lookup a lookup: flattened into a join, the generic plan (which
    // cannot see the LIMIT's value) would merge-join the whole users table.
    "CROSS JOIN LATERAL (SELECT pk, email, first_name, last_name, email_verified FROM users"
    "  WHERE id = c.user_id OFFSET 0) AS u "
    "CROSS JOIN LATERAL ("
    "  SELECT role, access, min(created_at) OVER () AS since FROM ("
    "    SELECT role, 2 AS access, created_at FROM website_members"
    "      WHERE website_pk = $2 AND user_pk = u.pk"
    "    UNION ALL"
    "    SELECT role, 1, created_at FROM group_members"
    "      WHERE user_pk = u.pk AND group_pk IN (SELECT group_pk FROM live_groups)"
    "    UNION ALL"
    "    SELECT role, 0, created_at FROM organization_members"
    "      WHERE org_pk = $1 AND user_pk = u.pk"
    "  ) AS held ORDER BY role DESC, access DESC LIMIT 1"
    ") AS best "
    "ORDER BY c.created_at, c.user_id"};
constexpr int kStreamColumn = 8;
constexpr int kGrantTimeColumn = 9;
constexpr std::size_t kStreams = 3;

// A round's batch never grows past this (rounds after the first come only from skipped rows).
constexpr std::int64_t kMaxBatch = 4096;

constexpr Statement kLocate{
    "website_access_locate",
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

std::vector<domain::Member> walk_website_members(Connection& db, Pk org_pk, Pk website_pk,
                                                 ListPosition after, std::int64_t count) {
  std::vector<domain::Member> members;
  if (count <= 0) return members;
  std::optional<ListPosition> last_kept;
  std::int64_t batch = count;
  for (;;) {
    Result rows = db.query(
        kWalk, Params().add(org_pk).add(website_pk).add(after.time).add(after.id).add(batch));
    auto position = [&](int row) {
      return ListPosition{rows.int64(row, kGrantTimeColumn), rows.uuid(row, 0)};
    };
    // The rows are certain up to the earliest last row of a stream that filled its batch.
    std::array<std::int64_t, kStreams> read{};
    std::array<ListPosition, kStreams> last{};
    for (int row = 0; row < rows.rows(); ++row) {
      auto stream = static_cast<std::size_t>(rows.int64(row, kStreamColumn));
      ++read.at(stream);
      last.at(stream) = position(row);
    }
    std::optional<ListPosition> bound;
    for (std::size_t stream = 0; stream < kStreams; ++stream) {
      if (read[stream] == batch && (!bound || last[stream] < *bound)) bound = last[stream];
    }
    for (int row = 0; row < rows.rows(); ++row) {
      ListPosition at = position(row);
      if (bound && *bound < at) break;
      if (last_kept && at == *last_kept) continue;  // the same user, granted twice at once
      domain::Member member = read_member(rows, row);
      if (member.created_at != at.time) continue;  // not the user's earliest grant
      members.push_back(std::move(member));
      last_kept = at;
      if (static_cast<std::int64_t>(members.size()) == count) return members;
    }
    if (!bound) return members;  // every stream ended within this round
    after = *bound;
    batch = std::min(batch * 2, kMaxBatch);
  }
}

std::optional<ListPosition> locate_website_member(Connection& db, Pk org_pk, Pk website_pk,
                                                  const domain::Uuid& user_id) {
  Result rows = db.query(kLocate, Params().add(org_pk).add(website_pk).add(user_id));
  if (rows.rows() == 0 || rows.is_null(0, 0)) return std::nullopt;
  return ListPosition{rows.int64(0, 0), rows.uuid(0, 1)};
}

}  // namespace invited::store::postgres
