// The outbox topic (domain/outbox_store.hpp).
#include <algorithm>
#include <utility>
#include <vector>

#include "store/sqlite/transaction.hpp"

namespace invited::store::sqlite {

using domain::Pk;
using domain::UnixSeconds;

std::optional<std::int64_t> Transaction::next_email_due_ms() {
  // An email someone holds is due again when its lease ends.
  static constexpr const char* kNext =
      "SELECT MIN(max(next_attempt_ms, coalesce(claimed_until, 0))) "
      "FROM outbox_emails WHERE status = 0";
  auto row = db_.query(kNext);
  if (!row.step() || row.is_null(0)) return std::nullopt;
  return row.int64(0);
}

domain::OutboxBacklog Transaction::outbox_backlog(std::int64_t now_ms) {
  // Both read the partial index of queued emails (outbox_emails_due), the second only its first
  // entry: emails are due from next_attempt_ms, the time they were queued or their retry's.
  static constexpr const char* kCount =
      "SELECT count(*) FROM outbox_emails INDEXED BY outbox_emails_due WHERE status = 0";
  static constexpr const char* kOldestDue =
      "SELECT min(next_attempt_ms) FROM outbox_emails INDEXED BY outbox_emails_due "
      "WHERE status = 0 AND next_attempt_ms <= ?1";
  domain::OutboxBacklog backlog;
  auto count = db_.query(kCount);
  if (count.step()) backlog.queued = count.int64(0);
  auto oldest = db_.query(kOldestDue);
  oldest.bind(1, now_ms);
  if (oldest.step() && !oldest.is_null(0)) backlog.oldest_due_ms = oldest.int64(0);
  return backlog;
}

void Transaction::enqueue_email(const domain::NewEmail& email) {
  static constexpr const char* kInsert =
      "INSERT INTO outbox_emails(message_id, batch_pk, to_address, next_attempt_ms, created_at) "
      "VALUES (?1, ?2, ?3, ?4, ?5)";
  auto row = db_.query(kInsert);
  row.bind(1, email.message_id)
      .bind(2, email.batch_pk)
      .bind(3, email.to_address)
      .bind(4, email.queued_ms)
      .bind(5, email.created_at)
      .execute();
  email_enqueued_ = true;
}

std::vector<domain::OutboxEmail> Transaction::claim_due_emails(std::int64_t now_ms,
                                                               std::int64_t lease_until_ms,
                                                               int limit) {
  // One statement picks and claims, so no other claimant can come between; the writer runs units
  // one at a time anyway. (PostgreSQL: the inner SELECT takes FOR UPDATE SKIP LOCKED.) Due
  // longest first; among emails due at the same millisecond, the one queued first (message ids
  // are UUIDv7, ordered by the time they were made), never the row key. RETURNING gives the rows
  // in no promised order: they are put back in due order here.
  static constexpr const char* kClaim =
      "UPDATE outbox_emails SET attempts = attempts + 1, claimed_until = ?2 "
      "WHERE pk IN (SELECT pk FROM outbox_emails INDEXED BY outbox_emails_due "
      "  WHERE status = 0 AND next_attempt_ms <= ?1 "
      "    AND (claimed_until IS NULL OR claimed_until <= ?1) "
      "  ORDER BY next_attempt_ms, message_id LIMIT ?3) "
      "RETURNING pk, message_id, batch_pk, to_address, attempts, created_at, next_attempt_ms";
  auto row = db_.query(kClaim);
  row.bind(1, now_ms).bind(2, lease_until_ms).bind(3, std::max(1, limit));
  std::vector<std::pair<std::int64_t, domain::OutboxEmail>> claimed;
  while (row.step()) {
    claimed.emplace_back(row.int64(6),
                         domain::OutboxEmail{.pk = row.int64(0),
                                             .message_id = row.uuid(1),
                                             .batch_pk = row.int64(2),
                                             .to_address = row.text(3),
                                             .attempts = static_cast<int>(row.int64(4)),
                                             .created_at = row.int64(5)});
  }
  std::sort(claimed.begin(), claimed.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first < b.first : a.second.message_id < b.second.message_id;
  });
  std::vector<domain::OutboxEmail> emails;
  emails.reserve(claimed.size());
  for (auto& [due, email] : claimed) emails.push_back(std::move(email));
  return emails;
}

void Transaction::set_batch_delivery(Pk email_pk, int delivery) {
  static constexpr const char* kBatch =
      "UPDATE invite_batches SET delivery = ?2 "
      "WHERE pk = (SELECT batch_pk FROM outbox_emails WHERE pk = ?1)";
  db_.query(kBatch).bind(1, email_pk).bind(2, delivery).execute();
}

// Every outcome applies only to an email still queued: a resend may have cancelled it (and reset
// the batch's delivery state for its new email) while it was being sent.
void Transaction::mark_email_sent(Pk email_pk, UnixSeconds now) {
  static constexpr const char* kSent =
      "UPDATE outbox_emails SET status = 1, claimed_until = NULL, sent_at = ?2, last_error = NULL "
      "WHERE pk = ?1 AND status = 0";
  if (db_.query(kSent).bind(1, email_pk).bind(2, now).execute() > 0) {
    set_batch_delivery(email_pk, 1);
  }
}

void Transaction::mark_email_retry(Pk email_pk, std::int64_t next_attempt_ms,
                                   std::string_view error) {
  static constexpr const char* kRetry =
      "UPDATE outbox_emails SET claimed_until = NULL, next_attempt_ms = ?2, last_error = ?3 "
      "WHERE pk = ?1 AND status = 0";
  db_.query(kRetry).bind(1, email_pk).bind(2, next_attempt_ms).bind(3, error).execute();
}

void Transaction::mark_email_failed(Pk email_pk, std::string_view error, UnixSeconds now) {
  static constexpr const char* kFailed =
      "UPDATE outbox_emails SET status = 2, claimed_until = NULL, last_error = ?2, sent_at = ?3 "
      "WHERE pk = ?1 AND status = 0";
  if (db_.query(kFailed).bind(1, email_pk).bind(2, error).bind(3, now).execute() > 0) {
    set_batch_delivery(email_pk, 2);
  }
}

void Transaction::mark_email_cancelled(Pk email_pk, UnixSeconds now) {
  static constexpr const char* kCancel =
      "UPDATE outbox_emails SET status = 3, claimed_until = NULL, sent_at = ?2 "
      "WHERE pk = ?1 AND status = 0";
  db_.query(kCancel).bind(1, email_pk).bind(2, now).execute();
}

void Transaction::release_email_claim(Pk email_pk) {
  static constexpr const char* kRelease =
      "UPDATE outbox_emails SET attempts = attempts - 1, claimed_until = NULL "
      "WHERE pk = ?1 AND status = 0 AND claimed_until IS NOT NULL";
  db_.query(kRelease).bind(1, email_pk).execute();
}

int Transaction::release_all_email_claims() {
  // Only queued emails can hold a claim: every other state clears it.
  static constexpr const char* kRelease =
      "UPDATE outbox_emails INDEXED BY outbox_emails_due SET claimed_until = NULL "
      "WHERE status = 0 AND claimed_until IS NOT NULL";
  return db_.query(kRelease).execute();
}

}  // namespace invited::store::sqlite
