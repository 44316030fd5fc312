#include "domain/invites.hpp"

#include "domain/messages.hpp"

namespace invited::domain {
namespace {

Error invite_not_found() { return {ErrorCode::kNotFound, "Invite not found"}; }

std::optional<TargetKind> parse_target_kind(std::string_view text) {
  for (auto kind : {TargetKind::kOrganization, TargetKind::kWebsite, TargetKind::kGroup}) {
    if (target_kind_name(kind) == text) return kind;
  }
  return std::nullopt;
}

// The invite of the principal's organization with this id, if the principal may see it.
Result<InviteRecord> visible_invite(InviteReadTx& tx, const Principal& principal, const Uuid& id) {
  auto invite = tx.find_invite(principal.org_pk, id);
  if (!invite || !can_see_invite(principal, *invite)) return invite_not_found();
  return *invite;
}

}  // namespace

std::optional<BulkInviteRequest> validate_single_invite(const SingleInviteInput& input,
                                                        const Uuid& org_id, FieldErrors& errors) {
  auto invitee = validate_invitee(input.invitee, errors);
  std::optional<TargetKind> kind;
  if (input.type) {
    kind = parse_target_kind(*input.type);
    if (!kind) errors.add("type", R"(must be "organization", "website" or "group")");
  } else if (!errors.has("type")) {
    errors.add("type", R"(is required: "organization", "website" or "group")");
  }

  // Each id field is required for its own type and refused for the others.
  std::optional<Uuid> target_id;
  auto read_id = [&](std::string_view field, const std::optional<std::string>& value,
                     TargetKind owner) {
    if (!kind) return;
    if (*kind != owner) {
      if (value) {
        errors.add(std::string(field),
                   "is only allowed with type \"" + std::string(target_kind_name(owner)) + "\"");
      }
      return;
    }
    if (!value) {
      if (!errors.has(field)) errors.add(std::string(field), "is required for this type");
      return;
    }
    target_id = Uuid::parse(*value);
    if (!target_id) {
      errors.add(std::string(field), "must be a UUID such as 123e4567-e89b-12d3-a456-426614174000");
    }
  };
  read_id("website_id", input.website_id, TargetKind::kWebsite);
  read_id("group_id", input.group_id, TargetKind::kGroup);
  if (kind == TargetKind::kOrganization) target_id = org_id;

  if (!errors.empty() || !invitee || !kind || !target_id) return std::nullopt;
  return BulkInviteRequest{.method = invitee->method,
                           .email = std::move(invitee->email),
                           .role = invitee->role,
                           .kind = *kind,
                           .target_ids = {*target_id},
                           .first_name = std::move(invitee->first_name),
                           .last_name = std::move(invitee->last_name)};
}

Status single_invite_status(const BulkInviteRequest& request, const TargetResult& result) {
  switch (result.outcome) {
    case TargetOutcome::kNotFound:
      return not_found(request.kind);
    case TargetOutcome::kAlreadyMember:
      return Error{ErrorCode::kConflict, std::string(already_member(request.kind))};
    case TargetOutcome::kAdded:
    case TargetOutcome::kInvited:
      return {};
  }
  return {};
}

bool can_see_invite(const Principal& principal, const InviteRecord& invite) {
  if (!principal.scoped) return true;
  return invite.kind == TargetKind::kWebsite && principal.can_reach_website(invite.target_pk);
}

Result<InviteRecord> revoke_invite(WriteTx& tx, const Principal& principal, const Uuid& id,
                                   Instant now) {
  auto invite = visible_invite(tx, principal, id);
  if (!invite) return invite.error();
  InviteStatus status = invite->effective_status(now.seconds());
  if (status != InviteStatus::kPending) {
    return Error{ErrorCode::kConflict, "Only a pending invite can be revoked; this invite is " +
                                           std::string(invite_status_name(status))};
  }
  tx.close_invite(invite->pk, InviteStatus::kRevoked, now.seconds());
  invite->status = InviteStatus::kRevoked;
  tx.record_event(invite_event(EventType::kInvitationRevoked, principal.org_pk, *invite,
                               Actor::api_key(principal), now.seconds()));
  return invite;
}

Result<InviteRecord> resend_invite(WriteTx& tx, const Principal& principal, const Uuid& id,
                                   const InvitePolicy& policy, Instant now) {
  auto invite = visible_invite(tx, principal, id);
  if (!invite) return invite.error();
  if (invite->status != InviteStatus::kPending) {
    return Error{ErrorCode::kConflict,
                 "Only a pending or expired invite can be resent; this "
                 "invite is " +
                     std::string(invite_status_name(invite->status))};
  }
  const UnixSeconds expires_at =
      now.seconds() + static_cast<UnixSeconds>(policy.expiry_days) * 86400;
  // The old link stops working now; the new email's claim mints the next token.
  tx.retire_batch_tokens(invite->batch_pk, expires_at, now.seconds());
  tx.enqueue_email(NewEmail{.message_id = Uuid::v7(now.unix_ms),
                            .batch_pk = invite->batch_pk,
                            .to_address = invite->email,
                            .created_at = now.seconds()});
  // One invitation.resent per invite the resend renewed: the batch's pending ones.
  std::vector<NewEvent> events;
  std::optional<InviteRecord> refreshed;
  for (const InviteRecord& renewed : tx.list_batch_invites(invite->batch_pk)) {
    if (renewed.id == id) refreshed = renewed;
    if (renewed.status != InviteStatus::kPending) continue;
    events.push_back(invite_event(EventType::kInvitationResent, principal.org_pk, renewed,
                                  Actor::api_key(principal), now.seconds()));
  }
  tx.record_events(events);
  if (!refreshed) return invite_not_found();
  return *refreshed;
}

}  // namespace invited::domain
