#include "store/sqlite/transaction.hpp"

#include <limits>
#include <string>
#include <utility>

#include "store/sqlite/list_position.hpp"
#include "store/sqlite/website_access.hpp"

namespace invited::store::sqlite {

using domain::Pk;
using domain::UnixSeconds;
using domain::Uuid;

namespace {

// Reads one page of a list in either form of SPEC §5. The list's statement reads its items in
// list order after a position, with a LIMIT and an OFFSET:
//   `read(after, limit, offset, items)`  appends the items;
//   `locate(id)`                          the position of a cursor's item, nullopt if this list
//                                         cannot hold it;
//   `count()`                             the number of items in the whole list (page form).
// The page form reads from `start` with an offset and counts; the cursor form seeks past the
// cursor's position and reads one item more than asked, to learn whether more follow.
template <typename T, typename Position, typename Locate, typename Read, typename Count>
domain::Page<T> read_list(const domain::ListRequest& request, const Position& start, Locate locate,
                          Read read, Count count) {
  domain::Page<T> page;
  if (const auto* numbered = std::get_if<domain::PageRequest>(&request)) {
    page.total = count();
    read(start, numbered->size, numbered->num * numbered->size, page.items);
    return page;
  }
  const auto& cursor = std::get<domain::CursorRequest>(request);
  Position after = start;
  if (cursor.starting_after) {
    std::optional<Position> found = locate(*cursor.starting_after);
    if (!found) {
      page.unknown_cursor = true;
      return page;
    }
    after = *found;
  }
  read(after, cursor.limit + 1, 0, page.items);
  if (static_cast<std::int64_t>(page.items.size()) > cursor.limit) {
    page.items.pop_back();
    page.has_more = true;
  }
  return page;
}

// The position of the row `SELECT time, id ...` finds, if any.
std::optional<ListPosition> position_of(Cursor& row) {
  if (!row.step()) return std::nullopt;
  return ListPosition{row.int64(0), row.uuid(1)};
}

// The statements of one membership table (organization_members, website_members,
// group_members): ?1 is the target's row key, ?2 the user's.
struct MembershipTable {
  const char* exists_sql;
  const char* insert_sql;  // ?3 role, ?4 created_at
  const char* role_sql;
  const char* update_sql;  // ?3 role
  const char* delete_sql;
  const char* member_sql;    // the member row (see read_member)
  const char* remember_sql;  // keeps the membership's place in removed_memberships
};

#define INVITED_MEMBERSHIP_TABLE(table, key, access, kind)                                    \
  MembershipTable {                                                                           \
    "SELECT 1 FROM " table " WHERE " key " = ?1 AND user_pk = ?2",                            \
        "INSERT INTO " table "(" key                                                          \
        ", user_pk, role, created_at, user_id) "                                              \
        "VALUES (?1, ?2, ?3, ?4, (SELECT id FROM users WHERE pk = ?2)) "                      \
        "ON CONFLICT DO NOTHING",                                                             \
        "SELECT role FROM " table " WHERE " key " = ?1 AND user_pk = ?2",                     \
        "UPDATE " table " SET role = ?3 WHERE " key " = ?1 AND user_pk = ?2",                 \
        "DELETE FROM " table " WHERE " key " = ?1 AND user_pk = ?2",                          \
        "SELECT u.id, u.email, u.first_name, u.last_name, u.email_verified, m.role, " access  \
        ", m.created_at FROM " table                                                          \
        " m JOIN users u ON u.pk = m.user_pk "                                                \
        "WHERE m." key " = ?1 AND m.user_pk = ?2",                                            \
        "INSERT INTO removed_memberships(target_kind, target_pk, user_pk, created_at, "       \
        "removed_at) SELECT " kind ", " key                                                   \
        ", user_pk, created_at, "                                                             \
        "CAST(strftime('%s', 'now') AS INTEGER) FROM " table " WHERE " key                    \
        " = ?1 AND user_pk = ?2 ON CONFLICT DO UPDATE SET created_at = excluded.created_at, " \
        "removed_at = excluded.removed_at"                                                    \
  }

constexpr MembershipTable kOrganizationMembers =
    INVITED_MEMBERSHIP_TABLE("organization_members", "org_pk", "0", "0");
constexpr MembershipTable kWebsiteMembers =
    INVITED_MEMBERSHIP_TABLE("website_members", "website_pk", "2", "1");
constexpr MembershipTable kGroupMembers =
    INVITED_MEMBERSHIP_TABLE("group_members", "group_pk", "1", "2");
#undef INVITED_MEMBERSHIP_TABLE

const MembershipTable& membership_table(domain::TargetKind kind) {
  switch (kind) {
    case domain::TargetKind::kOrganization:
      return kOrganizationMembers;
    case domain::TargetKind::kWebsite:
      return kWebsiteMembers;
    case domain::TargetKind::kGroup:
      return kGroupMembers;
  }
  return kWebsiteMembers;
}

domain::Website read_website(const Cursor& row) {
  // Columns: pk, id, org id, url, name, created_at, deleted_at
  return domain::Website{.pk = row.int64(0),
                         .id = row.uuid(1),
                         .org_id = row.uuid(2),
                         .url = row.text(3),
                         .name = row.text(4),
                         .created_at = row.int64(5),
                         .deleted_at = row.optional_int64(6)};
}

constexpr const char* kWebsiteColumns =
    "w.pk, w.id, o.id, w.url, w.name, w.created_at, w.deleted_at "
    "FROM websites w JOIN organizations o ON o.pk = w.org_pk ";

domain::Member read_member(const Cursor& row) {
  // Columns: user id, email, first, last, verified, role, access, created_at
  return domain::Member{.user_id = row.uuid(0),
                        .email = row.text(1),
                        .first_name = row.optional_text(2),
                        .last_name = row.optional_text(3),
                        .email_verified = row.int64(4) != 0,
                        .role = static_cast<domain::Role>(row.int64(5)),
                        .access_type = static_cast<domain::AccessType>(row.int64(6)),
                        .created_at = row.int64(7)};
}

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

std::int64_t Transaction::count(const char* sql, Pk key) {
  auto row = db_.query(sql);
  row.bind(1, key);
  return row.step() ? row.int64(0) : 0;
}

std::optional<domain::ApiKey> Transaction::find_api_key(const domain::SecretHash& hash) {
  static constexpr const char* kFindKey =
      "SELECT k.pk, k.id, k.org_pk, o.id, k.name, k.scoped, k.created_at, k.revoked_at "
      "FROM api_keys k JOIN organizations o ON o.pk = k.org_pk WHERE k.key_hash = ?1";
  domain::ApiKey key;
  {
    auto row = db_.query(kFindKey);
    row.bind_blob(1, hash.data(), hash.size());
    if (!row.step()) return std::nullopt;
    key.pk = row.int64(0);
    key.id = row.uuid(1);
    key.org_pk = row.int64(2);
    key.org_id = row.uuid(3);
    key.name = row.text(4);
    key.scoped = row.int64(5) != 0;
    key.created_at = row.int64(6);
    key.revoked_at = row.optional_int64(7);
  }
  load_key_websites(key);
  return key;
}

std::optional<domain::Organization> Transaction::find_organization(Pk org_pk) {
  static constexpr const char* kFind =
      "SELECT pk, id, name, created_at FROM organizations WHERE pk = ?1";
  auto row = db_.query(kFind);
  row.bind(1, org_pk);
  if (!row.step()) return std::nullopt;
  return domain::Organization{row.int64(0), row.uuid(1), row.text(2), row.int64(3)};
}

std::optional<domain::Organization> Transaction::find_organization_by_id(const Uuid& id) {
  static constexpr const char* kFind =
      "SELECT pk, id, name, created_at FROM organizations WHERE id = ?1";
  auto row = db_.query(kFind);
  row.bind(1, id);
  if (!row.step()) return std::nullopt;
  return domain::Organization{row.int64(0), row.uuid(1), row.text(2), row.int64(3)};
}

std::optional<domain::Website> Transaction::find_website(Pk org_pk, const Uuid& id) {
  static const std::string kFind = std::string("SELECT ") + kWebsiteColumns +
                                   "WHERE w.id = ?1 AND w.org_pk = ?2 AND w.deleted_at IS NULL";
  auto row = db_.query(kFind.c_str());
  row.bind(1, id).bind(2, org_pk);
  if (!row.step()) return std::nullopt;
  return read_website(row);
}

domain::Page<domain::Website> Transaction::list_websites(Pk org_pk, std::optional<Pk> scoped_key_pk,
                                                         const domain::ListRequest& request) {
  // ?1 org, (?2, ?3) the position to start after, ?4 limit, ?5 offset, ?6 the scoped key.
  static constexpr const char* kList =
      "SELECT w.pk, w.id, o.id, w.url, w.name, w.created_at, w.deleted_at "
      "FROM websites w INDEXED BY websites_live_by_time JOIN organizations o ON o.pk = w.org_pk "
      "WHERE w.org_pk = ?1 AND w.deleted_at IS NULL AND (w.created_at, w.id) > (?2, ?3) "
      "ORDER BY w.created_at, w.id LIMIT ?4 OFFSET ?5";
  // A scoped key's websites are read through its allowlist (at most 1,000), whatever the
  // organization's size.
  static constexpr const char* kListAllowed =
      "SELECT w.pk, w.id, o.id, w.url, w.name, w.created_at, w.deleted_at "
      "FROM api_key_websites kw CROSS JOIN websites w ON w.pk = kw.website_pk "
      "JOIN organizations o ON o.pk = w.org_pk "
      "WHERE kw.key_pk = ?6 AND w.org_pk = ?1 AND w.deleted_at IS NULL "
      "AND (w.created_at, w.id) > (?2, ?3) ORDER BY w.created_at, w.id LIMIT ?4 OFFSET ?5";
  static constexpr const char* kCount =
      "SELECT COUNT(*) FROM websites WHERE org_pk = ?1 AND deleted_at IS NULL";
  static constexpr const char* kCountAllowed =
      "SELECT COUNT(*) FROM websites w JOIN api_key_websites kw ON kw.website_pk = w.pk "
      "AND kw.key_pk = ?2 WHERE w.org_pk = ?1 AND w.deleted_at IS NULL";
  // Any website of the organization (a deleted one keeps its place); for a scoped key, only one
  // in its allowlist.
  static constexpr const char* kLocate =
      "SELECT w.created_at, w.id FROM websites w WHERE w.id = ?1 AND w.org_pk = ?2 "
      "AND (?3 IS NULL OR EXISTS (SELECT 1 FROM api_key_websites "
      "  WHERE key_pk = ?3 AND website_pk = w.pk))";
  return read_list<domain::Website>(
      request, ListPosition::before_first(),
      [&](const Uuid& id) {
        auto row = db_.query(kLocate);
        row.bind(1, id).bind(2, org_pk).bind(3, scoped_key_pk);
        return position_of(row);
      },
      [&](const ListPosition& after, std::int64_t limit, std::int64_t offset,
          std::vector<domain::Website>& items) {
        auto rows = db_.query(scoped_key_pk ? kListAllowed : kList);
        rows.bind(1, org_pk).bind(2, after.time).bind(3, after.id).bind(4, limit).bind(5, offset);
        if (scoped_key_pk) rows.bind(6, *scoped_key_pk);
        while (rows.step()) items.push_back(read_website(rows));
      },
      [&] {
        auto row = db_.query(scoped_key_pk ? kCountAllowed : kCount);
        row.bind(1, org_pk);
        if (scoped_key_pk) row.bind(2, *scoped_key_pk);
        return row.step() ? row.int64(0) : 0;
      });
}

std::vector<Uuid> Transaction::group_website_ids(Pk group_pk) {
  static constexpr const char* kWebsites =
      "SELECT w.id FROM group_websites gw JOIN websites w ON w.pk = gw.website_pk "
      "WHERE gw.group_pk = ?1 AND w.deleted_at IS NULL ORDER BY w.pk";
  std::vector<Uuid> ids;
  auto rows = db_.query(kWebsites);
  rows.bind(1, group_pk);
  while (rows.step()) ids.push_back(rows.uuid(0));
  return ids;
}

std::optional<domain::Group> Transaction::find_group(Pk org_pk, const Uuid& id) {
  static constexpr const char* kFind =
      "SELECT g.pk, g.id, o.id, g.name, g.created_at FROM website_groups g "
      "JOIN organizations o ON o.pk = g.org_pk "
      "WHERE g.id = ?1 AND g.org_pk = ?2 AND g.deleted_at IS NULL";
  domain::Group group;
  {
    auto row = db_.query(kFind);
    row.bind(1, id).bind(2, org_pk);
    if (!row.step()) return std::nullopt;
    group = domain::Group{.pk = row.int64(0),
                          .id = row.uuid(1),
                          .org_id = row.uuid(2),
                          .name = row.text(3),
                          .website_ids = {},
                          .created_at = row.int64(4)};
  }
  group.website_ids = group_website_ids(group.pk);
  return group;
}

domain::Page<domain::Group> Transaction::list_groups(Pk org_pk,
                                                     const domain::ListRequest& request) {
  // ?1 org, (?2, ?3) the position to start after, ?4 limit, ?5 offset.
  static constexpr const char* kList =
      "SELECT g.pk, g.id, o.id, g.name, g.created_at "
      "FROM website_groups g INDEXED BY website_groups_live_by_time "
      "JOIN organizations o ON o.pk = g.org_pk "
      "WHERE g.org_pk = ?1 AND g.deleted_at IS NULL AND (g.created_at, g.id) > (?2, ?3) "
      "ORDER BY g.created_at, g.id LIMIT ?4 OFFSET ?5";
  static constexpr const char* kCount =
      "SELECT COUNT(*) FROM website_groups WHERE org_pk = ?1 AND deleted_at IS NULL";
  // Any group of the organization; a deleted one keeps its place.
  static constexpr const char* kLocate =
      "SELECT created_at, id FROM website_groups WHERE id = ?1 AND org_pk = ?2";
  auto page = read_list<domain::Group>(
      request, ListPosition::before_first(),
      [&](const Uuid& id) {
        auto row = db_.query(kLocate);
        row.bind(1, id).bind(2, org_pk);
        return position_of(row);
      },
      [&](const ListPosition& after, std::int64_t limit, std::int64_t offset,
          std::vector<domain::Group>& items) {
        auto rows = db_.query(kList);
        rows.bind(1, org_pk).bind(2, after.time).bind(3, after.id).bind(4, limit).bind(5, offset);
        while (rows.step()) {
          items.push_back(domain::Group{.pk = rows.int64(0),
                                        .id = rows.uuid(1),
                                        .org_id = rows.uuid(2),
                                        .name = rows.text(3),
                                        .website_ids = {},
                                        .created_at = rows.int64(4)});
        }
      },
      [&] { return count(kCount, org_pk); });
  for (auto& group : page.items) group.website_ids = group_website_ids(group.pk);
  return page;
}

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
  if (static_cast<std::int64_t>(result.items.size()) > cursor.limit) {
    result.items.pop_back();
    result.has_more = true;
  }
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
      [&] { return count(sql.count, target.pk); });
}

