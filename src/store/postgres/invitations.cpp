// Invitations: the batches of email-mode requests and their tokens.
#include <string>

#include "store/postgres/transaction.hpp"
#include "store/postgres/values.hpp"

namespace invited::store::postgres {

using domain::Pk;
using domain::UnixSeconds;

domain::Invitation Transaction::load_invitation(Pk batch_pk) {
  static constexpr Statement kBatch{
      "invitations_load_batch",
      "SELECT o.name, b.expires_at, b.email, b.first_name, b.last_name "
      "FROM invite_batches b JOIN organizations o ON o.pk = b.org_pk WHERE b.pk = $1"};
  static constexpr Statement kTargets{
      "invitations_load_targets",
      "SELECT i.target_kind, coalesce(w.name, g.name, o.name), coalesce(w.url, ''), i.role "
      "FROM invites i "
      "LEFT JOIN websites w ON i.target_kind = 1 AND w.pk = i.target_pk "
      "LEFT JOIN website_groups g ON i.target_kind = 2 AND g.pk = i.target_pk "
      "LEFT JOIN organizations o ON i.target_kind = 0 AND o.pk = i.target_pk "
      "WHERE i.batch_pk = $1 AND i.status = 0 ORDER BY i.pk"};
  // Both in one round trip.
  Pipeline pipeline(db_);
  pipeline.add(kBatch, Params().add(batch_pk));
  pipeline.add(kTargets, Params().add(batch_pk));
  std::vector<Result> results = pipeline.run();
  domain::Invitation invitation;
  invitation.batch_pk = batch_pk;
  const Result& batch = results[0];
  if (batch.rows() == 0) return invitation;
  invitation.organization_name = batch.text(0, 0);
  invitation.expires_at = batch.int64(0, 1);
  invitation.email = batch.text(0, 2);
  invitation.first_name = batch.optional_text(0, 3);
  invitation.last_name = batch.optional_text(0, 4);
  const Result& targets = results[1];
  for (int row = 0; row < targets.rows(); ++row) {
    invitation.targets.push_back(
        domain::InvitationTarget{.kind = static_cast<domain::TargetKind>(targets.int64(row, 0)),
                                 .name = targets.text(row, 1),
                                 .url = targets.text(row, 2),
                                 .role = static_cast<domain::Role>(targets.int64(row, 3))});
  }
  return invitation;
}

std::optional<domain::Batch> Transaction::find_batch_by_token(
    const domain::SecretHash& token_hash) {
  // The current token first, then the previous one (see set_batch_token).
  static constexpr Statement kFind{
      "invitations_find_batch_by_token",
      "SELECT b.pk, b.id, b.org_pk, b.expires_at, b.used_at, "
      "  (SELECT count(*) FROM invites i WHERE i.batch_pk = b.pk AND i.status = 0) "
      "FROM invite_batches b WHERE b.pk = coalesce("
      "  (SELECT pk FROM invite_batches WHERE token_hash = $1), "
      "  (SELECT pk FROM invite_batches WHERE previous_token_hash = $1 LIMIT 1))"};
  Result rows = db_.query(kFind, Params().add_bytea(hash_bytes(token_hash)));
  if (rows.rows() == 0) return std::nullopt;
  return domain::Batch{.pk = rows.int64(0, 0),
                       .id = rows.uuid(0, 1),
                       .org_pk = rows.int64(0, 2),
                       .expires_at = rows.int64(0, 3),
                       .used_at = rows.optional_int64(0, 4),
                       .pending_invites = static_cast<int>(rows.int64(0, 5))};
}

bool Transaction::is_retired_token(const domain::SecretHash& token_hash) {
  static constexpr Statement kFind{"invitations_is_retired_token",
                                   "SELECT 1 FROM retired_tokens WHERE token_hash = $1"};
  return db_.query(kFind, Params().add_bytea(hash_bytes(token_hash))).rows() > 0;
}

std::vector<domain::BatchInvite> Transaction::batch_invites(Pk batch_pk) {
  static constexpr Statement kInvites{
      "invitations_batch_invites",
      "SELECT i.pk, i.id, i.target_kind, i.target_pk, coalesce(w.id, g.id, o.id), "
      "  coalesce(w.name, g.name, o.name), coalesce(w.url, ''), "
      "  CASE i.target_kind WHEN 1 THEN w.deleted_at IS NULL WHEN 2 THEN g.deleted_at IS NULL "
      "    ELSE true END, "
      "  i.role, i.status, b.email, b.first_name, b.last_name "
      "FROM invites i JOIN invite_batches b ON b.pk = i.batch_pk "
      "LEFT JOIN websites w ON i.target_kind = 1 AND w.pk = i.target_pk "
      "LEFT JOIN website_groups g ON i.target_kind = 2 AND g.pk = i.target_pk "
      "LEFT JOIN organizations o ON i.target_kind = 0 AND o.pk = i.target_pk "
      "WHERE i.batch_pk = $1 ORDER BY i.pk"};
  std::vector<domain::BatchInvite> invites;
  Result rows = db_.query(kInvites, Params().add(batch_pk));
  for (int row = 0; row < rows.rows(); ++row) {
    invites.push_back(
        domain::BatchInvite{.pk = rows.int64(row, 0),
                            .id = rows.uuid(row, 1),
                            .kind = static_cast<domain::TargetKind>(rows.int64(row, 2)),
                            .target_pk = rows.int64(row, 3),
                            .target_id = rows.uuid(row, 4),
                            .target_name = rows.text(row, 5),
                            .target_url = rows.text(row, 6),
                            .target_live = rows.boolean(row, 7),
                            .role = static_cast<domain::Role>(rows.int64(row, 8)),
                            .status = static_cast<domain::InviteStatus>(rows.int64(row, 9)),
                            .email = rows.text(row, 10),
                            .first_name = rows.optional_text(row, 11),
                            .last_name = rows.optional_text(row, 12)});
  }
  return invites;
}

Pk Transaction::insert_batch(const domain::NewBatch& batch) {
  // No token yet (the claim of its email mints one): random bytes, the hash of no token, keep
  // token_hash UNIQUE and NOT NULL.
  static const std::string kSql =
      std::string(
          "INSERT INTO invite_batches(id, org_pk, email, first_name, last_name, token_hash, "
          "created_at, expires_at) VALUES ($1, $2, $3, $4, $5, ") +
      kNoTokenHash + ", $6, $7) RETURNING pk";
  static const Statement kInsert{"invitations_insert_batch", kSql.c_str()};
  return db_
      .query(kInsert, Params()
                          .add(batch.id)
                          .add(batch.org_pk)
                          .add(batch.email_address)
                          .add(batch.first_name)
                          .add(batch.last_name)
                          .add(batch.created_at)
                          .add(batch.expires_at))
      .int64(0, 0);
}

void Transaction::retire_batch_tokens(Pk batch_pk, UnixSeconds expires_at, UnixSeconds now) {
  // Before the first claim token_hash is random bytes: retiring it too costs a row and is
  // harmless. The four steps in one round trip.
  static constexpr Statement kRetire{
      "invitations_retire_tokens",
      "INSERT INTO retired_tokens(token_hash, batch_pk, retired_at) "
      "SELECT token_hash, pk, $2 FROM invite_batches WHERE pk = $1 "
      "UNION ALL SELECT previous_token_hash, pk, $2 FROM invite_batches "
      "  WHERE pk = $1 AND previous_token_hash IS NOT NULL "
      "ON CONFLICT DO NOTHING"};
  static const std::string kBatchSql =
      std::string("UPDATE invite_batches SET token_hash = ") + kNoTokenHash +
      ", previous_token_hash = NULL, expires_at = $2, delivery = 0 WHERE pk = $1";
  static const Statement kBatch{"invitations_reset_batch", kBatchSql.c_str()};
  static constexpr Statement kInvites{"invitations_extend_invites",
                                      "UPDATE invites SET expires_at = $2, expiry_recorded = false "
                                      "WHERE batch_pk = $1 AND status = 0"};
  static constexpr Statement kCancelQueued{
      "invitations_cancel_queued",
      "UPDATE outbox_emails SET status = 3, claimed_until = NULL, sent_at = $2 "
      "WHERE batch_pk = $1 AND status = 0"};
  Pipeline pipeline(db_);
  pipeline.add(kRetire, Params().add(batch_pk).add(now));
  pipeline.add(kBatch, Params().add(batch_pk).add(expires_at));
  pipeline.add(kInvites, Params().add(batch_pk).add(expires_at));
  pipeline.add(kCancelQueued, Params().add(batch_pk).add(now));
  pipeline.run();
}

void Transaction::mark_batch_used(Pk batch_pk, UnixSeconds now) {
  static constexpr Statement kUsed{"invitations_mark_batch_used",
                                   "UPDATE invite_batches SET used_at = $2 WHERE pk = $1"};
  db_.query(kUsed, Params().add(batch_pk).add(now));
}

void Transaction::set_batch_token(Pk batch_pk, const domain::SecretHash& token_hash) {
  static constexpr Statement kSet{
      "invitations_set_batch_token",
      "UPDATE invite_batches SET previous_token_hash = token_hash, token_hash = $2 WHERE pk = $1"};
  db_.query(kSet, Params().add(batch_pk).add_bytea(hash_bytes(token_hash)));
}

}  // namespace invited::store::postgres
