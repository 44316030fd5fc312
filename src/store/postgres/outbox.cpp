// The outbox: emails written in the request's transaction, claimed and delivered by the mail
// worker (domain/outbox.hpp).
#include "store/postgres/transaction.hpp"

namespace invited::store::postgres {

using domain::Pk;
using domain::UnixSeconds;

void Transaction::enqueue_email(const domain::NewEmail& email) {
  static constexpr Statement kInsert{
      "outbox_enqueue",
      "INSERT INTO outbox_emails(message_id, batch_pk, to_address, next_attempt_ms, created_at) "
      "VALUES ($1, $2, $3, $4 * 1000, $4)"};
  db_.query(kInsert, Params()
                         .add(email.message_id)
                         .add(email.batch_pk)
                         .add(email.to_address)
                         .add(email.created_at));
  email_enqueued_ = true;
}

std::optional<std::int64_t> Transaction::next_email_due_ms() {
  // An email someone holds is due again when its lease ends.
  static constexpr Statement kNext{
      "outbox_next_due",
      "SELECT min(greatest(next_attempt_ms, coalesce(claimed_until, 0))) "
      "FROM outbox_emails WHERE status = 0"};
  Result rows = db_.query(kNext);
  if (rows.rows() == 0 || rows.is_null(0, 0)) return std::nullopt;
  return rows.int64(0, 0);
}

std::optional<domain::OutboxEmail> Transaction::claim_due_email(std::int64_t now_ms,
                                                                std::int64_t lease_until_ms) {
  // One statement picks and claims. With several workers (processes), each takes a different
  // email: rows another transaction has locked are skipped, not waited for. Due longest first;
  // among emails due at the same millisecond, the one queued first (message ids are UUIDv7,
  // ordered by the time they were made), never the row key.
  static constexpr Statement kClaim{
      "outbox_claim",
      "UPDATE outbox_emails SET attempts = attempts + 1, claimed_until = $2 "
      "WHERE pk = (SELECT pk FROM outbox_emails "
      "  WHERE status = 0 AND next_attempt_ms <= $1 "
      "    AND (claimed_until IS NULL OR claimed_until <= $1) "
      "  ORDER BY next_attempt_ms, message_id LIMIT 1 FOR UPDATE SKIP LOCKED) "
      "RETURNING pk, message_id, batch_pk, to_address, attempts, created_at"};
  Result rows = db_.query(kClaim, Params().add(now_ms).add(lease_until_ms));
  if (rows.rows() == 0) return std::nullopt;
  return domain::OutboxEmail{.pk = rows.int64(0, 0),
                             .message_id = rows.uuid(0, 1),
                             .batch_pk = rows.int64(0, 2),
                             .to_address = rows.text(0, 3),
                             .attempts = static_cast<int>(rows.int64(0, 4)),
                             .created_at = rows.int64(0, 5)};
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
  static constexpr Statement kSent{
      "outbox_mark_sent",
      "UPDATE outbox_emails SET status = 1, claimed_until = NULL, sent_at = $2, last_error = NULL "
      "WHERE pk = $1 AND status = 0"};
  if (db_.query(kSent, Params().add(email_pk).add(now)).affected() > 0) {
    set_batch_delivery(email_pk, 1);
  }
}

void Transaction::mark_email_retry(Pk email_pk, std::int64_t next_attempt_ms,
                                   std::string_view error) {
  static constexpr Statement kRetry{
      "outbox_mark_retry",
      "UPDATE outbox_emails SET claimed_until = NULL, next_attempt_ms = $2, last_error = $3 "
      "WHERE pk = $1 AND status = 0"};
  db_.query(kRetry, Params().add(email_pk).add(next_attempt_ms).add(error));
}

void Transaction::mark_email_failed(Pk email_pk, std::string_view error, UnixSeconds now) {
  static constexpr Statement kFailed{
      "outbox_mark_failed",
      "UPDATE outbox_emails SET status = 2, claimed_until = NULL, last_error = $2, sent_at = $3 "
      "WHERE pk = $1 AND status = 0"};
  if (db_.query(kFailed, Params().add(email_pk).add(error).add(now)).affected() > 0) {
    set_batch_delivery(email_pk, 2);
  }
}

void Transaction::mark_email_cancelled(Pk email_pk, UnixSeconds now) {
  static constexpr Statement kCancel{
      "outbox_mark_cancelled",
      "UPDATE outbox_emails SET status = 3, claimed_until = NULL, sent_at = $2 "
      "WHERE pk = $1 AND status = 0"};
  db_.query(kCancel, Params().add(email_pk).add(now));
}

void Transaction::release_email_claim(Pk email_pk) {
  static constexpr Statement kRelease{
      "outbox_release_claim",
      "UPDATE outbox_emails SET attempts = attempts - 1, claimed_until = NULL "
      "WHERE pk = $1 AND status = 0 AND claimed_until IS NOT NULL"};
  db_.query(kRelease, Params().add(email_pk));
}

int Transaction::release_all_email_claims() {
  // Only queued emails can hold a claim: every other state clears it.
  static constexpr Statement kRelease{"outbox_release_all_claims",
                                      "UPDATE outbox_emails SET claimed_until = NULL "
                                      "WHERE status = 0 AND claimed_until IS NOT NULL"};
  return static_cast<int>(db_.query(kRelease).affected());
}

}  // namespace invited::store::postgres
