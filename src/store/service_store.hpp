#pragma once

#include <cstdint>
#include <functional>
#include <optional>

#include "domain/store.hpp"
#include "store/duration_histogram.hpp"

namespace invited::store {

// Hands a completion to whoever runs it: the service points it at its event loop, a command runs
// the task at once on the store's thread.
using Post = std::function<void(std::function<void()>)>;

// Counters for /metrics and the benchmarks. Monotonic since the store opened.
struct StoreStats {
  std::uint64_t units = 0;    // write units run
  std::uint64_t commits = 0;  // transactions committed (a backend may commit several units at once)
  // SQLite only (empty elsewhere): how long each write unit took from its arrival at the store to
  // its completion (durable), and how long each WAL restart kept the writer from the next group.
  std::optional<DurationCounts> write_latency;
  std::optional<DurationCounts> wal_restart_stalls;
};

// domain::Store as the service runs it, with what the process around it needs of the store,
// whatever the engine. Opened by store::open (store/open_store.hpp).
class ServiceStore : public domain::Store {
 public:
  // `listener` is called, on a store thread, after each commit that queued an email, so the mail
  // worker wakes at once instead of at its next poll. Set it before the first write.
  virtual void on_email_queued(std::function<void()> listener) = 0;

  virtual StoreStats stats() const = 0;
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
