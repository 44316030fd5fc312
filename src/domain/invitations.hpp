#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "domain/clock.hpp"
#include "domain/invitation_store.hpp"
#include "domain/records.hpp"
#include "domain/result.hpp"
#include "domain/store.hpp"

namespace invited::domain {

// Answering an invitation with its token (SPEC §5, the accept rows). The token is the
// credential: it is hashed and looked up; an unknown one is kNotFound, one that was used
// (accepted or declined), replaced by a resend, has expired, or has nothing pending any more is
// kGone, with a message that says which.

// The longest token accepted for lookup; anything longer cannot be one of ours.
inline constexpr std::size_t kMaxTokenLength = 128;

// What the accept page shows before the person decides.
struct OpenInvitation {
  Batch batch;
  Invitation invitation;  // organization, recipient, expiry, pending targets
};

Result<OpenInvitation> open_invitation(InvitationReadTx& tx, std::string_view token, Instant now);

// A short title for a token error of this file ("Invitation expired", ...), for pages; empty
// for any other error.
std::string_view refusal_title(const Error& error);

// The sentence of a token error of this file that names `organization` ("This invitation to
// join Acme has expired. ..."), for pages; error.message itself for an unknown token or any
// other error. The result is plain text: the page escapes it.
std::string refusal_message(const Error& error, std::string_view organization);

// The name of the organization whose invitation `token` is or was (a current, previous or
// retired token of a batch, used, expired or not), so a page refusing the token can name it;
// nullopt for a token that was never one of ours.
std::optional<std::string> refused_invitation_organization(InvitationReadTx& tx,
                                                           std::string_view token);

enum class AcceptOutcome {
  kAdded,          // membership created
  kAlreadyMember,  // the user already had it (or is an organization member)
  kTargetGone,     // the website or group was deleted after the invite
  kNotPending,     // this invite was revoked (or closed) before the batch was accepted
};

struct AcceptResult {
  TargetKind kind = TargetKind::kWebsite;
  Uuid target_id;
  std::string target_name;
  std::string target_url;
  Role role = Role::kViewer;
  AcceptOutcome outcome = AcceptOutcome::kAdded;
};

struct AcceptedInvitation {
  UserRef user;
  std::string email;
  std::string organization_name;
  std::vector<AcceptResult> results;  // one per invite of the batch, oldest first
};

// Accepts every still-pending invite of the token's batch: finds or creates the user (with
// email_verified = true, verifying an existing one), adds each membership unless present, marks
// those invites accepted and the batch used.
Result<AcceptedInvitation> accept_invitation(WriteTx& tx, std::string_view token, Instant now);

// Declines every pending invite of the batch and marks the batch used. Returns what was
// declined, for the page.
Result<OpenInvitation> decline_invitation(WriteTx& tx, std::string_view token, Instant now);

}  // namespace invited::domain
