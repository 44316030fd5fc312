// The tenancy topic (domain/tenancy_store.hpp): organizations, websites, groups.
#include <string>

#include "store/sqlite/list_page.hpp"
#include "store/sqlite/transaction.hpp"

namespace invited::store::sqlite {

using domain::Pk;
using domain::UnixSeconds;
using domain::Uuid;

namespace {

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

}  // namespace

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

std::vector<domain::Organization> Transaction::list_organizations() {
  static constexpr const char* kList =
      "SELECT pk, id, name, created_at FROM organizations ORDER BY created_at, id";
  auto rows = db_.query(kList);
  std::vector<domain::Organization> organizations;
  while (rows.step()) {
    organizations.push_back(
        domain::Organization{rows.int64(0), rows.uuid(1), rows.text(2), rows.int64(3)});
  }
  return organizations;
}

std::optional<domain::Website> Transaction::find_website(Pk org_pk, const Uuid& id) {
  static const std::string kFind = std::string("SELECT ") + kWebsiteColumns +
                                   "WHERE w.id = ?1 AND w.org_pk = ?2 AND w.deleted_at IS NULL";
  auto row = db_.query(kFind.c_str());
  row.bind(1, id).bind(2, org_pk);
  if (!row.step()) return std::nullopt;
  return read_website(row);
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

std::optional<Pk> Transaction::find_live_website_pk(Pk org_pk, const Uuid& id) {
  static constexpr const char* kFind =
      "SELECT pk FROM websites WHERE id = ?1 AND org_pk = ?2 AND deleted_at IS NULL";
  auto row = db_.query(kFind);
  row.bind(1, id).bind(2, org_pk);
  if (!row.step()) return std::nullopt;
  return row.int64(0);
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
      "WHERE gw.group_pk = ?1 AND w.deleted_at IS NULL ORDER BY w.created_at, w.id";
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

std::optional<Pk> Transaction::find_group_pk(Pk org_pk, const Uuid& id) {
  static constexpr const char* kFind =
      "SELECT pk FROM website_groups WHERE id = ?1 AND org_pk = ?2 AND deleted_at IS NULL";
  auto row = db_.query(kFind);
  row.bind(1, id).bind(2, org_pk);
  if (!row.step()) return std::nullopt;
  return row.int64(0);
}

std::vector<std::optional<Pk>> Transaction::find_live_target_pks(Pk org_pk, domain::TargetKind kind,
                                                                 std::span<const Uuid> ids) {
  // In process, a prepared statement per id costs no round trip: the single lookups in a loop.
  std::vector<std::optional<Pk>> pks;
  pks.reserve(ids.size());
  for (const Uuid& id : ids) {
    pks.push_back(kind == domain::TargetKind::kWebsite ? find_live_website_pk(org_pk, id)
                  : kind == domain::TargetKind::kGroup ? find_group_pk(org_pk, id)
                                                       : std::nullopt);
  }
  return pks;
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
      [&] { return count_rows(db_, kCount, org_pk); });
  for (auto& group : page.items) group.website_ids = group_website_ids(group.pk);
  return page;
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

void Transaction::set_website_deleted(Pk website_pk, std::optional<UnixSeconds> deleted_at) {
  static constexpr const char* kSet = "UPDATE websites SET deleted_at = ?2 WHERE pk = ?1";
  db_.query(kSet).bind(1, website_pk).bind(2, deleted_at).execute();
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

}  // namespace invited::store::sqlite