domain::Page<domain::Member> Transaction::list_group_members(Pk group_pk,
                                                             const domain::ListRequest& request) {
  return list_direct_members({domain::TargetKind::kGroup, group_pk}, request);
}

domain::Organization Transaction::insert_organization(const Uuid& id, std::string_view name,
                                                      UnixSeconds now) {
  static constexpr const char* kInsert =
      "INSERT INTO organizations(id, name, created_at) VALUES (?1, ?2, ?3) RETURNING pk";
  auto row = db_.query(kInsert);
  row.bind(1, id).bind(2, name).bind(3, now);
  row.step();
  return domain::Organization{row.int64(0), id, std::string(name), now};
}

domain::ApiKey Transaction::insert_api_key(const domain::NewApiKey& key) {
  static constexpr const char* kInsert =
      "INSERT INTO api_keys(id, org_pk, name, key_hash, scoped, created_at) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING pk";
  static constexpr const char* kAllow =
      "INSERT INTO api_key_websites(key_pk, website_pk) VALUES (?1, ?2) ON CONFLICT DO NOTHING";
  Pk pk;
  {
    auto row = db_.query(kInsert);
    row.bind(1, key.id)
        .bind(2, key.org_pk)
        .bind(3, key.name)
        .bind_blob(4, key.hash.data(), key.hash.size())
        .bind(5, key.scoped ? 1 : 0)
        .bind(6, key.created_at);
    row.step();
    pk = row.int64(0);
  }
  for (Pk website_pk : key.website_pks) {
    auto row = db_.query(kAllow);
    row.bind(1, pk).bind(2, website_pk).execute();
  }
  domain::ApiKey stored;
  stored.pk = pk;
  stored.id = key.id;
  stored.org_pk = key.org_pk;
  stored.name = key.name;
  stored.scoped = key.scoped;
  stored.website_pks = key.website_pks;
  stored.created_at = key.created_at;
  return stored;
}

