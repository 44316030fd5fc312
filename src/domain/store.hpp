#pragma once

#include <functional>
#include <optional>
#include <string_view>
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
  // Live websites of `org_pk`, oldest first; with `scoped_key_pk`, only those in that key's
  // allowlist.
  virtual Page<Website> list_websites(Pk org_pk, std::optional<Pk> scoped_key_pk,
                                      PageRequest page) = 0;

  virtual std::optional<Group> find_group(Pk org_pk, const Uuid& id) = 0;
  virtual Page<Group> list_groups(Pk org_pk, PageRequest page) = 0;

  // Everyone who reaches the website: directly, through a group holding it, or as an
  // organization member; one row per user with the strongest role (ties go to the most direct
  // access), ordered by the time they first gained that access.
  virtual Page<Member> list_website_members(Pk org_pk, Pk website_pk, PageRequest page) = 0;
  // Direct members of the group.
  virtual Page<Member> list_group_members(Pk group_pk, PageRequest page) = 0;

  // Queued emails whose next attempt is due at `now_ms` (Unix milliseconds), oldest first.
  virtual std::vector<OutboxEmail> due_emails(std::int64_t now_ms, int limit) = 0;
  // When (Unix milliseconds) the next queued email is due, if any is queued.
  virtual std::optional<std::int64_t> next_email_due_ms() = 0;
  // The batch as an email shows it: organization, recipient, expiry, pending invites.
  virtual Invitation load_invitation(Pk batch_pk) = 0;

  // The batch whose current token hashes to `token_hash`.
  virtual std::optional<Batch> find_batch_by_token(const SecretHash& token_hash) = 0;
  // Whether `token_hash` was the token of a batch before a resend replaced it.
  virtual bool is_retired_token(const SecretHash& token_hash) = 0;
  // Every invite of the batch, oldest first.
  virtual std::vector<BatchInvite> batch_invites(Pk batch_pk) = 0;

  // A website of `org_pk`, deleted or not.
  virtual std::optional<Website> find_website_including_deleted(Pk org_pk, const Uuid& id) = 0;
  virtual std::optional<UserRef> find_user_by_id(const Uuid& id) = 0;
  // The member row of `user_pk` on `target` (direct membership only).
  virtual std::optional<Member> find_member(Target target, Pk user_pk) = 0;
  virtual Page<Member> list_organization_members(Pk org_pk, PageRequest page) = 0;
  // Every live website of `org_pk` the user reaches, with the strongest role (ties go to the
  // most direct access), ordered by website.
  virtual Page<UserWebsite> list_user_websites(Pk org_pk, Pk user_pk, PageRequest page) = 0;
  // Whether the user holds any membership in the organization (itself, a website or a group).
  virtual bool has_any_membership(Pk org_pk, Pk user_pk) = 0;

  virtual std::optional<InviteRecord> find_invite(Pk org_pk, const Uuid& id) = 0;
  // Newest first.
  virtual Page<InviteRecord> list_invites(Pk org_pk, const InviteFilter& filter,
                                          PageRequest page) = 0;

  // The response kept for (`org_pk`, `key`) if it was saved at or after `not_before`.
  virtual std::optional<IdempotentResponse> find_idempotent_response(Pk org_pk,
                                                                     std::string_view key,
                                                                     UnixSeconds not_before) = 0;

  virtual std::optional<ApiKey> find_api_key_by_id(Pk org_pk, const Uuid& id) = 0;
  // Oldest first; revoked keys included.
  virtual Page<ApiKey> list_api_keys(Pk org_pk, PageRequest page) = 0;
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

  // Gives the batch a new token and expiry: the old token is kept as retired (so its link
  // answers "replaced"), pending invites take the new expiry, and queued emails of the batch
  // are cancelled.
  virtual void replace_batch_token(Pk batch_pk, const SecretHash& new_hash, UnixSeconds expires_at,
                                   UnixSeconds now) = 0;

  virtual void set_email_verified(Pk user_pk) = 0;

  // Keeps a response for (`org_pk`, `key`), replacing one older than `not_before`, and drops
  // every kept response older than `not_before`.
  virtual void save_idempotent_response(Pk org_pk, std::string_view key,
                                        const IdempotentResponse& response,
                                        UnixSeconds not_before) = 0;
  // Closes one invite (pending or not) with `status`.
  virtual void close_invite(Pk invite_pk, InviteStatus status, UnixSeconds now) = 0;
  // Marks the batch answered: its token works no more.
  virtual void mark_batch_used(Pk batch_pk, UnixSeconds now) = 0;

  // Outcomes of a delivery attempt. Sent and failed erase the token from the outbox row and
  // set the batch's delivery state; a retry keeps it queued until `next_attempt_at`.
  virtual void mark_email_sent(Pk email_pk, int attempts, UnixSeconds now) = 0;
  virtual void mark_email_retry(Pk email_pk, int attempts, std::int64_t next_attempt_ms,
                                std::string_view error) = 0;
  virtual void mark_email_failed(Pk email_pk, int attempts, std::string_view error,
                                 UnixSeconds now) = 0;
  // The batch has nothing pending any more: the email is dropped unsent and its token erased.
  virtual void mark_email_cancelled(Pk email_pk, UnixSeconds now) = 0;
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

  // The same, waiting for the outcome on the calling thread. For background workers and
  // commands only: never call these from the event loop.
  virtual Status write_and_wait(WriteWork work) = 0;
  virtual Status read_and_wait(ReadWork work) = 0;

  // Reports whether the database answers, its schema is at the version this binary expects,
  // and it can write now (the last write succeeded and none is stuck waiting for a lock).
  virtual void check_ready(Completion done) = 0;
};

}  // namespace invited::domain
