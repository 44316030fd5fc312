#pragma once

#include <functional>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "domain/records.hpp"
#include "domain/result.hpp"

namespace invited::domain {

// The storage operations the domain needs, in its words. Implemented by src/store/ (SQLite,
// PostgreSQL); the domain never sees SQL. All methods run inside the transaction that the Store
// opened for one unit of work, and throw only on storage failure (the unit then rolls back and
// the caller answers 503 for a transient failure such as a locked database or a full disk,
// else 500). A ReadTx is only ever used from the thread that runs its unit.
class ReadTx {
 public:
  virtual ~ReadTx() = default;

  // The key with this hash, revoked or not; nullopt if none.
  virtual std::optional<ApiKey> find_api_key(const SecretHash& hash) = 0;
  virtual std::optional<Organization> find_organization(Pk org_pk) = 0;
  virtual std::optional<Organization> find_organization_by_id(const Uuid& id) = 0;

  // A website of `org_pk` that is not deleted.
  virtual std::optional<Website> find_website(Pk org_pk, const Uuid& id) = 0;
  // Lists (SPEC §5) take either form of ListRequest and keep one order in both. A cursor names
  // an item by its id; its position comes from the item's stored sort key, so a website, group,
  // invite or key deleted or revoked since it was seen still works as a cursor.

  // Live websites of `org_pk`, oldest first (created_at, then id); with `scoped_key_pk`, only
  // those in that key's allowlist (a cursor outside it is unknown).
  virtual Page<Website> list_websites(Pk org_pk, std::optional<Pk> scoped_key_pk,
                                      const ListRequest& request) = 0;

  virtual std::optional<Group> find_group(Pk org_pk, const Uuid& id) = 0;
  // Live groups, oldest first (created_at, then id).
  virtual Page<Group> list_groups(Pk org_pk, const ListRequest& request) = 0;

  // Everyone who reaches the website: directly, through a group holding it, or as an
  // organization member; one row per user with the strongest role (ties go to the most direct
  // access), ordered by the time they first gained access (any path; that is the row's
  // created_at), then user id. A cursor is a user id that still reaches the website.
  virtual Page<Member> list_website_members(Pk org_pk, Pk website_pk,
                                            const ListRequest& request) = 0;
  // Direct members of the group, by created_at, then user id.
  virtual Page<Member> list_group_members(Pk group_pk, const ListRequest& request) = 0;

  // When (Unix milliseconds) the next queued email that nobody has claimed is due, if any.
  virtual std::optional<std::int64_t> next_email_due_ms() = 0;
  // The batch as an email shows it: organization, recipient, expiry, pending invites.
  virtual Invitation load_invitation(Pk batch_pk) = 0;

  // The batch whose current or previous token hashes to `token_hash` (see set_batch_token).
  virtual std::optional<Batch> find_batch_by_token(const SecretHash& token_hash) = 0;
  // Whether `token_hash` was a token of a batch before a resend retired it.
  virtual bool is_retired_token(const SecretHash& token_hash) = 0;
  // Every invite of the batch, oldest first.
  virtual std::vector<BatchInvite> batch_invites(Pk batch_pk) = 0;

  // A website of `org_pk`, deleted or not.
  virtual std::optional<Website> find_website_including_deleted(Pk org_pk, const Uuid& id) = 0;
  virtual std::optional<UserRef> find_user_by_id(const Uuid& id) = 0;
  // The member row of `user_pk` on `target` (direct membership only).
  virtual std::optional<Member> find_member(Target target, Pk user_pk) = 0;
  // Organization members, by created_at, then user id.
  virtual Page<Member> list_organization_members(Pk org_pk, const ListRequest& request) = 0;
  // Every live website of `org_pk` the user reaches, with the strongest role (ties go to the
  // most direct access), in website order (created_at, then id). A cursor is any website of the
  // organization.
  virtual Page<UserWebsite> list_user_websites(Pk org_pk, Pk user_pk,
                                               const ListRequest& request) = 0;
  // Whether the user holds any membership in the organization (itself, a website or a group).
  virtual bool has_any_membership(Pk org_pk, Pk user_pk) = 0;

  virtual std::optional<InviteRecord> find_invite(Pk org_pk, const Uuid& id) = 0;
  // Newest first: by created_at, then by the id of the batch (the request) that created the
  // invite, then by the invite's id; all descending. A cursor is any invite of the organization
  // the key can see, whether it matches the filter or not.
  virtual Page<InviteRecord> list_invites(Pk org_pk, const InviteFilter& filter,
                                          const ListRequest& request) = 0;

