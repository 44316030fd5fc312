// The outbox: emails written in the request's transaction, claimed and delivered by the mail
// worker (domain/outbox.hpp).
#include <algorithm>
#include <vector>

#include "store/postgres/transaction.hpp"

namespace invited::store::postgres {

using domain::Pk;
using domain::UnixSeconds;

namespace {

// While this instance does not hold its lock, its worker asks again this often.
constexpr std::int64_t kPausedClaimRetryMs = 500;

}  // namespace

void Transaction::enqueue_email(const domain::NewEmail& email) {
  static constexpr Statement kInsert{
      "outbox_enqueue",
      "INSERT INTO outbox_emails(message_id, batch_pk, to_address, next_attempt_ms, created_at) "
      "VALUES ($1, $2, $3, $4, $5)"};
  db_.query(kInsert, Params()
                         .add(email.message_id)
                         .add(email.batch_pk)
                         .add(email.to_address)
                         .add(email.queued_ms)
                         .add(email.created_at));
  email_enqueued_ = true;
}

std::optional<std::int64_t> Transaction::next_email_due_ms() {
  // An email someone holds is due again when its lease ends (or at once, when its claimant dies:
  // a worker that is asleep then notices at the end of the lease at the latest).
  static constexpr Statement kNext{
      "outbox_next_due",
      "SELECT min(greatest(next_attempt_ms, coalesce(claimed_until, 0))) "
      "FROM outbox_emails WHERE status = 0"};
  Result rows = db_.query(kNext);
  std::optional<std::int64_t> due;
  if (rows.rows() > 0 && !rows.is_null(0, 0)) due = rows.int64(0, 0);
  // Claiming paused (this instance without its lock): ask again soon, whatever is due.
  if (due && claims_paused_until_ms_) due = std::min(*due, *claims_paused_until_ms_);
  return due;
}

domain::OutboxBacklog Transaction::outbox_backlog(std::int64_t now_ms) {
  // The count passes over the partial index of queued emails (outbox_emails_due); the oldest due
  // time is its first entry: emails are due from next_attempt_ms, the time they were queued or
  // their retry's.
  static constexpr Statement kBacklog{
      "outbox_backlog",
      "SELECT (SELECT count(*) FROM outbox_emails WHERE status = 0), "
      "(SELECT min(next_attempt_ms) FROM outbox_emails WHERE status = 0 "
      "AND next_attempt_ms <= $1)"};
  Result rows = db_.query(kBacklog, Params().add(now_ms));
  domain::OutboxBacklog backlog;
  backlog.queued = rows.int64(0, 0);
  if (!rows.is_null(0, 1)) backlog.oldest_due_ms = rows.int64(0, 1);
  return backlog;
}

std::vector<domain::OutboxEmail> Transaction::claim_due_emails(std::int64_t now_ms,
                                                               std::int64_t lease_until_ms,
                                                               int limit) {
  // One statement picks and claims up to $4 emails. With several workers (processes), each
  // takes different emails: rows another transaction has locked are skipped, not waited for. Due
  // longest first; among emails due at the same millisecond, the one queued first (message ids
  // are UUIDv7, ordered by the time they were made), never the row key.
  //
  // A claim names its instance ($3, claimed_by) and is held while both its lease (on the
  // database's clock) runs and its instance lives (instance_lock.hpp): an email whose claimant
  // no longer holds its lock is free at once. A shared transaction lock on a claimant's id is
  // granted exactly when nobody holds the exclusive session lock its instance keeps; the test
  // never blocks and ends with the transaction. This instance claims nothing unless the same
  // test on its own id fails, i.e. its own lock is held: `instance.alive`, false when its
  // lock's connection was lost (its claims may be someone else's by now). The first column
  // says which; the others are the claimed emails, if any (one row per email, in due order; one
  // row of nulls when none was claimed).
  static constexpr Statement kClaim{
      "outbox_claim",
      "WITH instance AS MATERIALIZED ("
      "  SELECT NOT pg_try_advisory_xact_lock_shared($3) AS alive, "
      "    (extract(epoch FROM clock_timestamp()) * 1000)::int8 AS now_ms), "
      "picked AS ("
      "  SELECT pk FROM outbox_emails "
      "  WHERE (SELECT alive FROM instance) AND status = 0 AND next_attempt_ms <= $1 "
      "    AND (claimed_until IS NULL OR claimed_until <= (SELECT now_ms FROM instance) "
      "      OR (claimed_by IS NOT NULL AND claimed_by <> $3 "
      "        AND pg_try_advisory_xact_lock_shared(claimed_by))) "
      "  ORDER BY next_attempt_ms, message_id LIMIT $4 FOR UPDATE SKIP LOCKED), "
      "claimed AS ("
      "  UPDATE outbox_emails e SET attempts = e.attempts + 1, claimed_by = $3, "
      "    claimed_until = (SELECT now_ms FROM instance) + $2 "
      "  FROM picked WHERE e.pk = picked.pk "
      "  RETURNING e.pk, e.message_id, e.batch_pk, e.to_address, e.attempts, e.created_at, "
      "    e.next_attempt_ms) "
      "SELECT instance.alive, claimed.pk, claimed.message_id, claimed.batch_pk, "
      "  claimed.to_address, claimed.attempts, claimed.created_at "
      "FROM instance LEFT JOIN claimed ON true "
      "ORDER BY claimed.next_attempt_ms, claimed.message_id"};
  claims_paused_until_ms_.reset();
  if (instance_ == nullptr || !instance_->held_or_wait()) {
    claims_paused_until_ms_ = now_ms + kPausedClaimRetryMs;
    return {};
  }
  const std::int64_t lease_ms = std::max<std::int64_t>(1, lease_until_ms - now_ms);
  Result rows = db_.query(
      kClaim, Params().add(now_ms).add(lease_ms).add(instance_->id()).add(std::max(1, limit)));
  if (!rows.boolean(0, 0)) {
    claims_paused_until_ms_ = now_ms + kPausedClaimRetryMs;
    return {};
  }
  std::vector<domain::OutboxEmail> emails;
  for (int row = 0; row < rows.rows(); ++row) {
    if (rows.is_null(row, 1)) continue;
    domain::OutboxEmail& email =
        emails.emplace_back(domain::OutboxEmail{.pk = rows.int64(row, 1),
                                                .message_id = rows.uuid(row, 2),
                                                .batch_pk = rows.int64(row, 3),
                                                .to_address = rows.text(row, 4),
                                                .attempts = static_cast<int>(rows.int64(row, 5)),
                                                .created_at = rows.int64(row, 6)});
    instance_->note_claim(email.pk, lease_ms);
  }
  return emails;
}

void Transaction::end_claim(Pk email_pk) {
  if (instance_ != nullptr) instance_->note_claim_ended(email_pk);
}

void Transaction::set_batch_delivery(Pk email_pk, int delivery) {
  static constexpr Statement kBatch{
      "outbox_set_batch_delivery",
      "UPDATE invite_batches SET delivery = $2 "
      "WHERE pk = (SELECT batch_pk FROM outbox_emails WHERE pk = $1)"};
  db_.query(kBatch, Params().add(email_pk).add(delivery));
}

// Every outcome applies only to an email still queued: a resend may have cancelled it (and reset
// the batch's delivery state for its new email) while it was being sent.
void Transaction::mark_email_sent(Pk email_pk, UnixSeconds now) {
  end_claim(email_pk);
  static constexpr Statement kSent{"outbox_mark_sent",
                                   "UPDATE outbox_emails SET status = 1, claimed_by = NULL, "
                                   "claimed_until = NULL, sent_at = $2, last_error = NULL "
                                   "WHERE pk = $1 AND status = 0"};
  if (db_.query(kSent, Params().add(email_pk).add(now)).affected() > 0) {
    set_batch_delivery(email_pk, 1);
  }
}

void Transaction::mark_email_retry(Pk email_pk, std::int64_t next_attempt_ms,
                                   std::string_view error) {
  end_claim(email_pk);
  static constexpr Statement kRetry{"outbox_mark_retry",
                                    "UPDATE outbox_emails SET claimed_by = NULL, claimed_until = "
                                    "NULL, next_attempt_ms = $2, last_error = $3 "
                                    "WHERE pk = $1 AND status = 0"};
  db_.query(kRetry, Params().add(email_pk).add(next_attempt_ms).add(error));
}

void Transaction::mark_email_failed(Pk email_pk, std::string_view error, UnixSeconds now) {
  end_claim(email_pk);
  static constexpr Statement kFailed{"outbox_mark_failed",
                                     "UPDATE outbox_emails SET status = 2, claimed_by = NULL, "
                                     "claimed_until = NULL, last_error = $2, sent_at = $3 "
                                     "WHERE pk = $1 AND status = 0"};
  if (db_.query(kFailed, Params().add(email_pk).add(error).add(now)).affected() > 0) {
    set_batch_delivery(email_pk, 2);
  }
}

void Transaction::mark_email_cancelled(Pk email_pk, UnixSeconds now) {
  end_claim(email_pk);
  static constexpr Statement kCancel{
      "outbox_mark_cancelled",
      "UPDATE outbox_emails SET status = 3, claimed_by = NULL, claimed_until = NULL, sent_at = $2 "
      "WHERE pk = $1 AND status = 0"};
  db_.query(kCancel, Params().add(email_pk).add(now));
}

void Transaction::release_email_claim(Pk email_pk) {
  end_claim(email_pk);
  static constexpr Statement kRelease{
      "outbox_release_claim",
      "UPDATE outbox_emails SET attempts = attempts - 1, claimed_by = NULL, claimed_until = NULL "
      "WHERE pk = $1 AND status = 0 AND claimed_until IS NOT NULL"};
  db_.query(kRelease, Params().add(email_pk));
}

int Transaction::release_all_email_claims() {
  // Only queued emails can hold a claim: every other state clears it.
  static constexpr Statement kRelease{
      "outbox_release_all_claims",
      "UPDATE outbox_emails SET claimed_by = NULL, claimed_until = NULL "
      "WHERE status = 0 AND claimed_until IS NOT NULL"};
  return static_cast<int>(db_.query(kRelease).affected());
}

}  // namespace invited::store::postgres
