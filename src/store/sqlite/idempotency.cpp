// The idempotent responses topic (domain/idempotency_store.hpp).
#include <algorithm>

#include "store/sqlite/transaction.hpp"

namespace invited::store::sqlite {

using domain::Pk;
using domain::UnixSeconds;

bool Transaction::mark_idempotency_key_running(Pk, std::string_view) {
  // One writer runs write units one after another: no other unit is running now.
  return true;
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
