#include "domain/outbox.hpp"

#include <algorithm>
#include <cmath>

#include "domain/secret.hpp"

namespace invited::domain {

std::vector<ClaimedEmail> claim_next_emails(WriteTx& tx, Instant now, int limit) {
  std::vector<OutboxEmail> emails =
      tx.claim_due_emails(now.unix_ms, now.unix_ms + kEmailLeaseMs, std::max(1, limit));
  std::vector<ClaimedEmail> claimed;
  claimed.reserve(emails.size());
  for (OutboxEmail& email : emails) {
    ClaimedEmail& one = claimed.emplace_back(
        ClaimedEmail{.email = std::move(email), .invitation = {}, .token = {}});
    one.invitation = tx.load_invitation(one.email.batch_pk);
    if (one.invitation.targets.empty()) {
      // Every invite of the batch was revoked or answered before the email left: nothing to say.
      tx.mark_email_cancelled(one.email.pk, now.seconds());
      one.cancelled = true;
      continue;
    }
    IssuedSecret token = issue_secret("");
    tx.set_batch_token(one.email.batch_pk, token.hash);
    one.token = std::move(token.plain);
  }
  return claimed;
}

DeliveryOutcome failed_send(const OutboxEmail& email, bool permanent, std::string error,
                            const RetryPolicy& policy, Instant now) {
  DeliveryOutcome outcome{.kind = DeliveryOutcome::Kind::kFailed,
                          .email_pk = email.pk,
                          .batch_pk = email.batch_pk,
                          .at = now,
                          .next_attempt_ms = 0,
                          .error = std::move(error)};
  if (permanent || email.attempts >= policy.max_attempts) return outcome;
  outcome.kind = DeliveryOutcome::Kind::kRetry;
  outcome.next_attempt_ms =
      now.unix_ms + static_cast<std::int64_t>(std::ceil(policy.retry_seconds * 1000.0 *
                                                        std::pow(2.0, email.attempts - 1)));
  return outcome;
}

namespace {

// One invitation.delivery_failed (actor system) per invite the email was for: the batch's
// pending invites, whose delivery is now failed.
void record_delivery_failed(WriteTx& tx, const DeliveryOutcome& outcome) {
  if (outcome.batch_pk == 0) return;
  std::vector<NewEvent> events;
  for (const InviteRecord& invite : tx.list_batch_invites(outcome.batch_pk)) {
    if (invite.status != InviteStatus::kPending) continue;
    events.push_back(invite_event(EventType::kInvitationDeliveryFailed, invite.org_pk, invite,
                                  Actor::system(), outcome.at.seconds()));
  }
  tx.record_events(events);
}

}  // namespace

void record_delivery(WriteTx& tx, const DeliveryOutcome& outcome) {
  switch (outcome.kind) {
    case DeliveryOutcome::Kind::kSent:
      tx.mark_email_sent(outcome.email_pk, outcome.at.seconds());
      break;
    case DeliveryOutcome::Kind::kRetry:
      tx.mark_email_retry(outcome.email_pk, outcome.next_attempt_ms, outcome.error);
      break;
    case DeliveryOutcome::Kind::kFailed:
      tx.mark_email_failed(outcome.email_pk, outcome.error, outcome.at.seconds());
      record_delivery_failed(tx, outcome);
      break;
    case DeliveryOutcome::Kind::kReleased:
      tx.release_email_claim(outcome.email_pk);
      break;
  }
}

double oldest_queued_age_seconds(const OutboxBacklog& backlog, Instant now) {
  if (!backlog.oldest_due_ms) return 0;
  return static_cast<double>(std::max<std::int64_t>(0, now.unix_ms - *backlog.oldest_due_ms)) /
         1000.0;
}

}  // namespace invited::domain