domain::Website Transaction::insert_website(Pk org_pk, const Uuid& id, std::string_view url,
                                            std::string_view name, UnixSeconds now) {
  static constexpr const char* kInsert =
      "INSERT INTO websites(id, org_pk, url, name, created_at) VALUES (?1, ?2, ?3, ?4, ?5) "
      "RETURNING pk";
  auto row = db_.query(kInsert);
  row.bind(1, id).bind(2, org_pk).bind(3, url).bind(4, name).bind(5, now);
  row.step();
  return domain::Website{.pk = row.int64(0),
                         .id = id,
                         .org_id = {},
                         .url = std::string(url),
                         .name = std::string(name),
                         .created_at = now,
                         .deleted_at = std::nullopt};
}

std::optional<Pk> Transaction::find_live_website_pk(Pk org_pk, const Uuid& id) {
  static constexpr const char* kFind =
      "SELECT pk FROM websites WHERE id = ?1 AND org_pk = ?2 AND deleted_at IS NULL";
  auto row = db_.query(kFind);
  row.bind(1, id).bind(2, org_pk);
  if (!row.step()) return std::nullopt;
  return row.int64(0);
}

std::optional<Pk> Transaction::find_group_pk(Pk org_pk, const Uuid& id) {
  static constexpr const char* kFind =
      "SELECT pk FROM website_groups WHERE id = ?1 AND org_pk = ?2 AND deleted_at IS NULL";
  auto row = db_.query(kFind);
  row.bind(1, id).bind(2, org_pk);
  if (!row.step()) return std::nullopt;
  return row.int64(0);
}

Pk Transaction::insert_group(Pk org_pk, const Uuid& id, std::string_view name,
                             const std::vector<Pk>& website_pks, UnixSeconds now) {
  static constexpr const char* kInsert =
      "INSERT INTO website_groups(id, org_pk, name, created_at) VALUES (?1, ?2, ?3, ?4) "
      "RETURNING pk";
  static constexpr const char* kAdd =
      "INSERT INTO group_websites(group_pk, website_pk) VALUES (?1, ?2) ON CONFLICT DO NOTHING";
  Pk pk;
  {
    auto row = db_.query(kInsert);
    row.bind(1, id).bind(2, org_pk).bind(3, name).bind(4, now);
    row.step();
    pk = row.int64(0);
  }
  for (Pk website_pk : website_pks) {
    auto row = db_.query(kAdd);
    row.bind(1, pk).bind(2, website_pk).execute();
  }
  return pk;
}

std::optional<domain::UserRef> Transaction::find_user(std::string_view email_key) {
  static constexpr const char* kFind = "SELECT pk, id FROM users WHERE email_key = ?1";
  auto row = db_.query(kFind);
  row.bind(1, email_key);
  if (!row.step()) return std::nullopt;
  return domain::UserRef{row.int64(0), row.uuid(1)};
}

domain::UserRef Transaction::insert_user_if_absent(const domain::NewUser& user) {
  static constexpr const char* kInsert =
      "INSERT INTO users(id, email, email_key, first_name, last_name, email_verified, created_at) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(email_key) DO NOTHING RETURNING pk";
  {
    auto row = db_.query(kInsert);
    row.bind(1, user.id)
        .bind(2, user.email_address)
        .bind(3, user.email_key)
        .bind(4, user.first_name)
        .bind(5, user.last_name)
        .bind(6, user.email_verified ? 1 : 0)
        .bind(7, user.created_at);
    if (row.step()) return domain::UserRef{row.int64(0), user.id};
  }
  auto existing = find_user(user.email_key);
  if (!existing) throw StoreError(0, "user vanished after a conflicting insert");
  return *existing;
}

bool Transaction::has_membership(domain::Target target, Pk user_pk) {
  auto row = db_.query(membership_table(target.kind).exists_sql);
  row.bind(1, target.pk).bind(2, user_pk);
  return row.step();
}

