#pragma once

#include <optional>
#include <string>

#include "domain/bulk_invite.hpp"
#include "domain/clock.hpp"
#include "domain/field_errors.hpp"
#include "domain/invite_store.hpp"
#include "domain/principal.hpp"
#include "domain/records.hpp"
#include "domain/result.hpp"
#include "domain/store.hpp"

namespace invited::domain {

// POST /api/v1/invites: one target, the same rules as one bulk target.
struct SingleInviteInput {
  std::optional<std::string> type;  // "organization", "website" or "group"
  std::optional<std::string> website_id;
  std::optional<std::string> group_id;
  InviteeInput invitee;
};

// Checks the fields; `type` decides which id is required (website_id for "website", group_id
// for "group", neither for "organization", whose target is the caller's organization
// `org_id`) and any other id is an error. The result is a one-target BulkInviteRequest.
std::optional<BulkInviteRequest> validate_single_invite(const SingleInviteInput& input,
                                                        const Uuid& org_id, FieldErrors& errors);

// Answers for a single invite's one result: kNotFound → 404, kAlreadyMember → 409 conflict.
Status single_invite_status(const BulkInviteRequest& request, const TargetResult& result);

// DELETE /api/v1/invites/{id}: revokes a pending invite (kConflict in any other state,
// kNotFound if the organization has no such invite). Returns the invite as it is now. Records
// invitation.revoked (actor: the principal's key).
Result<InviteRecord> revoke_invite(WriteTx& tx, const Principal& principal, const Uuid& id,
                                   Instant now);

// POST /api/v1/invites/{id}/resend: a new expiry for the still-pending invites of the invite's
// batch (an expired one is revived) and one new email, whose claim mints the new token; the old
// link answers "replaced" from this unit on. kConflict unless the invite is pending (or expired).
// Records invitation.resent for each pending invite of the batch.
Result<InviteRecord> resend_invite(WriteTx& tx, const Principal& principal, const Uuid& id,
                                   const InvitePolicy& policy, Instant now);

// Whether a scoped key may see this invite: only website invites within its allowlist.
bool can_see_invite(const Principal& principal, const InviteRecord& invite);

}  // namespace invited::domain
