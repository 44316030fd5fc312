#include "domain/invitations.hpp"

#include <algorithm>

#include "domain/email.hpp"
#include "domain/secret.hpp"

namespace invited::domain {
namespace {

// Why a token opens nothing: a title for the page and the sentence of the Error.
struct Refusal {
  std::string_view title;
  std::string_view message;
};

constexpr Refusal kUnknown{"Invitation link not valid",
                           "This invitation link is not valid. Check that you copied the whole "
                           "link."};
constexpr Refusal kReplaced{"Invitation link replaced",
                            "This invitation link was replaced by a newer invitation email. Use "
                            "the link in the most recent email."};
constexpr Refusal kUsed{"Invitation already answered",
                        "This invitation has already been answered."};
constexpr Refusal kExpired{"Invitation expired",
                           "This invitation has expired. Ask the person who invited you to send "
                           "a new one."};
constexpr Refusal kRevoked{"Invitation revoked",
                           "This invitation was revoked and can no longer be accepted."};
constexpr Refusal kRefusals[] = {kUnknown, kReplaced, kUsed, kExpired, kRevoked};

Error refuse(ErrorCode code, const Refusal& refusal) {
  return {code, std::string(refusal.message)};
}

Error unknown_token() { return refuse(ErrorCode::kNotFound, kUnknown); }

// The batch the token opens, or why it does not open one.
Result<Batch> check_token(InvitationReadTx& tx, std::string_view token, Instant now) {
  if (token.empty() || token.size() > kMaxTokenLength) return unknown_token();
  SecretHash hash = hash_secret(token);
  auto batch = tx.find_batch_by_token(hash);
  if (!batch) {
    if (tx.is_retired_token(hash)) return refuse(ErrorCode::kGone, kReplaced);
    return unknown_token();
  }
  if (batch->used_at) return refuse(ErrorCode::kGone, kUsed);
  if (now.seconds() >= batch->expires_at) return refuse(ErrorCode::kGone, kExpired);
  if (batch->pending_invites == 0) return refuse(ErrorCode::kGone, kRevoked);
  return *batch;
}

}  // namespace

std::string_view refusal_title(const Error& error) {
  for (const Refusal& refusal : kRefusals) {
    if (refusal.message == error.message) return refusal.title;
  }
  return {};
}

Result<OpenInvitation> open_invitation(InvitationReadTx& tx, std::string_view token, Instant now) {
  auto batch = check_token(tx, token, now);
  if (!batch) return batch.error();
  return OpenInvitation{*batch, tx.load_invitation(batch->pk)};
}

namespace {

// The status event of each invite of `batch_pk` in `closed`, as the invite is now.
std::vector<NewEvent> closed_invite_events(InviteReadTx& tx, Pk org_pk, Pk batch_pk,
                                           const std::vector<Pk>& closed, const Actor& actor,
                                           UnixSeconds now, std::optional<Pk> user_pk) {
  std::vector<NewEvent> events;
  if (closed.empty()) return events;
  for (const InviteRecord& invite : tx.list_batch_invites(batch_pk)) {
    if (std::find(closed.begin(), closed.end(), invite.pk) == closed.end()) continue;
    events.push_back(
        invite_event(invite_closed_event(invite.status), org_pk, invite, actor, now,
                     invite.status == InviteStatus::kAccepted ? user_pk : std::nullopt));
  }
  return events;
}

}  // namespace

Result<AcceptedInvitation> accept_invitation(WriteTx& tx, std::string_view token, Instant now) {
  auto batch = check_token(tx, token, now);
  if (!batch) return batch.error();
  const UnixSeconds seconds = now.seconds();
  auto invites = tx.batch_invites(batch->pk);
  auto organization = tx.find_organization(batch->org_pk);
  if (!organization) return Error{ErrorCode::kInternal, "the batch's organization is missing"};

  // Every invite of a batch is for the same address; the first one names the person.
  const BatchInvite& first = invites.front();
  auto email = Email::parse(first.email);
  if (!email) return Error{ErrorCode::kInternal, "stored invite email is not valid"};
  AcceptedInvitation accepted;
  accepted.organization_name = organization->name;
  accepted.email = email->address();
  if (auto existing = tx.find_user(email->key())) {
    accepted.user = *existing;
    tx.set_email_verified(existing->pk);
  } else {
    accepted.user = tx.insert_user_if_absent(NewUser{.id = Uuid::v7(now.unix_ms),
                                                     .email_address = email->address(),
                                                     .email_key = email->key(),
                                                     .first_name = first.first_name,
                                                     .last_name = first.last_name,
                                                     .email_verified = true,
                                                     .created_at = seconds});
  }
  const bool organization_member =
      tx.has_membership({TargetKind::kOrganization, batch->org_pk}, accepted.user.pk);

  const Actor actor = Actor::invitee(email->address());
  std::vector<NewEvent> memberships;
  std::vector<Pk> closed;
  for (const BatchInvite& invite : invites) {
    AcceptResult& result = accepted.results.emplace_back(AcceptResult{
        .kind = invite.kind,
        .target_id = invite.target_id,
        .target_name = invite.target_name,
        .target_url = invite.target_url,
        .role = invite.role,
        .outcome = AcceptOutcome::kAdded,
    });
    if (invite.status != InviteStatus::kPending) {
      result.outcome = AcceptOutcome::kNotPending;
      continue;
    }
    if (!invite.target_live) {
      // Deleting a target revokes its pending invites; one found pending here anyway (written
      // before that rule) is revoked too, never reported or recorded as accepted.
      tx.close_invite(invite.pk, InviteStatus::kRevoked, seconds);
      closed.push_back(invite.pk);
      result.outcome = AcceptOutcome::kTargetGone;
      continue;
    }
    tx.close_invite(invite.pk, InviteStatus::kAccepted, seconds);
    closed.push_back(invite.pk);
    const Target target{invite.kind, invite.target_pk};
    if (organization_member ||
        !tx.add_membership_if_absent(target, accepted.user.pk, invite.role, seconds)) {
      result.outcome = AcceptOutcome::kAlreadyMember;
      continue;
    }
    memberships.push_back(membership_event(EventType::kMembershipCreated, batch->org_pk,
                                           MembershipFacts{.target = target,
                                                           .target_id = invite.target_id,
                                                           .user = accepted.user,
                                                           .email = email->address(),
                                                           .role = invite.role},
                                           actor, seconds));
  }
  tx.mark_batch_used(batch->pk, seconds);
  // The invites' events (as they are now), then the memberships they gave.
  std::vector<NewEvent> events =
      closed_invite_events(tx, batch->org_pk, batch->pk, closed, actor, seconds, accepted.user.pk);
  events.insert(events.end(), memberships.begin(), memberships.end());
  tx.record_events(events);
  return accepted;
}

Result<OpenInvitation> decline_invitation(WriteTx& tx, std::string_view token, Instant now) {
  auto batch = check_token(tx, token, now);
  if (!batch) return batch.error();
  OpenInvitation declined{*batch, tx.load_invitation(batch->pk)};
  std::vector<Pk> closed;
  std::string address;
  for (const BatchInvite& invite : tx.batch_invites(batch->pk)) {
    address = invite.email;
    if (invite.status == InviteStatus::kPending) {
      tx.close_invite(invite.pk, InviteStatus::kDeclined, now.seconds());
      closed.push_back(invite.pk);
    }
  }
  tx.mark_batch_used(batch->pk, now.seconds());
  tx.record_events(closed_invite_events(tx, batch->org_pk, batch->pk, closed,
                                        Actor::invitee(address), now.seconds(), std::nullopt));
  return declined;
}

}  // namespace invited::domain
