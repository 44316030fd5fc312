// API keys: hashed secrets, optionally scoped to an allowlist of websites.
#include <algorithm>
#include <unordered_map>

#include "store/postgres/key_revocation_watch.hpp"
#include "store/postgres/list_page.hpp"
#include "store/postgres/transaction.hpp"
#include "store/postgres/values.hpp"

namespace invited::store::postgres {

using domain::Pk;
using domain::UnixSeconds;
using domain::Uuid;

namespace {

#define INVITED_KEY_COLUMNS                                                          \
  "SELECT k.pk, k.id, k.org_pk, o.id, k.name, k.scoped, k.created_at, k.revoked_at " \
  "FROM api_keys k JOIN organizations o ON o.pk = k.org_pk "

domain::ApiKey read_key(const Result& rows, int row) {
  domain::ApiKey key;
  key.pk = rows.int64(row, 0);
  key.id = rows.uuid(row, 1);
  key.org_pk = rows.int64(row, 2);
  key.org_id = rows.uuid(row, 3);
  key.name = rows.text(row, 4);
  key.scoped = rows.boolean(row, 5);
  key.created_at = rows.int64(row, 6);
  key.revoked_at = rows.optional_int64(row, 7);
  return key;
}

}  // namespace

void Transaction::load_key_websites(std::vector<domain::ApiKey>& keys) {
  static constexpr Statement kKeyWebsites{
      "api_keys_websites",
      "SELECT kw.key_pk, w.pk, w.id FROM api_key_websites kw "
      "JOIN websites w ON w.pk = kw.website_pk WHERE kw.key_pk = ANY ($1) "
      "ORDER BY kw.key_pk, w.created_at, w.id"};
  std::vector<Pk> scoped;
  std::unordered_map<Pk, domain::ApiKey*> by_pk;
  for (auto& key : keys) {
    if (!key.scoped) continue;
    scoped.push_back(key.pk);
    by_pk[key.pk] = &key;
  }
  if (scoped.empty()) return;
  Result rows = db_.query(kKeyWebsites, Params().add(scoped));
  for (int row = 0; row < rows.rows(); ++row) {
    domain::ApiKey& key = *by_pk.at(rows.int64(row, 0));
    key.website_pks.push_back(rows.int64(row, 1));
    key.website_ids.push_back(rows.uuid(row, 2));
  }
  // domain::Principal looks the row keys up by binary search.
  for (auto& [pk, key] : by_pk) std::sort(key->website_pks.begin(), key->website_pks.end());
}

std::optional<domain::ApiKey> Transaction::find_api_key(const domain::SecretHash& hash) {
  static constexpr Statement kFind{"api_keys_find", INVITED_KEY_COLUMNS "WHERE k.key_hash = $1"};
  Result rows = db_.query(kFind, Params().add_bytea(hash_bytes(hash)));
  if (rows.rows() == 0) return std::nullopt;
  std::vector<domain::ApiKey> keys{read_key(rows, 0)};
  load_key_websites(keys);
  return std::move(keys.front());
}

std::optional<domain::ApiKey> Transaction::find_api_key_by_id(Pk org_pk, const Uuid& id) {
  static constexpr Statement kFind{"api_keys_find_by_id",
                                   INVITED_KEY_COLUMNS "WHERE k.id = $1 AND k.org_pk = $2"};
  Result rows = db_.query(kFind, Params().add(id).add(org_pk));
  if (rows.rows() == 0) return std::nullopt;
  std::vector<domain::ApiKey> keys{read_key(rows, 0)};
  load_key_websites(keys);
  return std::move(keys.front());
}

std::optional<domain::ApiKey> Transaction::find_api_key_in_any_organization(const Uuid& id) {
  static constexpr Statement kFind{"api_keys_find_in_any_organization",
                                   INVITED_KEY_COLUMNS "WHERE k.id = $1"};
  Result rows = db_.query(kFind, Params().add(id));
  if (rows.rows() == 0) return std::nullopt;
  std::vector<domain::ApiKey> keys{read_key(rows, 0)};
  load_key_websites(keys);
  return std::move(keys.front());
}

domain::Page<domain::ApiKey> Transaction::list_api_keys(Pk org_pk,
                                                        const domain::ListRequest& request) {
  // $1 org, ($2, $3) the position to start after, $4 limit, $5 offset.
  static constexpr Statement kList{"api_keys_list", INVITED_KEY_COLUMNS
                                   "WHERE k.org_pk = $1 AND (k.created_at, k.id) > ($2, $3) "
                                   "ORDER BY k.created_at, k.id LIMIT $4 OFFSET $5"};
  static constexpr Statement kCount{"api_keys_count",
                                    "SELECT count(*) FROM api_keys WHERE org_pk = $1"};
  static constexpr Statement kLocate{
      "api_keys_locate", "SELECT created_at, id FROM api_keys WHERE id = $1 AND org_pk = $2"};
  auto page = read_list<domain::ApiKey>(
      request, ListPosition::before_first(),
      [&](const Uuid& id) { return position_of(db_.query(kLocate, Params().add(id).add(org_pk))); },
      [&](const ListPosition& after, std::int64_t limit, std::int64_t offset,
          std::vector<domain::ApiKey>& items) {
        Result rows = db_.query(
            kList, Params().add(org_pk).add(after.time).add(after.id).add(limit).add(offset));
        for (int row = 0; row < rows.rows(); ++row) items.push_back(read_key(rows, row));
      },
      [&] { return db_.query(kCount, Params().add(org_pk)).int64(0, 0); });
  load_key_websites(page.items);
  return page;
}
#undef INVITED_KEY_COLUMNS

domain::ApiKey Transaction::insert_api_key(const domain::NewApiKey& key) {
  // The key and its allowlist in one statement.
  static constexpr Statement kInsert{
      "api_keys_insert",
      "WITH k AS (INSERT INTO api_keys(id, org_pk, name, key_hash, scoped, created_at) "
      "  VALUES ($1, $2, $3, $4, $5, $6) RETURNING pk), "
      "allowed AS (INSERT INTO api_key_websites(key_pk, website_pk) "
      "  SELECT k.pk, w FROM k, unnest($7::int8[]) AS w ON CONFLICT DO NOTHING) "
      "SELECT pk FROM k"};
  Pk pk = db_.query(kInsert, Params()
                                 .add(key.id)
                                 .add(key.org_pk)
                                 .add(key.name)
                                 .add_bytea(hash_bytes(key.hash))
                                 .add(key.scoped)
                                 .add(key.created_at)
                                 .add(key.website_pks))
              .int64(0, 0);
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
  // Notifies every instance that listens (key_revocation_watch.hpp) when, and only if, the
  // revocation commits, whichever process revokes (the API, `invited admin revoke-key`).
  static constexpr Statement kRevoke{
      "api_keys_revoke",
      "WITH revoked AS (UPDATE api_keys SET revoked_at = $2 WHERE pk = $1 AND revoked_at IS NULL "
      "RETURNING pk) SELECT count(pg_notify($3, pk::text)) FROM revoked"};
  db_.query(kRevoke, Params().add(key_pk).add(now).add(std::string(kKeyRevokedChannel)));
}

}  // namespace invited::store::postgres