  // The response kept for (`org_pk`, `key`) if it was saved at or after `not_before`.
  virtual std::optional<IdempotentResponse> find_idempotent_response(Pk org_pk,
                                                                     std::string_view key,
                                                                     UnixSeconds not_before) = 0;

  virtual std::optional<ApiKey> find_api_key_by_id(Pk org_pk, const Uuid& id) = 0;
  // Oldest first (created_at, then id); revoked keys included.
  virtual Page<ApiKey> list_api_keys(Pk org_pk, const ListRequest& request) = 0;
};

class WriteTx : public ReadTx {
 public:
  virtual Organization insert_organization(const Uuid& id, std::string_view name,
                                           UnixSeconds now) = 0;
  virtual ApiKey insert_api_key(const NewApiKey& key) = 0;

  virtual Website insert_website(Pk org_pk, const Uuid& id, std::string_view url,
                                 std::string_view name, UnixSeconds now) = 0;
  // Row key of a live (not deleted) website of `org_pk`.
  virtual std::optional<Pk> find_live_website_pk(Pk org_pk, const Uuid& id) = 0;
  virtual std::optional<Pk> find_group_pk(Pk org_pk, const Uuid& id) = 0;
  virtual Pk insert_group(Pk org_pk, const Uuid& id, std::string_view name,
                          const std::vector<Pk>& website_pks, UnixSeconds now) = 0;

  // The user whose email key is `email_key`.
  virtual std::optional<UserRef> find_user(std::string_view email_key) = 0;
  // Inserts the user unless one with the same email key exists; returns whichever is stored.
  virtual UserRef insert_user_if_absent(const NewUser& user) = 0;

  virtual bool has_membership(Target target, Pk user_pk) = 0;
  // Adds the membership unless the user already has one on `target`; true if it was added.
  // The store's uniqueness constraint decides, so concurrent callers see exactly one `true`.
  virtual bool add_membership_if_absent(Target target, Pk user_pk, Role role, UnixSeconds now) = 0;

  // Whether `email_key` has any pending invite in the organization (a cheap pre-check that
  // lets the common case skip close_pending_invites).
  virtual bool has_pending_invites(Pk org_pk, std::string_view email_key) = 0;
  // Closes the pending invite of `email_key` on `target`, if any, with `status`; one already
  // past its expiry is closed as kExpired instead.
  virtual void close_pending_invites(Target target, std::string_view email_key, InviteStatus status,
                                     UnixSeconds now) = 0;
  virtual Pk insert_batch(const NewBatch& batch) = 0;
  virtual void insert_invite(const NewInvite& invite) = 0;
  virtual void enqueue_email(const NewEmail& email) = 0;

  // Sets or clears the website's deleted_at.
  virtual void set_website_deleted(Pk website_pk, std::optional<UnixSeconds> deleted_at) = 0;
  virtual void rename_group(Pk group_pk, std::string_view name) = 0;
  virtual void add_group_websites(Pk group_pk, const std::vector<Pk>& website_pks) = 0;
  virtual void remove_group_websites(Pk group_pk, const std::vector<Pk>& website_pks) = 0;
  virtual void delete_group(Pk group_pk, UnixSeconds now) = 0;

  virtual std::optional<Role> membership_role(Target target, Pk user_pk) = 0;
  virtual void set_membership_role(Target target, Pk user_pk, Role role) = 0;
  // True if a membership was removed.
  virtual bool delete_membership(Target target, Pk user_pk) = 0;
  virtual int count_organization_owners(Pk org_pk) = 0;

  virtual void revoke_api_key(Pk key_pk, UnixSeconds now) = 0;

  // For a resend: the batch's tokens are retired at once (their links answer "replaced"),
  // pending invites take the new expiry, and queued emails of the batch are cancelled. The batch
  // has no usable token until the claim of its next email mints one.
  virtual void retire_batch_tokens(Pk batch_pk, UnixSeconds expires_at, UnixSeconds now) = 0;

  virtual void set_email_verified(Pk user_pk) = 0;

