#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "store/postgres/instance_lock.hpp"
#include "store/postgres/pool.hpp"
#include "store/postgres/transaction.hpp"
#include "store/service_store.hpp"

namespace invited::store::postgres {

// domain::Store on a PostgreSQL database (docs/postgres.md).
//
// Units of work run on a pool of `pool_size` connections, each owned by a dedicated thread
// (pool.hpp), so the event loop never waits on the database. Each unit runs in one transaction
// on one connection: writes at SERIALIZABLE (a unit behaves as if it ran alone, the store
// contract), reads in one REPEATABLE READ READ ONLY snapshot. A unit that loses a serialization
// race or a deadlock (SQLSTATE 40001, 40P01) is rolled back and run again after a short random
// pause, up to `max_attempts` runs within the timeout. Every unit must finish within `timeout` of
// being handed to the store, waiting for a connection included; past it, or when the server cannot
// be reached, it completes with kUnavailable (the API answers 503 with Retry-After). Completions
// are handed to `post`, which the owner points at its event loop.
//
// Outbox claims are made in the name of this instance (instance_lock.hpp): an email claimed by an
// instance that died is free at once for the others, not at the end of its lease.
//
// Reads for one organization (read_for) queue fairly: organizations take turns, and one
// organization's reads hold at most pool_size - 1 connections at once.
//
// Thread-safe. The destructor finishes every queued unit (or lets it time out) before it
// returns.
class PostgresStore final : public ServiceStore, public domain::BudgetStore {
 public:
  using Post = std::function<void(std::function<void()>)>;

  struct Options {
    std::string url;  // libpq URI; its password is never logged
    int pool_size = 8;
    std::chrono::milliseconds timeout{5000};
    // Runs of a unit that keeps losing serialization races, the first included. Generous: under
    // SERIALIZABLE, concurrent requests of one organization collide on the index pages they
    // read and write (PostgreSQL's predicate locks on B-tree pages), each collision lets at
    // least one of them commit, and the timeout bounds the whole anyway.
    int max_attempts = 30;
    std::size_t max_queued = 20000;  // beyond this, units are refused as kUnavailable
    // Apply pending migrations (under the advisory lock) when the store opens. Without, the
    // store opens without connecting: connections open when units need them, and readiness
    // reports a schema that is not at this binary's version.
    bool migrate = true;
    // The outbox's claims (instance_lock.hpp): how often this instance checks the connection
    // that holds its lock (and the key revocation watch its listening connection,
    // key_revocation_watch.hpp), and how long after a claim its lease is still renewed.
    std::chrono::milliseconds instance_check_every{1000};
    std::chrono::milliseconds renew_claims_for{120000};
  };

  // With `migrate`, connects (within the timeout) and applies pending migrations; refuses
  // (throws PgError) a database that cannot be reached (kUnavailable) or whose schema is newer
  // than this binary with a migration it does not know that is breaking (kInternal; newer
  // schemas whose unknown migrations are all compatible are served).
  PostgresStore(Options options, Post post);
  ~PostgresStore() override;

  void write(domain::WriteWork work, domain::Completion done) override;
  void read(domain::ReadWork work, domain::Completion done) override;
  void read_for(domain::Pk tenant, domain::ReadWork work, domain::Completion done) override;
  // On a lane of its own (ConnectionPool::kScrapes), with `timeout` (or the store's timeout if
  // shorter) as its deadline; every caller passes the same bound (a lane's units share one).
  void read_within(std::chrono::milliseconds timeout, domain::ReadWork work,
                   domain::Completion done) override;
  domain::Status write_and_wait(domain::WriteWork work) override;
  domain::Status read_and_wait(domain::ReadWork work) override;
  // Ready when a read unit finds the server answering, the schema at this binary's version and
  // the server writable (not a standby in recovery). The probe has a lane and a deadline of its
  // own (1 s, or the timeout if shorter): it answers within that even when every connection
  // waits on a server that stopped answering.
  void check_ready(domain::Completion done) override;

  // Called after a write unit that queued an email has committed (on the executor for write(),
  // on the waiting thread for write_and_wait()).
  void on_email_queued(std::function<void()> listener) override;
  // Units run (reads included) and transactions committed.
  StoreStats stats() const override;

  // Hears revocations on a connection of its own (key_revocation_watch.hpp), which is
  // reconnected when lost.
  std::unique_ptr<Subscription> watch_key_revocations(KeyRevokedListener listener) override;

  // The organizations' rate-limit buckets (rate_budgets.cpp): one statement per draw, in no
  // transaction (Access::kStatement), on the budgets' lane of the pool.
  domain::BudgetStore* shared_budgets() override { return this; }
  void draw(const domain::BucketDraw& draw, domain::DrawDone done) override;

  PoolStats pool_stats() const { return pool_.stats(); }
  // This instance among those serving the database: the outbox's claims are made in its name.
  const InstanceLock& instance_lock() const { return instance_; }

 private:
  // Runs `work` on a Transaction and notes whether it queued an email, for the listener.
  domain::Status run_write(const domain::WriteWork& work, Transaction& tx, bool& email_queued);
  domain::Completion after_write(std::shared_ptr<bool> email_queued, domain::Completion done);

  Options options_;
  InstanceLock instance_;  // outlives the pool's units, which claim in its name
  Pool<Transaction> pool_;
  std::function<void()> email_listener_;
};

}  // namespace invited::store::postgres
