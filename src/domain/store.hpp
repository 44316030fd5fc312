#pragma once

#include <chrono>
#include <functional>
#include <utility>

#include "domain/api_key_store.hpp"
#include "domain/event_store.hpp"
#include "domain/idempotency_store.hpp"
#include "domain/invitation_store.hpp"
#include "domain/invite_store.hpp"
#include "domain/member_list_store.hpp"
#include "domain/membership_store.hpp"
#include "domain/outbox_store.hpp"
#include "domain/result.hpp"
#include "domain/tenancy_store.hpp"
#include "domain/user_store.hpp"
#include "domain/webhook_store.hpp"

namespace invited::domain {

// The storage the domain needs, in its words, split by topic, one header each: tenancy
// (organizations, websites, groups: tenancy_store.hpp), users (user_store.hpp), memberships
// (membership_store.hpp), member lists (member_list_store.hpp), invites (invite_store.hpp),
// invitations: batches and their tokens (invitation_store.hpp), the outbox (outbox_store.hpp),
// API keys (api_key_store.hpp), idempotent responses (idempotency_store.hpp) and the event log
// (event_store.hpp). Each is a small
// interface with a read half (`...ReadTx`) and a write half (`...WriteTx`, which includes the
// read half); the outbox's producers see only EmailQueueTx. Implemented by src/store/ (SQLite,
// PostgreSQL); the domain never sees SQL. A domain function takes the narrowest of these it
// needs, so a test gives it only those.
//
// All methods run inside the transaction that the Store opened for one unit of work, and throw
// only on storage failure (the unit then rolls back and the caller answers 503 for a transient
// failure such as a locked database or a full disk, else 500). A transaction object is only
// ever used from the thread that runs its unit.
//
// The isolation contract, which every backend keeps and the domain relies on:
//
// 1. A unit of work behaves as if it ran alone: serializable. Whatever it reads stays true
//    until it commits, so a rule checked by reading and then enforced by writing inside one unit
//    holds however many units run at once. "An organization keeps at least one owner" counts the
//    owners, then demotes or removes one; "a token answers once" reads the batch, then marks it
//    used; a bulk invite reads that a target is live and that the user is no member yet, then
//    writes. SQLite keeps this by running write units one after another (one writer; a read
//    unit sees one snapshot). PostgreSQL keeps it at SERIALIZABLE, whose predicate locks
//    detect two units that would each break the rule only together (two owners removed at
//    once) and fail one of them with a serialization failure; READ COMMITTED or REPEATABLE READ
//    would not, and are not allowed for write units.
// 2. A backend may run a unit again, from the start, in a fresh transaction, after a
//    serialization failure or a deadlock (what the earlier run wrote is gone). So a unit resets
//    every result it captures when it starts and acts on nothing outside the database (no email
//    sent, no in-memory counter bumped) before its completion runs. The completion runs once,
//    with the outcome of the run that counted.
// 3. Uniqueness is decided by the database's constraints, never by a read before the insert:
//    the *_if_absent methods, close-then-insert of pending invites, and
//    save_idempotent_response say what a conflict does. Under (1) a read first would also be
//    correct, but the constraint is what makes the loser's answer well-defined.
// 4. Order across units is never row-key order: with concurrent writers, keys are drawn in one
//    order and committed in another. "Oldest first" means a stored time and then an id (UUIDv7
//    ids are made in time order); only rows written by one unit (a batch's invites) may keep
//    their insertion order by key.
//
// Racing requests test (1) through the API on every backend: tests/api/concurrent_rules.test.mjs.

// Everything a read unit may do: the read half of every topic.
class ReadTx : public virtual TenancyReadTx,
               public virtual UserReadTx,
               public virtual MembershipReadTx,
               public virtual MemberListReadTx,
               public virtual InviteReadTx,
               public virtual InvitationReadTx,
               public virtual OutboxReadTx,
               public virtual ApiKeyReadTx,
               public virtual IdempotencyReadTx,
               public virtual WebhookReadTx,
               public virtual EventReadTx {};

// Everything a write unit may do: every topic, reads included.
class WriteTx : public ReadTx,
                public TenancyWriteTx,
                public UserWriteTx,
                public MembershipWriteTx,
                public InviteWriteTx,
                public InvitationWriteTx,
                public EmailQueueTx,
                public OutboxWriteTx,
                public ApiKeyWriteTx,
                public IdempotencyWriteTx,
                public WebhookWriteTx,
                public EventWriteTx {};

// A unit of work returns ok to commit its writes, or an Error to roll back only its own writes.
using WriteWork = std::function<Status(WriteTx&)>;
using ReadWork = std::function<Status(ReadTx&)>;
// Called exactly once per unit with what the unit returned, or, if storage failed, kUnavailable
// (transient: locked elsewhere, disk full, read-only, I/O) or kInternal.
// For writes it runs only after the outcome is durable (committed or rolled back).
using Completion = std::function<void(Status)>;

// Runs units of work against the database, each under the isolation contract above (a unit
// may run more than once, so it resets any result it captures when it starts). Thread-safe;
// never blocks the caller. Completions run on the executor the Store was given.
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

  // A read that must answer soon whatever the load, for a monitoring scrape (/metrics): a
  // backend whose units wait for a connection gives this one at most `timeout` in all, queue
  // wait included, instead of its usual deadline (--db-timeout-ms), and fails it as
  // kUnavailable after that. By default, the same as read().
  virtual void read_within(std::chrono::milliseconds timeout, ReadWork work, Completion done) {
    (void)timeout;
    read(std::move(work), std::move(done));
  }

  // The same, waiting for the outcome on the calling thread. For background workers and
  // commands only: never call these from the event loop.
  virtual Status write_and_wait(WriteWork work) = 0;
  virtual Status read_and_wait(ReadWork work) = 0;

  // Reports whether the database answers, its schema is at the version this binary expects (or
  // newer, with only compatible migrations this binary does not know: a rolling upgrade), and it
  // can write now (the last write succeeded and none is stuck waiting for a lock).
  virtual void check_ready(Completion done) = 0;
};

}  // namespace invited::domain
