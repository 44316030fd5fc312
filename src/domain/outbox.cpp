#include "domain/outbox.hpp"

#include <algorithm>
#include <cmath>

#include "domain/secret.hpp"

namespace invited::domain {

std::optional<ClaimedEmail> claim_next_email(WriteTx& tx, Instant now) {
  auto email = tx.claim_due_email(now.unix_ms, now.unix_ms + kEmailLeaseMs);
  if (!email) return std::nullopt;
  ClaimedEmail claimed{.email = std::move(*email), .invitation = {}, .token = {}};
  claimed.invitation = tx.load_invitation(claimed.email.batch_pk);
  if (claimed.invitation.targets.empty()) {
    // Every invite of the batch was revoked or answered before the email left: nothing to say.
    tx.mark_email_cancelled(claimed.email.pk, now.seconds());
    claimed.cancelled = true;
    return claimed;
  }
  IssuedSecret token = issue_secret("");
  tx.set_batch_token(claimed.email.batch_pk, token.hash);
  claimed.token = std::move(token.plain);
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
  if (!backlog.oldest_message_id) return 0;
  const std::int64_t queued_ms = backlog.oldest_message_id->v7_unix_ms();
  return static_cast<double>(std::max<std::int64_t>(0, now.unix_ms - queued_ms)) / 1000.0;
}

}  // namespace invited::domain
