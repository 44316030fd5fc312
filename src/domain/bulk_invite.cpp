#include "domain/bulk_invite.hpp"

#include <algorithm>
#include <optional>
#include <string_view>
#include <vector>

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

// Every target of the request at once: the row key of each the principal may invite to, empty
// for the others, in request order.
std::vector<std::optional<Pk>> resolve_targets(TenancyReadTx& tx, const Principal& principal,
                                               const BulkInviteRequest& request) {
  if (request.kind == TargetKind::kOrganization) {
    std::vector<std::optional<Pk>> pks;
    pks.reserve(request.target_ids.size());
    for (const Uuid& id : request.target_ids) {
      pks.push_back(id == principal.org_id ? std::optional(principal.org_pk) : std::nullopt);
    }
    return pks;
  }
  auto pks = tx.find_live_target_pks(principal.org_pk, request.kind, request.target_ids);
  if (request.kind == TargetKind::kWebsite) {
    for (auto& pk : pks) {
      if (pk && !principal.can_reach_website(*pk)) pk.reset();
    }
  }
  return pks;
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
  // Set-based: every step asks the store about all targets of the request at once (a handful
  // of store calls per request whatever its size; on PostgreSQL each is one round trip).
  const Email& email = request.email;
  const UnixSeconds seconds = now.seconds();
  const Actor actor = Actor::api_key(principal);
  BulkInviteOutcome outcome;
  outcome.results.reserve(request.target_ids.size());
  for (const Uuid& target_id : request.target_ids) {
    outcome.results.push_back(
        TargetResult{.target_id = target_id, .outcome = TargetOutcome::kNotFound, .id = {}});
  }

  // The targets found, as positions in the request and row keys (distinct: the ids are).
  // First, so that a request none of whose targets exists reads and writes nothing more.
  std::vector<std::size_t> found;
  std::vector<Pk> found_pks;
  {
    auto pks = resolve_targets(tx.tenancy, principal, request);
    for (std::size_t i = 0; i < pks.size(); ++i) {
      if (!pks[i]) continue;  // kNotFound
      found.push_back(i);
      found_pks.push_back(*pks[i]);
    }
  }
  if (found.empty()) return outcome;

  // Direct mode finds or creates the user in one step (an upsert) rather than reading first:
  // a read of the address's place in the users' index before inserting there is what makes two
  // concurrent units conflict on a serializable backend (domain/store.hpp). A user created just
  // now (its id is the one proposed) cannot be a member of anything yet.
  std::optional<UserRef> user;
  bool created = false;
  if (request.method == InviteMethod::kDirect) {
    const Uuid proposed = Uuid::v7(now.unix_ms);
    user = tx.users.insert_user_if_absent(NewUser{.id = proposed,
                                                  .email_address = email.address(),
                                                  .email_key = email.key(),
                                                  .first_name = request.first_name,
                                                  .last_name = request.last_name,
                                                  .email_verified = false,
                                                  .created_at = seconds});
    created = user->id == proposed;
  } else {
    user = tx.users.find_user(email.key());
  }
  const bool organization_member =
      user && !created &&
      tx.memberships.has_membership({TargetKind::kOrganization, principal.org_pk}, user->pk);
  if (organization_member) {
    for (std::size_t i : found) outcome.results[i].outcome = TargetOutcome::kAlreadyMember;
    return outcome;
  }
  const bool may_have_pending = tx.invites.has_pending_invites(principal.org_pk, email.key());

  if (request.method == InviteMethod::kDirect) {
    const std::vector<bool> added = tx.memberships.add_memberships_if_absent(
        request.kind, found_pks, *user, request.role, seconds);
    std::vector<Pk> added_pks;
    for (std::size_t j = 0; j < found.size(); ++j) {
      TargetResult& result = outcome.results[found[j]];
      if (!added[j]) {
        result.outcome = TargetOutcome::kAlreadyMember;
        continue;
      }
      result.outcome = TargetOutcome::kAdded;
      result.id = user->id;
      added_pks.push_back(found_pks[j]);
    }
    std::vector<NewEvent> events;
    if (may_have_pending && !added_pks.empty()) {
      for (const InviteRecord& closed : tx.invites.close_pending_invites_to(
               request.kind, added_pks, email.key(), InviteStatus::kAccepted, seconds)) {
        events.push_back(invite_event(invite_closed_event(closed.status), principal.org_pk, closed,
                                      actor, seconds, user->pk));
      }
    }
    for (std::size_t j = 0; j < found.size(); ++j) {
      const TargetResult& result = outcome.results[found[j]];
      if (result.outcome != TargetOutcome::kAdded) continue;
      events.push_back(membership_event(EventType::kMembershipCreated, principal.org_pk,
                                        MembershipFacts{.target = {request.kind, found_pks[j]},
                                                        .target_id = result.target_id,
                                                        .user = *user,
                                                        .email = email.address(),
                                                        .role = request.role},
                                        actor, seconds));
    }
    if (!events.empty()) tx.events.record_events(events);
    return outcome;
  }

  // Email: a pending invite for every found target the user does not hold yet.
  std::vector<std::size_t> invited;
  std::vector<Pk> invited_pks;
  {
    const std::vector<bool> member =
        user ? tx.memberships.find_memberships(request.kind, found_pks, user->pk)
             : std::vector<bool>(found.size(), false);
    for (std::size_t j = 0; j < found.size(); ++j) {
      if (member[j]) {
        outcome.results[found[j]].outcome = TargetOutcome::kAlreadyMember;
        continue;
      }
      invited.push_back(found[j]);
      invited_pks.push_back(found_pks[j]);
    }
  }
  if (invited.empty()) return outcome;
  std::vector<NewEvent> events;
  events.reserve(invited.size());
  if (may_have_pending) {
    for (const InviteRecord& closed : tx.invites.close_pending_invites_to(
             request.kind, invited_pks, email.key(), InviteStatus::kRevoked, seconds)) {
      events.push_back(invite_event(invite_closed_event(closed.status), principal.org_pk, closed,
                                    actor, seconds));
    }
  }
  const UnixSeconds expires_at = seconds + static_cast<UnixSeconds>(policy.expiry_days) * 86400;
  // No token yet: the claim that sends the email mints it (domain/outbox.hpp).
  const Pk batch_pk = tx.invites.insert_batch(NewBatch{.id = Uuid::v7(now.unix_ms),
                                                       .org_pk = principal.org_pk,
                                                       .email_address = email.address(),
                                                       .first_name = request.first_name,
                                                       .last_name = request.last_name,
                                                       .created_at = seconds,
                                                       .expires_at = expires_at});
  std::vector<NewInvite> invites;
  invites.reserve(invited.size());
  for (std::size_t j = 0; j < invited.size(); ++j) {
    TargetResult& result = outcome.results[invited[j]];
    result.outcome = TargetOutcome::kInvited;
    result.id = Uuid::v7(now.unix_ms);
    invites.push_back(NewInvite{.id = result.id,
                                .org_pk = principal.org_pk,
                                .batch_pk = batch_pk,
                                .email_key = email.key(),
                                .target = {request.kind, invited_pks[j]},
                                .role = request.role,
                                .created_at = seconds,
                                .expires_at = expires_at});
  }
  tx.invites.insert_invites(invites);
  for (std::size_t j = 0; j < invited.size(); ++j) {
    const NewInvite& invite = invites[j];
    events.push_back(invite_event(EventType::kInvitationCreated, principal.org_pk,
                                  InviteRecord{.id = invite.id,
                                               .batch_pk = batch_pk,
                                               .email = email.address(),
                                               .kind = request.kind,
                                               .target_pk = invite.target.pk,
                                               .target_id = request.target_ids[invited[j]],
                                               .role = request.role,
                                               .status = InviteStatus::kPending,
                                               .delivery = Delivery::kQueued,
                                               .created_at = seconds,
                                               .expires_at = expires_at},
                                  actor, seconds));
  }
  tx.events.record_events(events);
  tx.outbox.enqueue_email(NewEmail{.message_id = Uuid::v7(now.unix_ms),
                                   .batch_pk = batch_pk,
                                   .to_address = email.address(),
                                   .created_at = seconds});
  return outcome;
}

}  // namespace invited::domain
