// The API keys topic (domain/api_key_store.hpp).
#include <algorithm>
#include <string>

#include "store/sqlite/list_page.hpp"
#include "store/sqlite/transaction.hpp"

namespace invited::store::sqlite {

using domain::Pk;
using domain::UnixSeconds;
using domain::Uuid;

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

std::optional<domain::ApiKey> Transaction::find_api_key_in_any_organization(const Uuid& id) {
  static const std::string kFind = std::string(kKeyColumns) + "WHERE k.id = ?1";
  std::optional<domain::ApiKey> key;
  {
    auto row = db_.query(kFind.c_str());
    row.bind(1, id);
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
      [&] { return count_rows(db_, kCount, org_pk); });
  for (auto& key : page.items) load_key_websites(key);
  return page;
}

void Transaction::load_key_websites(domain::ApiKey& key) {
  static constexpr const char* kKeyWebsites =
      "SELECT w.pk, w.id FROM api_key_websites kw JOIN websites w ON w.pk = kw.website_pk "
      "WHERE kw.key_pk = ?1 ORDER BY w.created_at, w.id";
  auto rows = db_.query(kKeyWebsites);
  rows.bind(1, key.pk);
  while (rows.step()) {
    key.website_pks.push_back(rows.int64(0));
    key.website_ids.push_back(rows.uuid(1));
  }
  std::sort(key.website_pks.begin(), key.website_pks.end());  // domain::Principal looks them up
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

void Transaction::revoke_api_key(Pk key_pk, UnixSeconds now) {
  static constexpr const char* kRevoke =
      "UPDATE api_keys SET revoked_at = ?2 WHERE pk = ?1 AND revoked_at IS NULL";
  db_.query(kRevoke).bind(1, key_pk).bind(2, now).execute();
}

}  // namespace invited::store::sqlite
