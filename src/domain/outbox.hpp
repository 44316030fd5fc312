#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "domain/clock.hpp"
#include "domain/records.hpp"
#include "domain/store.hpp"

namespace invited::domain {

// Delivering the outbox, a few emails at a time per sender: claim, act, record (SPEC §7).
//
// A sender claims up to kEmailsPerClaim due emails in one unit of work (each attempt counted, a
// lease taken, a token minted), sends them one after another outside any transaction over its
// transport (one SMTP connection, kept open), and records all their outcomes in the next unit of
// work, which also claims the next few; it claims nothing else before those outcomes are
// recorded. If that unit cannot commit, the sender sends nothing until it does. A crash can
// therefore repeat at most the emails in hand: per sender, the ones of its claim already sent
// and not yet recorded, at most kEmailsPerClaim, each with its Message-ID. The claim is durable
// before anything is sent, because it mints the token the message's link carries.
//
// Why a few and not one: a unit of work costs a commit, which waits for the disk (PostgreSQL's
// WAL flush; SQLite's writer, which also serves every request) and, on PostgreSQL, for a
// connection of the pool the requests use too. With one email per unit, a sender's throughput
// is one email per commit latency; with up to kEmailsPerClaim, that many per commit, while an
// idle queue still costs one unit per email (a claim takes what is due, up to the bound, never
// waits to fill it). Why not more: the bound is also the number of emails a crash may send
// twice per sender, and a claim holds its emails from the other senders until it has sent the
// last of them (so the worker claims one at a time while another sender sleeps, and a few only
// once every sender is busy: mail/outbox_worker.hpp). The figures behind the choice are in
// bench/README.md ("Mail delivery").
//
// The accept token is minted by the claim: the plain token lives only in the worker's memory
// and in the message; the database gets its SHA-256 in the same unit as the claim, replacing
// the batch's token (the replaced one stays valid as the previous token). Nothing but updates:
// a claim adds no rows.

// The most emails one sender claims in one unit of work (see above).
inline constexpr int kEmailsPerClaim = 4;

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

// Claims up to `limit` of the emails that have been due longest, in that order, and mints a
// token for each; see above. An email whose batch has nothing pending any more is cancelled
// instead (and returned with `cancelled`, so the caller may log it). Empty when nothing is due.
std::vector<ClaimedEmail> claim_next_emails(WriteTx& tx, Instant now, int limit);

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

// How long (seconds, to the millisecond) the email that has waited longest for delivery has
// been due at `now` (OutboxBacklog: since it was queued, or since its retry fell due; an email
// waiting for a retry that is not due yet does not count): 0 when nothing queued is due.
double oldest_queued_age_seconds(const OutboxBacklog& backlog, Instant now);

}  // namespace invited::domain