bool Transaction::add_membership_if_absent(domain::Target target, Pk user_pk, domain::Role role,
                                           UnixSeconds now) {
  auto row = db_.query(membership_table(target.kind).insert_sql);
  row.bind(1, target.pk).bind(2, user_pk).bind(3, static_cast<int>(role)).bind(4, now);
  return row.execute() > 0;
}

bool Transaction::has_pending_invites(Pk org_pk, std::string_view email_key) {
  static constexpr const char* kAny =
      // Pinned to its index: the planner once picked an index on the organization and scanned
      // every invite of it, which turned email mode from thousands of requests/s into hundreds.
      "SELECT 1 FROM invites INDEXED BY invites_one_pending "
      "WHERE email_key = ?2 AND status = 0 AND org_pk = ?1 LIMIT 1";
  auto row = db_.query(kAny);
  row.bind(1, org_pk).bind(2, email_key);
  return row.step();
}

void Transaction::close_pending_invites(domain::Target target, std::string_view email_key,
                                        domain::InviteStatus status, UnixSeconds now) {
  static constexpr const char* kClose =
      "UPDATE invites SET status = CASE WHEN expires_at <= ?5 THEN 3 ELSE ?4 END, closed_at = ?5 "
      "WHERE email_key = ?1 AND target_kind = ?2 AND target_pk = ?3 AND status = 0";
  auto row = db_.query(kClose);
  row.bind(1, email_key)
      .bind(2, static_cast<int>(target.kind))
      .bind(3, target.pk)
      .bind(4, static_cast<int>(status))
      .bind(5, now)
      .execute();
}

Pk Transaction::insert_batch(const domain::NewBatch& batch) {
  // No token yet (the claim of its email mints one): random bytes, the hash of no token, keep
  // token_hash UNIQUE and NOT NULL.
  static constexpr const char* kInsert =
      "INSERT INTO invite_batches(id, org_pk, email, first_name, last_name, token_hash, "
      "created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, randomblob(32), ?6, ?7) RETURNING pk";
  auto row = db_.query(kInsert);
  row.bind(1, batch.id)
      .bind(2, batch.org_pk)
      .bind(3, batch.email_address)
      .bind(4, batch.first_name)
      .bind(5, batch.last_name)
      .bind(6, batch.created_at)
      .bind(7, batch.expires_at);
  row.step();
  return row.int64(0);
}

void Transaction::insert_invite(const domain::NewInvite& invite) {
  static constexpr const char* kInsert =
      "INSERT INTO invites(id, org_pk, batch_pk, email_key, target_kind, target_pk, role, "
      "created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
  db_.query(kInsert)
      .bind(1, invite.id)
      .bind(2, invite.org_pk)
      .bind(3, invite.batch_pk)
      .bind(4, invite.email_key)
      .bind(5, static_cast<int>(invite.target.kind))
      .bind(6, invite.target.pk)
      .bind(7, static_cast<int>(invite.role))
      .bind(8, invite.created_at)
      .bind(9, invite.expires_at)
      .execute();
}

void Transaction::enqueue_email(const domain::NewEmail& email) {
  static constexpr const char* kInsert =
      "INSERT INTO outbox_emails(message_id, batch_pk, to_address, next_attempt_ms, created_at) "
      "VALUES (?1, ?2, ?3, ?4 * 1000, ?4)";
  auto row = db_.query(kInsert);
  row.bind(1, email.message_id)
      .bind(2, email.batch_pk)
      .bind(3, email.to_address)
      .bind(4, email.created_at)
      .execute();
  email_enqueued_ = true;
}

std::optional<domain::OutboxEmail> Transaction::claim_due_email(std::int64_t now_ms,
                                                                std::int64_t lease_until_ms) {
  // One statement picks and claims, so no other claimant can come between; the writer runs units
  // one at a time anyway. (PostgreSQL: the inner SELECT takes FOR UPDATE SKIP LOCKED.)
  static constexpr const char* kClaim =
      "UPDATE outbox_emails SET attempts = attempts + 1, claimed_until = ?2 "
      "WHERE pk = (SELECT pk FROM outbox_emails INDEXED BY outbox_emails_due "
      "  WHERE status = 0 AND next_attempt_ms <= ?1 "
      "    AND (claimed_until IS NULL OR claimed_until <= ?1) "
      "  ORDER BY next_attempt_ms, pk LIMIT 1) "
      "RETURNING pk, message_id, batch_pk, to_address, attempts, created_at";
  auto row = db_.query(kClaim);
  row.bind(1, now_ms).bind(2, lease_until_ms);
  if (!row.step()) return std::nullopt;
  return domain::OutboxEmail{.pk = row.int64(0),
                             .message_id = row.uuid(1),
                             .batch_pk = row.int64(2),
                             .to_address = row.text(3),
                             .attempts = static_cast<int>(row.int64(4)),
                             .created_at = row.int64(5)};
}

void Transaction::set_batch_token(Pk batch_pk, const domain::SecretHash& token_hash) {
  static constexpr const char* kSet =
      "UPDATE invite_batches SET previous_token_hash = token_hash, token_hash = ?2 WHERE pk = ?1";
  db_.query(kSet).bind(1, batch_pk).bind_blob(2, token_hash.data(), token_hash.size()).execute();
}

std::optional<std::int64_t> Transaction::next_email_due_ms() {
  // An email someone holds is due again when its lease ends.
  static constexpr const char* kNext =
      "SELECT MIN(max(next_attempt_ms, coalesce(claimed_until, 0))) "
      "FROM outbox_emails WHERE status = 0";
  auto row = db_.query(kNext);
  if (!row.step() || row.is_null(0)) return std::nullopt;
  return row.int64(0);
}

domain::Invitation Transaction::load_invitation(Pk batch_pk) {
  static constexpr const char* kBatch =
      "SELECT o.name, b.expires_at, b.email, b.first_name, b.last_name "
      "FROM invite_batches b JOIN organizations o ON o.pk = b.org_pk WHERE b.pk = ?1";
  static constexpr const char* kTargets =
      "SELECT i.target_kind, COALESCE(w.name, g.name, o.name), COALESCE(w.url, ''), i.role "
      "FROM invites i "
      "LEFT JOIN websites w ON i.target_kind = 1 AND w.pk = i.target_pk "
      "LEFT JOIN website_groups g ON i.target_kind = 2 AND g.pk = i.target_pk "
      "LEFT JOIN organizations o ON i.target_kind = 0 AND o.pk = i.target_pk "
      "WHERE i.batch_pk = ?1 AND i.status = 0 ORDER BY i.pk";
  domain::Invitation invitation;
  invitation.batch_pk = batch_pk;
  {
    auto row = db_.query(kBatch);
    row.bind(1, batch_pk);
    if (!row.step()) return invitation;
    invitation.organization_name = row.text(0);
    invitation.expires_at = row.int64(1);
    invitation.email = row.text(2);
    invitation.first_name = row.optional_text(3);
    invitation.last_name = row.optional_text(4);
  }
  auto rows = db_.query(kTargets);
  rows.bind(1, batch_pk);
  while (rows.step()) {
    invitation.targets.push_back(
        domain::InvitationTarget{.kind = static_cast<domain::TargetKind>(rows.int64(0)),
                                 .name = rows.text(1),
                                 .url = rows.text(2),
                                 .role = static_cast<domain::Role>(rows.int64(3))});
  }
  return invitation;
}

