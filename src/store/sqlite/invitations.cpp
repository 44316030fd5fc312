// The invitations topic (domain/invitation_store.hpp): batches and their tokens.
#include "store/sqlite/transaction.hpp"

namespace invited::store::sqlite {

using domain::Pk;
using domain::UnixSeconds;

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
      "WHERE i.batch_pk = ?1 ORDER BY i.pk";  // the request's order (invitation_store.hpp)
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
      "WHERE i.batch_pk = ?1 AND i.status = 0 ORDER BY i.pk";  // the request's order
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

void Transaction::set_batch_token(Pk batch_pk, const domain::SecretHash& token_hash) {
  static constexpr const char* kSet =
      "UPDATE invite_batches SET previous_token_hash = token_hash, token_hash = ?2 WHERE pk = ?1";
  db_.query(kSet).bind(1, batch_pk).bind_blob(2, token_hash.data(), token_hash.size()).execute();
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
      "UPDATE invites SET expires_at = ?2, expiry_recorded = 0 WHERE batch_pk = ?1 AND status = 0";
  static constexpr const char* kCancelQueued =
      "UPDATE outbox_emails INDEXED BY outbox_emails_due "
      "SET status = 3, claimed_until = NULL, sent_at = ?2 WHERE batch_pk = ?1 AND status = 0";
  db_.query(kRetire).bind(1, batch_pk).bind(2, now).execute();
  db_.query(kBatch).bind(1, batch_pk).bind(2, expires_at).execute();
  db_.query(kInvites).bind(1, batch_pk).bind(2, expires_at).execute();
  db_.query(kCancelQueued).bind(1, batch_pk).bind(2, now).execute();
}

void Transaction::mark_batch_used(Pk batch_pk, UnixSeconds now) {
  static constexpr const char* kUsed = "UPDATE invite_batches SET used_at = ?2 WHERE pk = ?1";
  db_.query(kUsed).bind(1, batch_pk).bind(2, now).execute();
}

}  // namespace invited::store::sqlite
