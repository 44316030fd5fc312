#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

#include "domain/budget_store.hpp"
#include "domain/store.hpp"
#include "metrics/duration_histogram.hpp"

namespace invited::store {

// Hands a completion to whoever runs it: the service points it at its event loop, a command runs
// the task at once on the store's thread.
using Post = std::function<void(std::function<void()>)>;

// Counters for /metrics and the benchmarks. Monotonic since the store opened.
struct StoreStats {
  std::uint64_t units = 0;    // write units run
  std::uint64_t commits = 0;  // transactions committed (a backend may commit several units at once)
  // How long each unit took from its arrival at the store to its completion (a write: durable),
  // whatever its outcome; the service's own probes included. Every engine counts both.
  metrics::DurationCounts write_latency;
  metrics::DurationCounts read_latency;
  // SQLite only (empty elsewhere): how long each WAL restart kept the writer from the next group.
  std::optional<metrics::DurationCounts> wal_restart_stalls;
};

// A listener's registration: destroying it stops the calls (waiting for one in progress).
class Subscription {
 public:
  virtual ~Subscription() = default;
};

// What a cache of API keys hears: `key_pk` was revoked by some process serving the database, or,
// with nullopt, revocations may have been missed (forget every key).
using KeyRevokedListener = std::function<void(std::optional<domain::Pk> key_pk)>;

// domain::Store as the service runs it, with what the process around it needs of the store,
// whatever the engine. Opened by store::open (store/open_store.hpp).
class ServiceStore : public domain::Store {
 public:
  // `listener` is called, on a store thread, after each commit that queued an email, so the mail
  // worker wakes at once instead of at its next poll. Set it before the first write.
  virtual void on_email_queued(std::function<void()> listener) = 0;

  virtual StoreStats stats() const = 0;

  // Calls `listener`, on a thread of the store, as revocations of API keys by any process on
  // the database commit, for as long as the returned subscription lives; so a process that
  // caches keys forgets a key revoked elsewhere at once instead of when its cache expires.
  // Best effort: while the store cannot hear (its listening connection is down) revocations
  // pass unheard, and once it hears again it calls `listener(nullopt)`; a cache must still
  // expire entries on its own. A store that only one process serves calls nothing (the
  // process that revokes a key forgets it itself).
  virtual std::unique_ptr<Subscription> watch_key_revocations(KeyRevokedListener listener) = 0;

  // The organizations' rate-limit buckets kept in the database for every process serving it, or
  // null when one process serves the database (SQLite) and keeps them in memory. Lives as long
  // as the store.
  virtual domain::BudgetStore* shared_budgets() { return nullptr; }
};

// Held by `invited serve` for its whole run (store::claim_for_serving).
class ServeClaim {
 public:
  virtual ~ServeClaim() = default;

  // True when the claim makes this process the only one serving the database (SQLite: one
  // process per file), so that whatever a worker of an earlier process left claimed (the
  // outbox's leases) belonged to a process that is gone and may be released at start. False
  // when several processes may serve it at once (PostgreSQL): leases then simply run out.
  virtual bool sole_server() const = 0;
};

struct MigrationResult {
  int applied = 0;         // migrations this call ran
  int schema_version = 0;  // the database's version afterwards
};

}  // namespace invited::store
