#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "domain/clock.hpp"
#include "domain/records.hpp"
#include "domain/store.hpp"

namespace invited::domain {

// Delivering the outbox, one email at a time per sender: claim, act, record (SPEC §7).
//
// A sender claims one due email in a unit of work (its attempt counted, a lease taken), sends it
// outside any transaction, and records the outcome in the next unit of work before it claims
// anything else. If that unit cannot commit, the sender sends nothing until it does. A crash
// can therefore repeat at most the emails in hand, one per sender, each with its Message-ID.
//
// The accept token is minted by the claim: the plain token lives only in the worker's memory
// and in the message; the database gets its SHA-256 in the same unit as the claim, replacing
// the batch's token (the replaced one stays valid as the previous token). Nothing but updates:
// a claim adds no rows.

// How long a claim keeps other workers away from its email. A store shared by several
// instances (PostgreSQL) also frees a claim at once when its instance dies, and renews the lease
// while the instance lives and the send lasts (the SMTP transport gives up after 60 s); the lease
// alone frees the email of an instance that hangs with its connection open. SQLite has one
// worker, which ends every claim left when it starts.
inline constexpr std::int64_t kEmailLeaseMs = 30 * 1000;

struct ClaimedEmail {
  OutboxEmail email;       // attempts includes this one
  Invitation invitation;   // what the message says, read in the claiming unit
  std::string token;       // minted for this message; empty when `cancelled`
  bool cancelled = false;  // nothing of the batch was pending: dropped unsent in the same unit
};

// Claims the email that has been due longest and mints its token; see above. An email whose
// batch has nothing pending any more is cancelled instead (and returned with `cancelled`, so the
// caller may log it). nullopt when nothing is due.
std::optional<ClaimedEmail> claim_next_email(WriteTx& tx, Instant now);

struct RetryPolicy {
  int max_attempts = 8;
  double retry_seconds = 30;  // delay after the first failed attempt; doubles after each failure
};

// What became of one claimed attempt, to be recorded.
struct DeliveryOutcome {
  enum class Kind {
    kSent,
    kRetry,     // failed; try again at next_attempt_ms
    kFailed,    // failed for good: refused permanently, or the last attempt
    kReleased,  // aborted before an answer (shutdown): the attempt does not count
  };
  Kind kind = Kind::kSent;
  Pk email_pk = 0;
  Pk batch_pk = 0;  // kFailed: the email's batch, whose invites get invitation.delivery_failed
  Instant at;
  std::int64_t next_attempt_ms = 0;  // kRetry
  std::string error;                 // kRetry, kFailed
};

// The outcome of a send of `email` that failed with `error`: kFailed when `permanent` or when
// this was attempt `policy.max_attempts`, else kRetry after retry_seconds * 2^(attempts - 1).
DeliveryOutcome failed_send(const OutboxEmail& email, bool permanent, std::string error,
                            const RetryPolicy& policy, Instant now);

// Writes `outcome` and ends the claim; a final failure also records invitation.delivery_failed
// (actor system) for each pending invite of the email's batch.
void record_delivery(WriteTx& tx, const DeliveryOutcome& outcome);

// How long (seconds, to the millisecond) the email queued first has waited at `now`: 0 when
// nothing is queued. The queue time is the one its UUIDv7 Message-ID carries.
double oldest_queued_age_seconds(const OutboxBacklog& backlog, Instant now);

}  // namespace invited::domain
