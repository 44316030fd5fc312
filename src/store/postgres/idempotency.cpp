// Responses kept for Idempotency-Key replays.
#include "store/postgres/transaction.hpp"
#include "store/postgres/values.hpp"

namespace invited::store::postgres {

using domain::Pk;
using domain::UnixSeconds;

bool Transaction::mark_idempotency_key_running(Pk org_pk, std::string_view key) {
  // A transaction advisory lock on a 64-bit hash of (organization, key): PostgreSQL holds it
  // until the transaction ends, and drops it when the session dies (kill -9 of the instance
  // included), so "held" means "a unit running this key is still alive", whichever instance
  // runs it. Taken in its two-int4 form, which lives apart from the int8 locks (instances,
  // migrations) and so never meets them. Two keys sharing a hash (odds 2^-64) at the same
  // moment would answer 409 idempotency_key_in_use once: harmless.
  static constexpr Statement kMark{
      "idempotency_mark_running",
      "SELECT pg_try_advisory_xact_lock((h >> 32)::int4, ((h & 4294967295) - 2147483648)::int4) "
      "FROM (SELECT hashtextextended($2, $1) AS h) AS hashed"};
  return db_.query(kMark, Params().add(org_pk).add(key)).boolean(0, 0);
}

std::optional<domain::IdempotentResponse> Transaction::find_idempotent_response(
    Pk org_pk, std::string_view key, UnixSeconds not_before) {
  static constexpr Statement kFind{
      "idempotency_find",
      "SELECT request_hash, status, body, created_at FROM idempotent_responses "
      "WHERE org_pk = $1 AND key = $2 AND created_at >= $3"};
  Result rows = db_.query(kFind, Params().add(org_pk).add(key).add(not_before));
  if (rows.rows() == 0) return std::nullopt;
  domain::IdempotentResponse response;
  response.request_hash = to_hash(rows.bytea(0, 0));
  response.status = static_cast<int>(rows.int64(0, 1));
  response.body = rows.text(0, 2);
  response.created_at = rows.int64(0, 3);
  return response;
}

bool Transaction::save_idempotent_response(Pk org_pk, std::string_view key,
                                           const domain::IdempotentResponse& response,
                                           UnixSeconds not_before) {
  // The primary key (org_pk, key) decides: a live row is never overwritten, an expired one that
  // pruning has not reached yet is. A unit racing for the same key waits for the one holding it
  // and, once that one commits, fails serialization and runs again (then finds its response).
  static constexpr Statement kSave{
      "idempotency_save",
      "INSERT INTO idempotent_responses(org_pk, key, request_hash, status, body, created_at) "
      "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (org_pk, key) DO UPDATE SET "
      "request_hash = excluded.request_hash, status = excluded.status, body = excluded.body, "
      "created_at = excluded.created_at WHERE idempotent_responses.created_at < $7"};
  return db_.query(kSave, Params()
                              .add(org_pk)
                              .add(key)
                              .add_bytea(hash_bytes(response.request_hash))
                              .add(response.status)
                              .add(response.body)
                              .add(response.created_at)
                              .add(not_before))
             .affected() == 1;
}

int Transaction::prune_idempotent_responses(UnixSeconds not_before, int limit) {
  // Oldest first through idempotent_responses_by_age, so a pass touches only expired rows.
  static constexpr Statement kPrune{"idempotency_prune",
                                    "DELETE FROM idempotent_responses WHERE (org_pk, key) IN ("
                                    "SELECT org_pk, key FROM idempotent_responses "
                                    "WHERE created_at < $1 ORDER BY created_at LIMIT $2)"};
  return static_cast<int>(db_.query(kPrune, Params().add(not_before).add(limit)).affected());
}

}  // namespace invited::store::postgres
