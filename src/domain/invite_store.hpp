#pragma once

#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "domain/records.hpp"

namespace invited::domain {

// Storage of invites: one invitation of an email address to one target with a role, pending
// until it is accepted, declined, revoked or replaced, or it expires. At most one invite of an
// address to a target is pending at a time. An email-mode request's invites share one batch
// (invitation_store.hpp). Part of a unit of work (domain/store.hpp).
class InviteReadTx {
 public:
  virtual ~InviteReadTx() = default;

  virtual std::optional<InviteRecord> find_invite(Pk org_pk, const Uuid& id) = 0;
  // Newest first: by created_at, then by the id of the batch (the request) that created the
  // invite, then by the invite's id; all descending. A cursor is any invite of the organization
  // the key can see, whether it matches the filter or not.
  virtual Page<InviteRecord> list_invites(Pk org_pk, const InviteFilter& filter,
                                          const ListRequest& request) = 0;
  // Whether `email_key` has any pending invite in the organization (a cheap pre-check that
  // lets the common case skip close_pending_invites).
  virtual bool has_pending_invites(Pk org_pk, std::string_view email_key) = 0;
  // Every invite of a batch, whatever its status, in the batch's order (for the events of a
  // change to the whole batch: accept, decline, resend, a failed delivery).
  virtual std::vector<InviteRecord> list_batch_invites(Pk batch_pk) = 0;
};

class InviteWriteTx : public virtual InviteReadTx {
 public:
  // Closes the pending invite of `email_key` on `target`, if any, with `status`; one already
  // past its expiry is closed as kExpired instead.
  virtual void close_pending_invites(Target target, std::string_view email_key, InviteStatus status,
                                     UnixSeconds now) = 0;
  // A batch for the invites of one email-mode request, without a usable token yet.
  virtual Pk insert_batch(const NewBatch& batch) = 0;
  virtual void insert_invite(const NewInvite& invite) = 0;
  // The set-based twins, for all targets of one request at once: close_pending_invites on each
  // of `target_pks` (targets of kind `kind`), and insert_invite of each invite, in order (their
  // row keys follow that order).
  // Returns the invites it closed, as they are afterwards.
  virtual std::vector<InviteRecord> close_pending_invites_to(TargetKind kind,
                                                             std::span<const Pk> target_pks,
                                                             std::string_view email_key,
                                                             InviteStatus status,
                                                             UnixSeconds now) = 0;
  virtual void insert_invites(std::span<const NewInvite> invites) = 0;
  // Closes one invite (pending or not) with `status`.
  virtual void close_invite(Pk invite_pk, InviteStatus status, UnixSeconds now) = 0;
  // Revokes every pending invite to `target` (its website or group is being deleted). Returns
  // the invites it closed, as they are afterwards.
  virtual std::vector<InviteRecord> revoke_pending_invites(Target target, UnixSeconds now) = 0;
  // Up to `limit` pending invites whose expiry is at or before `now` and not yet recorded, oldest
  // expiry first; marks each recorded (the caller records its invitation.expired event in the
  // same unit). A resend that revives an invite clears the mark.
  virtual std::vector<InviteRecord> take_expired_invites(UnixSeconds now, int limit) = 0;
};

}  // namespace invited::domain