std::optional<domain::Batch> Transaction::find_batch_by_token(
    const domain::SecretHash& token_hash) {
#define INVITED_BATCH_BY_TOKEN(index, column)                                    \
  "SELECT b.pk, b.id, b.org_pk, b.expires_at, b.used_at, "                       \
  "  (SELECT COUNT(*) FROM invites i WHERE i.batch_pk = b.pk AND i.status = 0) " \
  "FROM invite_batches b " index "WHERE b." column " = ?1"
  static constexpr const char* kFindCurrent = INVITED_BATCH_BY_TOKEN("", "token_hash");
  static constexpr const char* kFindPrevious =
      INVITED_BATCH_BY_TOKEN("INDEXED BY invite_batches_by_previous_token ", "previous_token_hash");
#undef INVITED_BATCH_BY_TOKEN
  auto find = [&](const char* sql) -> std::optional<domain::Batch> {
    auto row = db_.query(sql);
    row.bind_blob(1, token_hash.data(), token_hash.size());
    if (!row.step()) return std::nullopt;
    return domain::Batch{.pk = row.int64(0),
                         .id = row.uuid(1),
                         .org_pk = row.int64(2),
                         .expires_at = row.int64(3),
                         .used_at = row.optional_int64(4),
                         .pending_invites = static_cast<int>(row.int64(5))};
  };
  if (auto batch = find(kFindCurrent)) return batch;
  return find(kFindPrevious);
}

bool Transaction::is_retired_token(const domain::SecretHash& token_hash) {
  static constexpr const char* kFind = "SELECT 1 FROM retired_tokens WHERE token_hash = ?1";
  auto row = db_.query(kFind);
  row.bind_blob(1, token_hash.data(), token_hash.size());
  return row.step();
}

std::vector<domain::BatchInvite> Transaction::batch_invites(Pk batch_pk) {
  static constexpr const char* kInvites =
      "SELECT i.pk, i.id, i.target_kind, i.target_pk, COALESCE(w.id, g.id, o.id), "
      "  COALESCE(w.name, g.name, o.name), COALESCE(w.url, ''), "
      "  CASE i.target_kind WHEN 1 THEN w.deleted_at IS NULL WHEN 2 THEN g.deleted_at IS NULL "
      "    ELSE 1 END, "
      "  i.role, i.status, b.email, b.first_name, b.last_name "
      "FROM invites i JOIN invite_batches b ON b.pk = i.batch_pk "
      "LEFT JOIN websites w ON i.target_kind = 1 AND w.pk = i.target_pk "
      "LEFT JOIN website_groups g ON i.target_kind = 2 AND g.pk = i.target_pk "
      "LEFT JOIN organizations o ON i.target_kind = 0 AND o.pk = i.target_pk "
      "WHERE i.batch_pk = ?1 ORDER BY i.pk";
  std::vector<domain::BatchInvite> invites;
  auto rows = db_.query(kInvites);
  rows.bind(1, batch_pk);
  while (rows.step()) {
    invites.push_back(
        domain::BatchInvite{.pk = rows.int64(0),
                            .id = rows.uuid(1),
                            .kind = static_cast<domain::TargetKind>(rows.int64(2)),
                            .target_pk = rows.int64(3),
                            .target_id = rows.uuid(4),
                            .target_name = rows.text(5),
                            .target_url = rows.text(6),
                            .target_live = rows.int64(7) != 0,
                            .role = static_cast<domain::Role>(rows.int64(8)),
                            .status = static_cast<domain::InviteStatus>(rows.int64(9)),
                            .email = rows.text(10),
                            .first_name = rows.optional_text(11),
                            .last_name = rows.optional_text(12)});
  }
  return invites;
}

void Transaction::set_email_verified(Pk user_pk) {
  static constexpr const char* kVerify = "UPDATE users SET email_verified = 1 WHERE pk = ?1";
  db_.query(kVerify).bind(1, user_pk).execute();
}

void Transaction::revoke_pending_invites(domain::Target target, UnixSeconds now) {
  static constexpr const char* kRevoke =
      "UPDATE invites INDEXED BY invites_pending_by_target SET status = ?3, closed_at = ?4 "
      "WHERE target_kind = ?1 AND target_pk = ?2 AND status = 0";
  db_.query(kRevoke)
      .bind(1, static_cast<int>(target.kind))
      .bind(2, target.pk)
      .bind(3, static_cast<int>(domain::InviteStatus::kRevoked))
      .bind(4, now)
      .execute();
}

void Transaction::close_invite(Pk invite_pk, domain::InviteStatus status, UnixSeconds now) {
  static constexpr const char* kClose =
      "UPDATE invites SET status = ?2, closed_at = ?3 WHERE pk = ?1";
  db_.query(kClose).bind(1, invite_pk).bind(2, static_cast<int>(status)).bind(3, now).execute();
}

void Transaction::mark_batch_used(Pk batch_pk, UnixSeconds now) {
  static constexpr const char* kUsed = "UPDATE invite_batches SET used_at = ?2 WHERE pk = ?1";
  db_.query(kUsed).bind(1, batch_pk).bind(2, now).execute();
}

void Transaction::set_batch_delivery(Pk email_pk, int delivery) {
  static constexpr const char* kBatch =
      "UPDATE invite_batches SET delivery = ?2 "
      "WHERE pk = (SELECT batch_pk FROM outbox_emails WHERE pk = ?1)";
  db_.query(kBatch).bind(1, email_pk).bind(2, delivery).execute();
}

// Every outcome applies only to an email still queued: a resend may have cancelled it (and reset
// the batch's delivery state for its new email) while it was being sent.
void Transaction::mark_email_sent(Pk email_pk, UnixSeconds now) {
  static constexpr const char* kSent =
      "UPDATE outbox_emails SET status = 1, claimed_until = NULL, sent_at = ?2, last_error = NULL "
      "WHERE pk = ?1 AND status = 0";
  if (db_.query(kSent).bind(1, email_pk).bind(2, now).execute() > 0) {
    set_batch_delivery(email_pk, 1);
  }
}

void Transaction::mark_email_retry(Pk email_pk, std::int64_t next_attempt_ms,
                                   std::string_view error) {
  static constexpr const char* kRetry =
      "UPDATE outbox_emails SET claimed_until = NULL, next_attempt_ms = ?2, last_error = ?3 "
      "WHERE pk = ?1 AND status = 0";
  db_.query(kRetry).bind(1, email_pk).bind(2, next_attempt_ms).bind(3, error).execute();
}