  // Keeps `response` for (`org_pk`, `key`) in this unit, so that it commits with the writes it
  // answers or not at all; one kept before `not_before` (expired) is replaced. Returns false and
  // keeps nothing when a response saved at or after `not_before` is kept already: another unit
  // claimed the key first. (A backend with concurrent writers makes this wait for a unit that
  // holds the key to finish; its unique (org, key) constraint decides, never a prior read.)
  virtual bool save_idempotent_response(Pk org_pk, std::string_view key,
                                        const IdempotentResponse& response,
                                        UnixSeconds not_before) = 0;
  // Revokes every pending invite to `target` (its website or group is being deleted).
  virtual void revoke_pending_invites(Target target, UnixSeconds now) = 0;
  // Deletes up to `limit` kept responses saved before `not_before`, oldest first; returns how
  // many it deleted.
  virtual int prune_idempotent_responses(UnixSeconds not_before, int limit) = 0;
  // Closes one invite (pending or not) with `status`.
  virtual void close_invite(Pk invite_pk, InviteStatus status, UnixSeconds now) = 0;
  // Marks the batch answered: its token works no more.
  virtual void mark_batch_used(Pk batch_pk, UnixSeconds now) = 0;

  // The outbox (domain/outbox.hpp). Claims the queued email that has been due longest and that
  // nobody holds (no claim, or one whose lease ended before `now_ms`): counts its attempt and
  // leases it until `lease_until_ms` (Unix milliseconds). nullopt if none is due. Safe with
  // several workers: one email, one claimant (PostgreSQL: FOR UPDATE SKIP LOCKED).
  virtual std::optional<OutboxEmail> claim_due_email(std::int64_t now_ms,
                                                     std::int64_t lease_until_ms) = 0;
  // Makes `token_hash` the batch's token, minted by a claim of its email. The token it replaces
  // stays valid as the previous one (the same message is sent again after a crash, and the
  // first copy's link must work); the one before that stops working.
  virtual void set_batch_token(Pk batch_pk, const SecretHash& token_hash) = 0;
  // Outcomes of a claimed attempt; each ends the claim. Sent and failed also set the batch's
  // delivery state; a retry keeps the email queued until `next_attempt_ms`. An email no longer
  // queued (a resend cancelled it meanwhile) is left as it is.
  virtual void mark_email_sent(Pk email_pk, UnixSeconds now) = 0;
  virtual void mark_email_retry(Pk email_pk, std::int64_t next_attempt_ms,
                                std::string_view error) = 0;
  virtual void mark_email_failed(Pk email_pk, std::string_view error, UnixSeconds now) = 0;
  // The batch has nothing pending any more: the email is dropped unsent.
  virtual void mark_email_cancelled(Pk email_pk, UnixSeconds now) = 0;
  // Gives a claim back without counting its attempt (the send was aborted at shutdown).
  virtual void release_email_claim(Pk email_pk) = 0;
  // Ends every claim, keeping its attempt counted: for a store whose only worker is starting,
  // so any claim left was held by a process that is gone. Returns how many were ended.
  virtual int release_all_email_claims() = 0;
};

// A unit of work returns ok to commit its writes, or an Error to roll back only its own writes.
using WriteWork = std::function<Status(WriteTx&)>;
using ReadWork = std::function<Status(ReadTx&)>;
// Called exactly once per unit with what the unit returned, or, if storage failed, kUnavailable
// (transient: locked elsewhere, disk full, read-only, I/O) or kInternal.
// For writes it runs only after the outcome is durable (committed or rolled back).
using Completion = std::function<void(Status)>;

// Runs units of work against the database. Thread-safe; never blocks the caller. A unit may be
// run more than once (a backend may retry after a serialization failure), so it must reset any
// result it captures when it starts. Completions run on the executor the Store was given.
class Store {
 public:
  virtual ~Store() = default;

  virtual void write(WriteWork work, Completion done) = 0;
  virtual void read(ReadWork work, Completion done) = 0;
  // A read on behalf of one organization (`tenant`, its row key), for reads whose cost can grow
  // with the tenant's data (lists). A backend with a bounded pool of connections queues these
  // fairly: tenants take turns, and one tenant never holds every connection, so a burst of
  // long reads from one organization cannot starve another. By default, the same as read().
  virtual void read_for(Pk tenant, ReadWork work, Completion done) {
    (void)tenant;
    read(std::move(work), std::move(done));
  }

  // The same, waiting for the outcome on the calling thread. For background workers and
  // commands only: never call these from the event loop.
  virtual Status write_and_wait(WriteWork work) = 0;
  virtual Status read_and_wait(ReadWork work) = 0;

  // Reports whether the database answers, its schema is at the version this binary expects,
  // and it can write now (the last write succeeded and none is stuck waiting for a lock).
  virtual void check_ready(Completion done) = 0;
};

}  // namespace invited::domain
