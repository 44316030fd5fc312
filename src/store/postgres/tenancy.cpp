// Tenancy: organizations, websites and groups of websites.
#include <unordered_map>

#include "store/postgres/list_page.hpp"
#include "store/postgres/transaction.hpp"

namespace invited::store::postgres {

using domain::Pk;
using domain::UnixSeconds;
using domain::Uuid;

namespace {

#define INVITED_WEBSITE_COLUMNS                                         \
  "SELECT w.pk, w.id, o.id, w.url, w.name, w.created_at, w.deleted_at " \
  "FROM websites w JOIN organizations o ON o.pk = w.org_pk "

domain::Website read_website(const Result& rows, int row) {
  return domain::Website{.pk = rows.int64(row, 0),
                         .id = rows.uuid(row, 1),
                         .org_id = rows.uuid(row, 2),
                         .url = rows.text(row, 3),
                         .name = rows.text(row, 4),
                         .created_at = rows.int64(row, 5),
                         .deleted_at = rows.optional_int64(row, 6)};
}

domain::Organization read_organization(const Result& rows) {
  return domain::Organization{rows.int64(0, 0), rows.uuid(0, 1), rows.text(0, 2), rows.int64(0, 3)};
}

domain::Group read_group(const Result& rows, int row) {
  return domain::Group{.pk = rows.int64(row, 0),
                       .id = rows.uuid(row, 1),
                       .org_id = rows.uuid(row, 2),
                       .name = rows.text(row, 3),
                       .website_ids = {},
                       .created_at = rows.int64(row, 4)};
}

}  // namespace

std::optional<domain::Organization> Transaction::find_organization(Pk org_pk) {
  static constexpr Statement kFind{
      "tenancy_find_organization",
      "SELECT pk, id, name, created_at FROM organizations WHERE pk = $1"};
  Result rows = db_.query(kFind, Params().add(org_pk));
  if (rows.rows() == 0) return std::nullopt;
  return read_organization(rows);
}

std::optional<domain::Organization> Transaction::find_organization_by_id(const Uuid& id) {
  static constexpr Statement kFind{
      "tenancy_find_organization_by_id",
      "SELECT pk, id, name, created_at FROM organizations WHERE id = $1"};
  Result rows = db_.query(kFind, Params().add(id));
  if (rows.rows() == 0) return std::nullopt;
  return read_organization(rows);
}

std::vector<domain::Organization> Transaction::list_organizations() {
  static constexpr Statement kList{
      "tenancy_list_organizations",
      "SELECT pk, id, name, created_at FROM organizations ORDER BY created_at, id"};
  Result rows = db_.query(kList, Params());
  std::vector<domain::Organization> organizations;
  for (int row = 0; row < rows.rows(); ++row) {
    organizations.push_back(domain::Organization{rows.int64(row, 0), rows.uuid(row, 1),
                                                 rows.text(row, 2), rows.int64(row, 3)});
  }
  return organizations;
}

std::optional<domain::Website> Transaction::find_website(Pk org_pk, const Uuid& id) {
  static constexpr Statement kFind{"tenancy_find_website", INVITED_WEBSITE_COLUMNS
                                   "WHERE w.id = $1 AND w.org_pk = $2 AND w.deleted_at IS NULL"};
  Result rows = db_.query(kFind, Params().add(id).add(org_pk));
  if (rows.rows() == 0) return std::nullopt;
  return read_website(rows, 0);
}

std::optional<domain::Website> Transaction::find_website_including_deleted(Pk org_pk,
                                                                           const Uuid& id) {
  static constexpr Statement kFind{"tenancy_find_website_including_deleted",
                                   INVITED_WEBSITE_COLUMNS "WHERE w.id = $1 AND w.org_pk = $2"};
  Result rows = db_.query(kFind, Params().add(id).add(org_pk));
  if (rows.rows() == 0) return std::nullopt;
  return read_website(rows, 0);
}

std::optional<Pk> Transaction::find_live_website_pk(Pk org_pk, const Uuid& id) {
  static constexpr Statement kFind{
      "tenancy_find_live_website_pk",
      "SELECT pk FROM websites WHERE id = $1 AND org_pk = $2 AND deleted_at IS NULL"};
  Result rows = db_.query(kFind, Params().add(id).add(org_pk));
  if (rows.rows() == 0) return std::nullopt;
  return rows.int64(0, 0);
}

domain::Page<domain::Website> Transaction::list_websites(Pk org_pk, std::optional<Pk> scoped_key_pk,
                                                         const domain::ListRequest& request) {
  // $1 org, ($2, $3) the position to start after, $4 limit, $5 offset, $6 the scoped key.
  static constexpr Statement kList{
      "tenancy_list_websites", INVITED_WEBSITE_COLUMNS
      "WHERE w.org_pk = $1 AND w.deleted_at IS NULL AND (w.created_at, w.id) > ($2, $3) "
      "ORDER BY w.created_at, w.id LIMIT $4 OFFSET $5"};
  // A scoped key's websites are read through its allowlist (at most 1,000), whatever the
  // organization's size.
  static constexpr Statement kListAllowed{
      "tenancy_list_allowed_websites", INVITED_WEBSITE_COLUMNS
      "JOIN api_key_websites kw ON kw.website_pk = w.pk AND kw.key_pk = $6 "
      "WHERE w.org_pk = $1 AND w.deleted_at IS NULL AND (w.created_at, w.id) > ($2, $3) "
      "ORDER BY w.created_at, w.id LIMIT $4 OFFSET $5"};
  static constexpr Statement kCount{
      "tenancy_count_websites",
      "SELECT count(*) FROM websites WHERE org_pk = $1 AND deleted_at IS NULL"};
  static constexpr Statement kCountAllowed{
      "tenancy_count_allowed_websites",
      "SELECT count(*) FROM websites w JOIN api_key_websites kw ON kw.website_pk = w.pk "
      "AND kw.key_pk = $2 WHERE w.org_pk = $1 AND w.deleted_at IS NULL"};
  // Any website of the organization (a deleted one keeps its place); for a scoped key, only one
  // in its allowlist.
  static constexpr Statement kLocate{
      "tenancy_locate_website",
      "SELECT w.created_at, w.id FROM websites w WHERE w.id = $1 AND w.org_pk = $2 "
      "AND ($3::int8 IS NULL OR EXISTS (SELECT 1 FROM api_key_websites "
      "  WHERE key_pk = $3 AND website_pk = w.pk))"};
  return read_list<domain::Website>(
      request, ListPosition::before_first(),
      [&](const Uuid& id) {
        return position_of(db_.query(kLocate, Params().add(id).add(org_pk).add(scoped_key_pk)));
      },
      [&](const ListPosition& after, std::int64_t limit, std::int64_t offset,
          std::vector<domain::Website>& items) {
        Params params;
        params.add(org_pk).add(after.time).add(after.id).add(limit).add(offset);
        if (scoped_key_pk) params.add(*scoped_key_pk);
        Result rows = db_.query(scoped_key_pk ? kListAllowed : kList, params);
        for (int row = 0; row < rows.rows(); ++row) items.push_back(read_website(rows, row));
      },
      [&] {
        Params params;
        params.add(org_pk);
        if (scoped_key_pk) params.add(*scoped_key_pk);
        return db_.query(scoped_key_pk ? kCountAllowed : kCount, params).int64(0, 0);
      });
}

void Transaction::load_group_websites(std::vector<domain::Group>& groups) {
  if (groups.empty()) return;
  static constexpr Statement kWebsites{
      "tenancy_group_websites",
      "SELECT gw.group_pk, w.id FROM group_websites gw JOIN websites w ON w.pk = gw.website_pk "
      "WHERE gw.group_pk = ANY ($1) AND w.deleted_at IS NULL "
      "ORDER BY gw.group_pk, w.created_at, w.id"};
  std::vector<Pk> group_pks;
  std::unordered_map<Pk, domain::Group*> by_pk;
  for (auto& group : groups) {
    group_pks.push_back(group.pk);
    by_pk[group.pk] = &group;
  }
  Result rows = db_.query(kWebsites, Params().add(group_pks));
  for (int row = 0; row < rows.rows(); ++row) {
    by_pk.at(rows.int64(row, 0))->website_ids.push_back(rows.uuid(row, 1));
  }
}

std::optional<domain::Group> Transaction::find_group(Pk org_pk, const Uuid& id) {
  static constexpr Statement kFind{
      "tenancy_find_group",
      "SELECT g.pk, g.id, o.id, g.name, g.created_at FROM website_groups g "
      "JOIN organizations o ON o.pk = g.org_pk "
      "WHERE g.id = $1 AND g.org_pk = $2 AND g.deleted_at IS NULL"};
  Result rows = db_.query(kFind, Params().add(id).add(org_pk));
  if (rows.rows() == 0) return std::nullopt;
  std::vector<domain::Group> groups{read_group(rows, 0)};
  load_group_websites(groups);
  return std::move(groups.front());
}

std::optional<Pk> Transaction::find_group_pk(Pk org_pk, const Uuid& id) {
  static constexpr Statement kFind{
      "tenancy_find_group_pk",
      "SELECT pk FROM website_groups WHERE id = $1 AND org_pk = $2 AND deleted_at IS NULL"};
  Result rows = db_.query(kFind, Params().add(id).add(org_pk));
  if (rows.rows() == 0) return std::nullopt;
  return rows.int64(0, 0);
}

std::vector<std::optional<Pk>> Transaction::find_live_target_pks(Pk org_pk, domain::TargetKind kind,
                                                                 std::span<const Uuid> ids) {
  // One statement for every target of a request: $2 is the uuid[] of the ids.
  static constexpr Statement kWebsites{
      "tenancy_find_live_website_pks",
      "SELECT id, pk FROM websites WHERE id = ANY ($2) AND org_pk = $1 AND deleted_at IS NULL"};
  static constexpr Statement kGroups{
      "tenancy_find_live_group_pks",
      "SELECT id, pk FROM website_groups WHERE id = ANY ($2) AND org_pk = $1 "
      "AND deleted_at IS NULL"};
  std::vector<std::optional<Pk>> pks(ids.size());
  if (ids.empty() || kind == domain::TargetKind::kOrganization) return pks;
  Result rows = db_.query(kind == domain::TargetKind::kWebsite ? kWebsites : kGroups,
                          Params().add(org_pk).add(ids));
  for (int row = 0; row < rows.rows(); ++row) {
    const Uuid id = rows.uuid(row, 0);
    for (std::size_t i = 0; i < ids.size(); ++i) {
      if (ids[i] == id) pks[i] = rows.int64(row, 1);
    }
  }
  return pks;
}

domain::Page<domain::Group> Transaction::list_groups(Pk org_pk,
                                                     const domain::ListRequest& request) {
  // $1 org, ($2, $3) the position to start after, $4 limit, $5 offset.
  static constexpr Statement kList{
      "tenancy_list_groups",
      "SELECT g.pk, g.id, o.id, g.name, g.created_at FROM website_groups g "
      "JOIN organizations o ON o.pk = g.org_pk "
      "WHERE g.org_pk = $1 AND g.deleted_at IS NULL AND (g.created_at, g.id) > ($2, $3) "
      "ORDER BY g.created_at, g.id LIMIT $4 OFFSET $5"};
  static constexpr Statement kCount{
      "tenancy_count_groups",
      "SELECT count(*) FROM website_groups WHERE org_pk = $1 AND deleted_at IS NULL"};
  // Any group of the organization; a deleted one keeps its place.
  static constexpr Statement kLocate{
      "tenancy_locate_group",
      "SELECT created_at, id FROM website_groups WHERE id = $1 AND org_pk = $2"};
  auto page = read_list<domain::Group>(
      request, ListPosition::before_first(),
      [&](const Uuid& id) { return position_of(db_.query(kLocate, Params().add(id).add(org_pk))); },
      [&](const ListPosition& after, std::int64_t limit, std::int64_t offset,
          std::vector<domain::Group>& items) {
        Result rows = db_.query(
            kList, Params().add(org_pk).add(after.time).add(after.id).add(limit).add(offset));
        for (int row = 0; row < rows.rows(); ++row) items.push_back(read_group(rows, row));
      },
      [&] { return db_.query(kCount, Params().add(org_pk)).int64(0, 0); });
  load_group_websites(page.items);
  return page;
}

domain::Organization Transaction::insert_organization(const Uuid& id, std::string_view name,
                                                      UnixSeconds now) {
  static constexpr Statement kInsert{
      "tenancy_insert_organization",
      "INSERT INTO organizations(id, name, created_at) VALUES ($1, $2, $3) RETURNING pk"};
  Result rows = db_.query(kInsert, Params().add(id).add(name).add(now));
  return domain::Organization{rows.int64(0, 0), id, std::string(name), now};
}

domain::Website Transaction::insert_website(Pk org_pk, const Uuid& id, std::string_view url,
                                            std::string_view name, UnixSeconds now) {
  static constexpr Statement kInsert{
      "tenancy_insert_website",
      "INSERT INTO websites(id, org_pk, url, name, created_at) VALUES ($1, $2, $3, $4, $5) "
      "RETURNING pk"};
  Result rows = db_.query(kInsert, Params().add(id).add(org_pk).add(url).add(name).add(now));
  return domain::Website{.pk = rows.int64(0, 0),
                         .id = id,
                         .org_id = {},
                         .url = std::string(url),
                         .name = std::string(name),
                         .created_at = now,
                         .deleted_at = std::nullopt};
}

void Transaction::set_website_deleted(Pk website_pk, std::optional<UnixSeconds> deleted_at) {
  static constexpr Statement kSet{"tenancy_set_website_deleted",
                                  "UPDATE websites SET deleted_at = $2 WHERE pk = $1"};
  db_.query(kSet, Params().add(website_pk).add(deleted_at));
}

Pk Transaction::insert_group(Pk org_pk, const Uuid& id, std::string_view name,
                             const std::vector<Pk>& website_pks, UnixSeconds now) {
  // The group and its websites in one statement.
  static constexpr Statement kInsert{
      "tenancy_insert_group",
      "WITH g AS (INSERT INTO website_groups(id, org_pk, name, created_at) "
      "  VALUES ($1, $2, $3, $4) RETURNING pk), "
      "gw AS (INSERT INTO group_websites(group_pk, website_pk) "
      "  SELECT g.pk, w FROM g, unnest($5::int8[]) AS w ON CONFLICT DO NOTHING) "
      "SELECT pk FROM g"};
  return db_.query(kInsert, Params().add(id).add(org_pk).add(name).add(now).add(website_pks))
      .int64(0, 0);
}

void Transaction::rename_group(Pk group_pk, std::string_view name) {
  static constexpr Statement kRename{"tenancy_rename_group",
                                     "UPDATE website_groups SET name = $2 WHERE pk = $1"};
  db_.query(kRename, Params().add(group_pk).add(name));
}

void Transaction::add_group_websites(Pk group_pk, const std::vector<Pk>& website_pks) {
  static constexpr Statement kAdd{
      "tenancy_add_group_websites",
      "INSERT INTO group_websites(group_pk, website_pk) SELECT $1, unnest($2::int8[]) "
      "ON CONFLICT DO NOTHING"};
  if (website_pks.empty()) return;
  db_.query(kAdd, Params().add(group_pk).add(website_pks));
}

void Transaction::remove_group_websites(Pk group_pk, const std::vector<Pk>& website_pks) {
  static constexpr Statement kRemove{
      "tenancy_remove_group_websites",
      "DELETE FROM group_websites WHERE group_pk = $1 AND website_pk = ANY ($2)"};
  if (website_pks.empty()) return;
  db_.query(kRemove, Params().add(group_pk).add(website_pks));
}

void Transaction::delete_group(Pk group_pk, UnixSeconds now) {
  static constexpr Statement kDelete{
      "tenancy_delete_group",
      "UPDATE website_groups SET deleted_at = $2 WHERE pk = $1 AND deleted_at IS NULL"};
  db_.query(kDelete, Params().add(group_pk).add(now));
}

#undef INVITED_WEBSITE_COLUMNS

}  // namespace invited::store::postgres