void Transaction::mark_email_failed(Pk email_pk, std::string_view error, UnixSeconds now) {
  static constexpr const char* kFailed =
      "UPDATE outbox_emails SET status = 2, claimed_until = NULL, last_error = ?2, sent_at = ?3 "
      "WHERE pk = ?1 AND status = 0";
  if (db_.query(kFailed).bind(1, email_pk).bind(2, error).bind(3, now).execute() > 0) {
    set_batch_delivery(email_pk, 2);
  }
}

void Transaction::mark_email_cancelled(Pk email_pk, UnixSeconds now) {
  static constexpr const char* kCancel =
      "UPDATE outbox_emails SET status = 3, claimed_until = NULL, sent_at = ?2 "
      "WHERE pk = ?1 AND status = 0";
  db_.query(kCancel).bind(1, email_pk).bind(2, now).execute();
}

void Transaction::release_email_claim(Pk email_pk) {
  static constexpr const char* kRelease =
      "UPDATE outbox_emails SET attempts = attempts - 1, claimed_until = NULL "
      "WHERE pk = ?1 AND status = 0 AND claimed_until IS NOT NULL";
  db_.query(kRelease).bind(1, email_pk).execute();
}

int Transaction::release_all_email_claims() {
  // Only queued emails can hold a claim: every other state clears it.
  static constexpr const char* kRelease =
      "UPDATE outbox_emails INDEXED BY outbox_emails_due SET claimed_until = NULL "
      "WHERE status = 0 AND claimed_until IS NOT NULL";
  return db_.query(kRelease).execute();
}

std::optional<domain::Website> Transaction::find_website_including_deleted(Pk org_pk,
                                                                           const Uuid& id) {
  static const std::string kFind =
      std::string("SELECT ") + kWebsiteColumns + "WHERE w.id = ?1 AND w.org_pk = ?2";
  auto row = db_.query(kFind.c_str());
  row.bind(1, id).bind(2, org_pk);
  if (!row.step()) return std::nullopt;
  return read_website(row);
}

std::optional<domain::UserRef> Transaction::find_user_by_id(const Uuid& id) {
  static constexpr const char* kFind = "SELECT pk, id FROM users WHERE id = ?1";
  auto row = db_.query(kFind);
  row.bind(1, id);
  if (!row.step()) return std::nullopt;
  return domain::UserRef{row.int64(0), row.uuid(1)};
}

