#pragma once

#include <optional>
#include <vector>

#include "domain/records.hpp"

namespace invited::domain {

// Storage of invitations as their recipient sees them: a batch of invites (one email-mode
// request) with one recipient, one expiry and one token at a time, minted by the claim of the
// batch's email (domain/outbox.hpp) and stored only as its hash. Part of a unit of work
// (domain/store.hpp).
class InvitationReadTx {
 public:
  virtual ~InvitationReadTx() = default;

  // The batch whose current or previous token hashes to `token_hash` (see set_batch_token).
  virtual std::optional<Batch> find_batch_by_token(const SecretHash& token_hash) = 0;
  // The batch whose token `token_hash` was before a resend retired it; nullopt if it was none.
  virtual std::optional<Pk> retired_token_batch(const SecretHash& token_hash) = 0;
  // Every invite of the batch, in the order of its request's targets. (All were inserted by the
  // one unit that made the batch, in that order; a store may keep that order by row key, which
  // one transaction draws in increasing order on any engine; across units row keys are no time
  // order.)
  virtual std::vector<BatchInvite> batch_invites(Pk batch_pk) = 0;
  // The batch as an email shows it: organization, recipient, expiry, pending invites (in the
  // order of batch_invites).
  virtual Invitation load_invitation(Pk batch_pk) = 0;
};

class InvitationWriteTx : public virtual InvitationReadTx {
 public:
  // Makes `token_hash` the batch's token, minted by a claim of its email. The token it replaces
  // stays valid as the previous one (the same message is sent again after a crash, and the
  // first copy's link must work); the one before that stops working.
  virtual void set_batch_token(Pk batch_pk, const SecretHash& token_hash) = 0;
  // For a resend: the batch's tokens are retired at once (their links answer "replaced"),
  // pending invites take the new expiry, and queued emails of the batch are cancelled. The batch
  // has no usable token until the claim of its next email mints one.
  virtual void retire_batch_tokens(Pk batch_pk, UnixSeconds expires_at, UnixSeconds now) = 0;
  // Marks the batch answered: its token works no more.
  virtual void mark_batch_used(Pk batch_pk, UnixSeconds now) = 0;
};

}  // namespace invited::domain
