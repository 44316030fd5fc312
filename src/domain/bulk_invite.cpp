#include "domain/bulk_invite.hpp"

#include <algorithm>
#include <string_view>

#include "domain/resources.hpp"
#include "domain/text.hpp"

namespace invited::domain {
namespace {

constexpr std::string_view kIdCountMessage = "must contain between 1 and 50 items";

// Parses an id list, reporting the count rule once and each bad or repeated item by index.
std::vector<Uuid> validate_id_list(std::string_view field, const std::vector<std::string>& ids,
                                   FieldErrors& errors) {
  if (ids.empty() || ids.size() > kMaxBulkTargets) {
    errors.add(std::string(field), std::string(kIdCountMessage));
    return {};
  }
  return parse_distinct_ids(field, ids, errors);
}

std::optional<std::string> validate_name(std::string_view field,
                                         const std::optional<std::string>& name,
                                         FieldErrors& errors) {
  if (!name) return std::nullopt;
  if (!is_valid_name(*name, kMaxNameLength)) {
    errors.add(std::string(field),
               "must be at most 100 characters with no control, bidirectional or line-separator "
               "characters");
  }
  return name;
}

// The row key of the target if the principal may invite to it.
std::optional<Pk> resolve_target(TenancyReadTx& tx, const Principal& principal, TargetKind kind,
                                 const Uuid& id) {
  if (kind == TargetKind::kOrganization) {
    return id == principal.org_id ? std::optional(principal.org_pk) : std::nullopt;
  }
  if (kind == TargetKind::kGroup) return tx.find_group_pk(principal.org_pk, id);
  auto website = tx.find_live_website_pk(principal.org_pk, id);
  if (!website || !principal.can_reach_website(*website)) return std::nullopt;
  return website;
}

}  // namespace

std::optional<Invitee> validate_invitee(const InviteeInput& input, FieldErrors& errors) {
  const std::size_t errors_before = errors.all().size();
  std::optional<InviteMethod> method;
  if (input.invite_method) {
    method = parse_invite_method(*input.invite_method);
    if (!method) errors.add("invite_method", R"(must be "direct" or "email")");
  } else if (!errors.has("invite_method")) {
    errors.add("invite_method", R"(is required: "direct" or "email")");
  }

  std::optional<Email> email;
  if (input.email) {
    email = Email::parse(*input.email);
    if (!email) {
      errors.add("email",
                 "must be an email address such as name@example.com: at most 254 characters, "
                 "no spaces or control characters");
    }
  } else if (!errors.has("email")) {
    errors.add("email", "is required");
  }

  Role role = Role::kViewer;
  if (input.role) {
    auto parsed = parse_role(*input.role);
    if (!parsed || *parsed == Role::kOwner) {
      errors.add("role", parsed
                             ? R"(must be "admin" or "viewer"; owner cannot be granted by invite)"
                             : R"(must be "admin" or "viewer")");
    } else {
      role = *parsed;
    }
  }

  auto first_name = validate_name("first_name", input.first_name, errors);
  auto last_name = validate_name("last_name", input.last_name, errors);
  if (errors.all().size() != errors_before || !method || !email) return std::nullopt;
  return Invitee{.method = *method,
                 .email = std::move(*email),
                 .role = role,
                 .first_name = std::move(first_name),
                 .last_name = std::move(last_name)};
}

std::optional<BulkInviteRequest> validate_bulk_invite(const BulkInviteInput& input,
                                                      FieldErrors& errors) {
  auto invitee = validate_invitee(
      {input.invite_method, input.email, input.role, input.first_name, input.last_name}, errors);

  TargetKind kind = TargetKind::kWebsite;
  std::vector<Uuid> target_ids;
  if (input.website_ids && input.group_ids) {
    errors.add("group_ids",
               "cannot be combined with website_ids: send exactly one of website_ids or "
               "group_ids");
  }
  if (input.website_ids) target_ids = validate_id_list("website_ids", *input.website_ids, errors);
  if (input.group_ids) {
    auto group_ids = validate_id_list("group_ids", *input.group_ids, errors);
    if (!input.website_ids) {
      kind = TargetKind::kGroup;
      target_ids = std::move(group_ids);
    }
  }
  if (!input.website_ids && !input.group_ids && !errors.has("website_ids") &&
      !errors.has("group_ids")) {
    errors.add("website_ids", "is required: send exactly one of website_ids or group_ids");
  }

  if (!errors.empty() || !invitee) return std::nullopt;
  return BulkInviteRequest{.method = invitee->method,
                           .email = std::move(invitee->email),
                           .role = invitee->role,
                           .kind = kind,
                           .target_ids = std::move(target_ids),
                           .first_name = std::move(invitee->first_name),
                           .last_name = std::move(invitee->last_name)};
}

Status check_bulk_invite_scope(const Principal& principal, const BulkInviteRequest& request) {
  if (request.kind != TargetKind::kWebsite && principal.scoped) {
    return Error{ErrorCode::kGlobalKeyRequired,
                 request.kind == TargetKind::kGroup
                     ? "group_ids needs a global API key; this key is scoped to websites"
                     : "inviting to the organization needs a global API key; this key is scoped "
                       "to websites"};
  }
  return {};
}

BulkInviteOutcome run_bulk_invite(InvitePlanTx tx, const Principal& principal,
                                  const BulkInviteRequest& request, const InvitePolicy& policy,
                                  Instant now) {
  const Email& email = request.email;
  const UnixSeconds seconds = now.seconds();
  BulkInviteOutcome outcome;
  outcome.results.reserve(request.target_ids.size());

  std::optional<UserRef> user = tx.users.find_user(email.key());
  const bool organization_member =
      user &&
      tx.memberships.has_membership({TargetKind::kOrganization, principal.org_pk}, user->pk);
  const bool may_have_pending = tx.invites.has_pending_invites(principal.org_pk, email.key());
  std::optional<Pk> batch_pk;
  const UnixSeconds expires_at = seconds + static_cast<UnixSeconds>(policy.expiry_days) * 86400;

  for (const Uuid& target_id : request.target_ids) {
    TargetResult& result = outcome.results.emplace_back(
        TargetResult{.target_id = target_id, .outcome = TargetOutcome::kNotFound, .id = {}});
    auto target_pk = resolve_target(tx.tenancy, principal, request.kind, target_id);
    if (!target_pk) continue;  // kNotFound
    const Target target{request.kind, *target_pk};
    if (organization_member) {
      result.outcome = TargetOutcome::kAlreadyMember;
      continue;
    }

    if (request.method == InviteMethod::kDirect) {
      if (!user) {
        user = tx.users.insert_user_if_absent(NewUser{.id = Uuid::v7(now.unix_ms),
                                                      .email_address = email.address(),
                                                      .email_key = email.key(),
                                                      .first_name = request.first_name,
                                                      .last_name = request.last_name,
                                                      .email_verified = false,
                                                      .created_at = seconds});
      }
      if (!tx.memberships.add_membership_if_absent(target, user->pk, request.role, seconds)) {
        result.outcome = TargetOutcome::kAlreadyMember;
        continue;
      }
      if (may_have_pending) {
        tx.invites.close_pending_invites(target, email.key(), InviteStatus::kAccepted, seconds);
      }
      result.outcome = TargetOutcome::kAdded;
      result.id = user->id;
      continue;
    }

    if (user && tx.memberships.has_membership(target, user->pk)) {
      result.outcome = TargetOutcome::kAlreadyMember;
      continue;
    }
    if (may_have_pending) {
      tx.invites.close_pending_invites(target, email.key(), InviteStatus::kRevoked, seconds);
    }
    if (!batch_pk) {
      // No token yet: the claim that sends the email mints it (domain/outbox.hpp).
      batch_pk = tx.invites.insert_batch(NewBatch{.id = Uuid::v7(now.unix_ms),
                                                  .org_pk = principal.org_pk,
                                                  .email_address = email.address(),
                                                  .first_name = request.first_name,
                                                  .last_name = request.last_name,
                                                  .created_at = seconds,
                                                  .expires_at = expires_at});
    }
    result.outcome = TargetOutcome::kInvited;
    result.id = Uuid::v7(now.unix_ms);
    tx.invites.insert_invite(NewInvite{.id = result.id,
                                       .org_pk = principal.org_pk,
                                       .batch_pk = *batch_pk,
                                       .email_key = email.key(),
                                       .target = target,
                                       .role = request.role,
                                       .created_at = seconds,
                                       .expires_at = expires_at});
  }

  if (batch_pk) {
    tx.outbox.enqueue_email(NewEmail{.message_id = Uuid::v7(now.unix_ms),
                                     .batch_pk = *batch_pk,
                                     .to_address = email.address(),
                                     .created_at = seconds});
  }
  return outcome;
}

}  // namespace invited::domain