std::optional<domain::Member> Transaction::find_member(domain::Target target, Pk user_pk) {
  auto row = db_.query(membership_table(target.kind).member_sql);
  row.bind(1, target.pk).bind(2, user_pk);
  if (!row.step()) return std::nullopt;
  return read_member(row);
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

bool Transaction::has_any_membership(Pk org_pk, Pk user_pk) {
  static constexpr const char* kAny =
      "SELECT EXISTS (SELECT 1 FROM organization_members WHERE org_pk = ?1 AND user_pk = ?2) "
      "OR EXISTS (SELECT 1 FROM website_members m JOIN websites w ON w.pk = m.website_pk "
      "  WHERE w.org_pk = ?1 AND m.user_pk = ?2) "
      "OR EXISTS (SELECT 1 FROM group_members m JOIN website_groups g ON g.pk = m.group_pk "
      "  WHERE g.org_pk = ?1 AND m.user_pk = ?2)";
  auto row = db_.query(kAny);
  row.bind(1, org_pk).bind(2, user_pk);
  return row.step() && row.int64(0) != 0;
}

namespace {

// Columns: pk, id, batch, email, kind, target pk, target id, role, status, delivery, created,
// expires
#define INVITED_INVITE_COLUMNS                                           \
  "SELECT i.pk, i.id, i.batch_pk, b.email, i.target_kind, i.target_pk, " \
  "  COALESCE(w.id, g.id, o.id), i.role, i.status, b.delivery, i.created_at, i.expires_at "
#define INVITED_INVITE_TARGETS                                              \
  "LEFT JOIN websites w ON i.target_kind = 1 AND w.pk = i.target_pk "       \
  "LEFT JOIN website_groups g ON i.target_kind = 2 AND g.pk = i.target_pk " \
  "LEFT JOIN organizations o ON i.target_kind = 0 AND o.pk = i.target_pk "
// An organization's invites, newest first, walked through its batches (see migration 0004):
// batches by (created_at, id) from their index, each batch's invites (at most 50) sorted by id.
#define INVITED_ORG_INVITES                                  \
  "FROM invite_batches b INDEXED BY invite_batches_by_time " \
  "CROSS JOIN invites i INDEXED BY invites_by_batch ON i.batch_pk = b.pk "

domain::InviteRecord read_invite(const Cursor& row) {
  return domain::InviteRecord{.pk = row.int64(0),
                              .id = row.uuid(1),
                              .batch_pk = row.int64(2),
                              .email = row.text(3),
                              .kind = static_cast<domain::TargetKind>(row.int64(4)),
                              .target_pk = row.int64(5),
                              .target_id = row.uuid(6),
                              .role = static_cast<domain::Role>(row.int64(7)),
                              .status = static_cast<domain::InviteStatus>(row.int64(8)),
                              .delivery = static_cast<domain::Delivery>(row.int64(9)),
                              .created_at = row.int64(10),
                              .expires_at = row.int64(11)};
}

// ?1 org, ?2 email key, ?3 website pk, ?4 group pk, ?5 scoped key pk, ?6 status, ?7 now; a NULL
// parameter switches its filter off.
#define INVITED_INVITE_FILTER                                                                    \
  "WHERE b.org_pk = ?1 AND (?2 IS NULL OR i.email_key = ?2) "                                    \
  "AND (?3 IS NULL OR (i.target_kind = 1 AND i.target_pk = ?3)) "                                \
  "AND (?4 IS NULL OR (i.target_kind = 2 AND i.target_pk = ?4)) "                                \
  "AND (?5 IS NULL OR (i.target_kind = 1 AND i.target_pk IN "                                    \
  "  (SELECT website_pk FROM api_key_websites WHERE key_pk = ?5))) "                             \
  "AND (?6 IS NULL OR (CASE WHEN i.status = 0 AND i.expires_at <= ?7 THEN 3 ELSE i.status END) " \
  "  = ?6) "

void bind_invite_filter(Cursor& row, Pk org_pk, const domain::InviteFilter& filter) {
  row.bind(1, org_pk);
  if (filter.email_key) row.bind(2, *filter.email_key);
  row.bind(3, filter.website_pk);
  row.bind(4, filter.group_pk);
  row.bind(5, filter.scoped_key_pk);
  if (filter.status) row.bind(6, static_cast<int>(*filter.status));
  row.bind(7, filter.now);
}

}  // namespace

std::optional<domain::InviteRecord> Transaction::find_invite(Pk org_pk, const Uuid& id) {
  static constexpr const char* kFind = INVITED_INVITE_COLUMNS
      "FROM invites i JOIN invite_batches b ON b.pk = i.batch_pk " INVITED_INVITE_TARGETS
      "WHERE i.id = ?1 AND i.org_pk = ?2";
  auto row = db_.query(kFind);
  row.bind(1, id).bind(2, org_pk);
  if (!row.step()) return std::nullopt;
  return read_invite(row);
}

domain::Page<domain::InviteRecord> Transaction::list_invites(Pk org_pk,
                                                             const domain::InviteFilter& filter,
                                                             const domain::ListRequest& request) {
  // The position of an invite in the list: (batch created_at, batch id, invite id), descending.
  struct Position {
    std::int64_t time = 0;
    Uuid batch_id;
    Uuid id;
  };
  // ?8 limit, ?9 offset, (?10, ?11, ?12) the position to start after. The first row-value
  // condition seeks the batch index; the second leaves out what precedes the cursor inside its
  // own batch. SQLite sorts each batch's invites as it reaches them ("temp b-tree for right
  // part of ORDER BY") and stops at the LIMIT.
  static constexpr const char* kList =
      INVITED_INVITE_COLUMNS INVITED_ORG_INVITES INVITED_INVITE_TARGETS INVITED_INVITE_FILTER
      "AND (b.created_at, b.id) <= (?10, ?11) AND (b.created_at, b.id, i.id) < (?10, ?11, ?12) "
      "ORDER BY b.created_at DESC, b.id DESC, i.id DESC LIMIT ?8 OFFSET ?9";
  static constexpr const char* kCount =
      "SELECT COUNT(*) " INVITED_ORG_INVITES INVITED_INVITE_FILTER;
  // Any invite of the organization the key can see keeps its place, whether it matches the
  // filter or not (an invite accepted since it was seen still works as a cursor).
  static constexpr const char* kLocate =
      "SELECT b.created_at, b.id, i.id FROM invites i JOIN invite_batches b ON b.pk = i.batch_pk "
      "WHERE i.id = ?1 AND i.org_pk = ?2 AND (?3 IS NULL OR (i.target_kind = 1 AND i.target_pk "
      "IN (SELECT website_pk FROM api_key_websites WHERE key_pk = ?3)))";
  auto start = Position{std::numeric_limits<std::int64_t>::max(), {}, {}};
  return read_list<domain::InviteRecord>(
      request, start,
      [&](const Uuid& id) -> std::optional<Position> {
        auto row = db_.query(kLocate);
        row.bind(1, id).bind(2, org_pk).bind(3, filter.scoped_key_pk);
        if (!row.step()) return std::nullopt;
        return Position{row.int64(0), row.uuid(1), row.uuid(2)};
      },
      [&](const Position& after, std::int64_t limit, std::int64_t offset,
          std::vector<domain::InviteRecord>& items) {
        auto rows = db_.query(kList);
        bind_invite_filter(rows, org_pk, filter);
        rows.bind(8, limit)
            .bind(9, offset)
            .bind(10, after.time)
            .bind(11, after.batch_id)
            .bind(12, after.id);
        while (rows.step()) items.push_back(read_invite(rows));
      },
      [&] {
        auto row = db_.query(kCount);
        bind_invite_filter(row, org_pk, filter);
        return row.step() ? row.int64(0) : 0;
      });
}
#undef INVITED_INVITE_COLUMNS
#undef INVITED_INVITE_TARGETS
#undef INVITED_ORG_INVITES
#undef INVITED_INVITE_FILTER

namespace {

constexpr const char* kKeyColumns =
    "SELECT k.pk, k.id, k.org_pk, o.id, k.name, k.scoped, k.created_at, k.revoked_at "
    "FROM api_keys k JOIN organizations o ON o.pk = k.org_pk ";

domain::ApiKey read_key(const Cursor& row) {
  domain::ApiKey key;
  key.pk = row.int64(0);
  key.id = row.uuid(1);
  key.org_pk = row.int64(2);
  key.org_id = row.uuid(3);
  key.name = row.text(4);
  key.scoped = row.int64(5) != 0;
  key.created_at = row.int64(6);
  key.revoked_at = row.optional_int64(7);
  return key;
}

}  // namespace

void Transaction::load_key_websites(domain::ApiKey& key) {
  static constexpr const char* kKeyWebsites =
      "SELECT w.pk, w.id FROM api_key_websites kw JOIN websites w ON w.pk = kw.website_pk "
      "WHERE kw.key_pk = ?1 ORDER BY w.pk";
  auto rows = db_.query(kKeyWebsites);
  rows.bind(1, key.pk);
  while (rows.step()) {
    key.website_pks.push_back(rows.int64(0));
    key.website_ids.push_back(rows.uuid(1));
  }
}

std::optional<domain::ApiKey> Transaction::find_api_key_by_id(Pk org_pk, const Uuid& id) {
  static const std::string kFind = std::string(kKeyColumns) + "WHERE k.id = ?1 AND k.org_pk = ?2";
  std::optional<domain::ApiKey> key;
  {
    auto row = db_.query(kFind.c_str());
    row.bind(1, id).bind(2, org_pk);
    if (!row.step()) return std::nullopt;
    key = read_key(row);
  }
  load_key_websites(*key);
  return key;
}

domain::Page<domain::ApiKey> Transaction::list_api_keys(Pk org_pk,
                                                        const domain::ListRequest& request) {
  // ?1 org, (?2, ?3) the position to start after, ?4 limit, ?5 offset.
  static constexpr const char* kList =
      "SELECT k.pk, k.id, k.org_pk, o.id, k.name, k.scoped, k.created_at, k.revoked_at "
      "FROM api_keys k INDEXED BY api_keys_by_time JOIN organizations o ON o.pk = k.org_pk "
      "WHERE k.org_pk = ?1 AND (k.created_at, k.id) > (?2, ?3) "
      "ORDER BY k.created_at, k.id LIMIT ?4 OFFSET ?5";
  static constexpr const char* kCount = "SELECT COUNT(*) FROM api_keys WHERE org_pk = ?1";
  static constexpr const char* kLocate =
      "SELECT created_at, id FROM api_keys WHERE id = ?1 AND org_pk = ?2";
  auto page = read_list<domain::ApiKey>(
      request, ListPosition::before_first(),
      [&](const Uuid& id) {
        auto row = db_.query(kLocate);
        row.bind(1, id).bind(2, org_pk);
        return position_of(row);
      },
      [&](const ListPosition& after, std::int64_t limit, std::int64_t offset,
          std::vector<domain::ApiKey>& items) {
        auto rows = db_.query(kList);
        rows.bind(1, org_pk).bind(2, after.time).bind(3, after.id).bind(4, limit).bind(5, offset);
        while (rows.step()) items.push_back(read_key(rows));
      },
      [&] { return count(kCount, org_pk); });
  for (auto& key : page.items) load_key_websites(key);
  return page;
}

void Transaction::set_website_deleted(Pk website_pk, std::optional<UnixSeconds> deleted_at) {
  static constexpr const char* kSet = "UPDATE websites SET deleted_at = ?2 WHERE pk = ?1";
  db_.query(kSet).bind(1, website_pk).bind(2, deleted_at).execute();
}

void Transaction::rename_group(Pk group_pk, std::string_view name) {
  static constexpr const char* kRename = "UPDATE website_groups SET name = ?2 WHERE pk = ?1";
  db_.query(kRename).bind(1, group_pk).bind(2, name).execute();
}

void Transaction::add_group_websites(Pk group_pk, const std::vector<Pk>& website_pks) {
  static constexpr const char* kAdd =
      "INSERT INTO group_websites(group_pk, website_pk) VALUES (?1, ?2) ON CONFLICT DO NOTHING";
  for (Pk website_pk : website_pks) db_.query(kAdd).bind(1, group_pk).bind(2, website_pk).execute();
}

void Transaction::remove_group_websites(Pk group_pk, const std::vector<Pk>& website_pks) {
  static constexpr const char* kRemove =
      "DELETE FROM group_websites WHERE group_pk = ?1 AND website_pk = ?2";
  for (Pk website_pk : website_pks) {
    db_.query(kRemove).bind(1, group_pk).bind(2, website_pk).execute();
  }
}

void Transaction::delete_group(Pk group_pk, UnixSeconds now) {
  static constexpr const char* kDelete =
      "UPDATE website_groups SET deleted_at = ?2 WHERE pk = ?1 AND deleted_at IS NULL";
  db_.query(kDelete).bind(1, group_pk).bind(2, now).execute();
}

std::optional<domain::Role> Transaction::membership_role(domain::Target target, Pk user_pk) {
  auto row = db_.query(membership_table(target.kind).role_sql);
  row.bind(1, target.pk).bind(2, user_pk);
  if (!row.step()) return std::nullopt;
  return static_cast<domain::Role>(row.int64(0));
}

void Transaction::set_membership_role(domain::Target target, Pk user_pk, domain::Role role) {
  db_.query(membership_table(target.kind).update_sql)
      .bind(1, target.pk)
      .bind(2, user_pk)
      .bind(3, static_cast<int>(role))
      .execute();
}

bool Transaction::delete_membership(domain::Target target, Pk user_pk) {
  // The member's place in the lists outlives the membership, for cursors (migration 0004).
  db_.query(membership_table(target.kind).remember_sql)
      .bind(1, target.pk)
      .bind(2, user_pk)
      .execute();
  return db_.query(membership_table(target.kind).delete_sql)
             .bind(1, target.pk)
             .bind(2, user_pk)
             .execute() > 0;
}

int Transaction::count_organization_owners(Pk org_pk) {
  static constexpr const char* kCount =
      "SELECT COUNT(*) FROM organization_members WHERE org_pk = ?1 AND role = 3";
  return static_cast<int>(count(kCount, org_pk));
}

void Transaction::revoke_api_key(Pk key_pk, UnixSeconds now) {
  static constexpr const char* kRevoke =
      "UPDATE api_keys SET revoked_at = ?2 WHERE pk = ?1 AND revoked_at IS NULL";
  db_.query(kRevoke).bind(1, key_pk).bind(2, now).execute();
}

void Transaction::retire_batch_tokens(Pk batch_pk, UnixSeconds expires_at, UnixSeconds now) {
  // Before the first claim token_hash is random bytes: retiring it too costs a row and is harmless.
  static constexpr const char* kRetire =
      "INSERT INTO retired_tokens(token_hash, batch_pk, retired_at) "
      "SELECT token_hash, pk, ?2 FROM invite_batches WHERE pk = ?1 "
      "UNION ALL SELECT previous_token_hash, pk, ?2 FROM invite_batches "
      "  WHERE pk = ?1 AND previous_token_hash IS NOT NULL";
  static constexpr const char* kBatch =
      "UPDATE invite_batches SET token_hash = randomblob(32), previous_token_hash = NULL, "
      "expires_at = ?2, delivery = 0 WHERE pk = ?1";
  static constexpr const char* kInvites =
      "UPDATE invites SET expires_at = ?2 WHERE batch_pk = ?1 AND status = 0";
  static constexpr const char* kCancelQueued =
      "UPDATE outbox_emails INDEXED BY outbox_emails_due "
      "SET status = 3, claimed_until = NULL, sent_at = ?2 WHERE batch_pk = ?1 AND status = 0";
  db_.query(kRetire).bind(1, batch_pk).bind(2, now).execute();
  db_.query(kBatch).bind(1, batch_pk).bind(2, expires_at).execute();
  db_.query(kInvites).bind(1, batch_pk).bind(2, expires_at).execute();
  db_.query(kCancelQueued).bind(1, batch_pk).bind(2, now).execute();
}

std::optional<domain::IdempotentResponse> Transaction::find_idempotent_response(
    Pk org_pk, std::string_view key, UnixSeconds not_before) {
  static constexpr const char* kFind =
      "SELECT request_hash, status, body, created_at FROM idempotent_responses "
      "WHERE org_pk = ?1 AND key = ?2 AND created_at >= ?3";
  auto row = db_.query(kFind);
  row.bind(1, org_pk).bind(2, key).bind(3, not_before);
  if (!row.step()) return std::nullopt;
  domain::IdempotentResponse response;
  auto hash = row.blob(0);
  std::copy_n(hash.begin(), std::min(hash.size(), response.request_hash.size()),
              response.request_hash.begin());
  response.status = static_cast<int>(row.int64(1));
  response.body = row.text(2);
  response.created_at = row.int64(3);
  return response;
}

bool Transaction::save_idempotent_response(Pk org_pk, std::string_view key,
                                           const domain::IdempotentResponse& response,
                                           UnixSeconds not_before) {
  // The primary key (org_pk, key) decides: a live row is never overwritten, an expired one that
  // pruning has not reached yet is.
  static constexpr const char* kSave =
      "INSERT INTO idempotent_responses(org_pk, key, request_hash, status, body, created_at) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(org_pk, key) DO UPDATE SET "
      "request_hash = excluded.request_hash, status = excluded.status, body = excluded.body, "
      "created_at = excluded.created_at WHERE idempotent_responses.created_at < ?7";
  return db_.query(kSave)
             .bind(1, org_pk)
             .bind(2, key)
             .bind_blob(3, response.request_hash.data(), response.request_hash.size())
             .bind(4, response.status)
             .bind(5, response.body)
             .bind(6, response.created_at)
             .bind(7, not_before)
             .execute() == 1;
}

int Transaction::prune_idempotent_responses(UnixSeconds not_before, int limit) {
  // Oldest first through idempotent_responses_by_age, so a pass touches only expired rows.
  static constexpr const char* kPrune =
      "DELETE FROM idempotent_responses WHERE (org_pk, key) IN ("
      "SELECT org_pk, key FROM idempotent_responses INDEXED BY idempotent_responses_by_age "
      "WHERE created_at < ?1 ORDER BY created_at LIMIT ?2)";
  return db_.query(kPrune).bind(1, not_before).bind(2, limit).execute();
}

}  // namespace invited::store::sqlite
