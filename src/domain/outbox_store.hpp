#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "domain/records.hpp"

namespace invited::domain {

// Storage of the outbox: invitation emails queued in the unit that created them (EmailQueueTx)
// and delivered by a worker that claims a few at a time (OutboxWriteTx; domain/outbox.hpp). Part
// of a unit of work (domain/store.hpp).

// The producers' side.
class EmailQueueTx {
 public:
  virtual ~EmailQueueTx() = default;

  // Queues an email; once the unit has committed, the Store tells whoever listens for mail.
  virtual void enqueue_email(const NewEmail& email) = 0;
};

// What is waiting in the outbox (for /metrics): emails still queued (due, held by a claim, or
// waiting for a retry), and since when the email that has waited longest for delivery has been
// due: an email is due from the moment it was queued, or, after a failed attempt, from the time
// its retry was scheduled for. An email waiting for a retry that is not due yet is queued but
// not waiting on anyone, so it does not count for the oldest; one held by a claim (being sent)
// still waits, so it does.
struct OutboxBacklog {
  std::int64_t queued = 0;
  std::optional<std::int64_t> oldest_due_ms;  // Unix ms; none when nothing queued is due
};

// The delivering worker's side.
class OutboxReadTx {
 public:
  virtual ~OutboxReadTx() = default;

  // Counts the queued emails and finds the earliest due time among those due at `now_ms` (Unix
  // milliseconds); the count reads every queued email's index entry, so for a scrape now and
  // then, not for every request.
  virtual OutboxBacklog outbox_backlog(std::int64_t now_ms) = 0;

  // When (Unix milliseconds) the next queued email that nobody has claimed is due, if any; sooner
  // after a claim_due_emails of this unit that was paused (see there).
  virtual std::optional<std::int64_t> next_email_due_ms() = 0;
};

class OutboxWriteTx : public virtual OutboxReadTx {
 public:
  // Claims up to `limit` (at least 1) of the queued emails that have been due longest and that
  // nobody holds (no claim, or one whose lease ended before `now_ms`), in that order: counts
  // each one's attempt and leases it until `lease_until_ms` (Unix milliseconds). Empty if none
  // is due. Safe with several workers: one email, one claimant (PostgreSQL: FOR UPDATE SKIP
  // LOCKED). A store served by several instances (PostgreSQL) claims in the name of this
  // instance, holds a claim while that instance lives and for lease_until_ms - now_ms on the
  // database's clock, renews the lease while the instance lives, and claims nothing while it
  // cannot prove this instance alive (then next_email_due_ms says when to ask again).
  virtual std::vector<OutboxEmail> claim_due_emails(std::int64_t now_ms,
                                                    std::int64_t lease_until_ms, int limit) = 0;
  // The same for one email.
  std::optional<OutboxEmail> claim_due_email(std::int64_t now_ms, std::int64_t lease_until_ms) {
    std::vector<OutboxEmail> claimed = claim_due_emails(now_ms, lease_until_ms, 1);
    if (claimed.empty()) return std::nullopt;
    return std::move(claimed.front());
  }
  // Outcomes of a claimed attempt; each ends the claim. Sent and failed also set the batch's
  // delivery state; a retry keeps the email queued until `next_attempt_ms`. An email no longer
  // queued (a resend cancelled it meanwhile) is left as it is.
  virtual void mark_email_sent(Pk email_pk, UnixSeconds now) = 0;
  virtual void mark_email_retry(Pk email_pk, std::int64_t next_attempt_ms,
                                std::string_view error) = 0;
  virtual void mark_email_failed(Pk email_pk, std::string_view error, UnixSeconds now) = 0;
  // The batch has nothing pending any more: the email is dropped unsent.
  virtual void mark_email_cancelled(Pk email_pk, UnixSeconds now) = 0;
  // Gives a claim back without counting its attempt (the send was aborted at shutdown).
  virtual void release_email_claim(Pk email_pk) = 0;
  // Ends every claim, keeping its attempt counted: for a store whose only worker is starting,
  // so any claim left was held by a process that is gone. Returns how many were ended.
  virtual int release_all_email_claims() = 0;
};

}  // namespace invited::domain
