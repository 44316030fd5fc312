#pragma once

#include <concepts>
#include <optional>
#include <string>
#include <vector>

#include "domain/clock.hpp"
#include "domain/email.hpp"
#include "domain/event_store.hpp"
#include "domain/field_errors.hpp"
#include "domain/invite_store.hpp"
#include "domain/membership_store.hpp"
#include "domain/outbox_store.hpp"
#include "domain/principal.hpp"
#include "domain/result.hpp"
#include "domain/tenancy_store.hpp"
#include "domain/types.hpp"
#include "domain/user_store.hpp"
#include "domain/uuid.hpp"

namespace invited::domain {

inline constexpr std::size_t kMaxBulkTargets = 50;
inline constexpr std::size_t kMaxNameLength = 100;

// The body of POST /api/v1/invites/bulk as the API layer read it, before the rules of SPEC §4.
// A field the API layer already rejected for its JSON type is absent here and named in the
// FieldErrors passed beside it, so it is not reported twice.
struct BulkInviteInput {
  std::optional<std::string> invite_method;
  std::optional<std::string> email;
  std::optional<std::string> role;
  std::optional<std::vector<std::string>> website_ids;
  std::optional<std::vector<std::string>> group_ids;
  std::optional<std::string> first_name;
  std::optional<std::string> last_name;
};

// The fields that say who is invited and how, shared by the bulk and the single invite.
struct InviteeInput {
  std::optional<std::string> invite_method;
  std::optional<std::string> email;
  std::optional<std::string> role;
  std::optional<std::string> first_name;
  std::optional<std::string> last_name;
};

struct Invitee {
  InviteMethod method = InviteMethod::kDirect;
  Email email;
  Role role = Role::kViewer;
  std::optional<std::string> first_name;
  std::optional<std::string> last_name;
};

// Checks invite_method (required), email (required), role (admin or viewer, default viewer),
// first_name and last_name, adding failures to `errors`. Returns the invitee when these fields
// are all valid.
std::optional<Invitee> validate_invitee(const InviteeInput& input, FieldErrors& errors);

// A request that passed every field rule.
struct BulkInviteRequest {
  InviteMethod method = InviteMethod::kDirect;
  Email email;
  Role role = Role::kViewer;
  TargetKind kind = TargetKind::kWebsite;  // kWebsite or kGroup (kOrganization: single invite)
  std::vector<Uuid> target_ids;            // 1..50, distinct, in request order
  std::optional<std::string> first_name;
  std::optional<std::string> last_name;
};

// Checks every field rule, adding each failure to `errors`. Returns the request only when
// `errors` is empty afterwards (including failures the caller had added before).
std::optional<BulkInviteRequest> validate_bulk_invite(const BulkInviteInput& input,
                                                      FieldErrors& errors);

// Scope rule checked after the fields: group and organization targets need a global key.
Status check_bulk_invite_scope(const Principal& principal, const BulkInviteRequest& request);

enum class TargetOutcome {
  kNotFound,       // absent, deleted, another organization's, or outside a scoped key
  kAlreadyMember,  // the user holds that membership or is an organization member
  kAdded,          // direct: membership created; `id` is the user
  kInvited,        // email: pending invite created; `id` is the invite
};

struct TargetResult {
  Uuid target_id;
  TargetOutcome outcome = TargetOutcome::kNotFound;
  Uuid id;  // user id (kAdded) or invite id (kInvited)
};

struct BulkInviteOutcome {
  std::vector<TargetResult> results;  // one per requested target, in request order
};

struct InvitePolicy {
  int expiry_days = 7;  // 1..30
};

// The topics of one write transaction that the invite plan uses: it looks targets up, finds or
// creates the user, adds memberships, replaces pending invites and queues the email. Made from
// any transaction that has them all (a domain::WriteTx, or a test's fake of just these).
struct InvitePlanTx {
  template <typename Tx>
  requires std::derived_from<Tx, TenancyReadTx> && std::derived_from<Tx, UserWriteTx> &&
      std::derived_from<Tx, MembershipWriteTx> && std::derived_from<Tx, InviteWriteTx> &&
      std::derived_from<Tx, EmailQueueTx> && std::derived_from<Tx, EventWriteTx>
      InvitePlanTx(Tx& tx)  // NOLINT(google-explicit-constructor): a view of `tx`
      : tenancy(tx), users(tx), memberships(tx), invites(tx), outbox(tx), events(tx) {}

  TenancyReadTx& tenancy;
  UserWriteTx& users;
  MembershipWriteTx& memberships;
  InviteWriteTx& invites;
  EmailQueueTx& outbox;
  EventWriteTx& events;
};

// Runs a validated, authorized request inside one write transaction: finds or creates the user
// (direct), adds memberships or creates pending invites (email) with one batch and one queued
// email (whose claim mints the token), and records the events of SPEC §9 (actor: the principal's
// key): membership.created per membership added, invitation.created per invite, and the status
// event of every pending invite the request closes. Writes nothing when no target succeeds. `tx`
// must be a fresh transaction; the caller commits it.
BulkInviteOutcome run_bulk_invite(InvitePlanTx tx, const Principal& principal,
                                  const BulkInviteRequest& request, const InvitePolicy& policy,
                                  Instant now);

}  // namespace invited::domain
