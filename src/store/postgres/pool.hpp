#pragma once

#include <atomic>
#include <chrono>
#include <concepts>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "domain/result.hpp"
#include "metrics/duration_histogram.hpp"
#include "store/fair_queue.hpp"
#include "store/postgres/connection.hpp"

namespace invited::store::postgres {

// How a write unit's transaction is opened (the trade-off is written up in docs/postgres.md).
enum class Isolation {
  // BEGIN ISOLATION LEVEL SERIALIZABLE: every unit behaves as if it ran alone, which is the
  // store contract the domain is written against; a conflict surfaces as 40001 and the pool runs
  // the unit again. The default.
  kSerializable,
  // BEGIN (READ COMMITTED): no serialization failures, but every rule that reads before it
  // writes must lock what it read (SELECT ... FOR UPDATE) itself. For measurements.
  kReadCommitted,
};

// Read units run in one snapshot, READ ONLY (BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY):
// what SQLite's read connections give, without serializable's predicate locks. kStatement units
// open no transaction: each statement they send commits on its own (atomic by itself, e.g. one
// UPDATE of one row), for bookkeeping whose rows many units update at once (the shared rate-limit
// buckets) and which serializable isolation would make fail each other.
enum class Access { kReadWrite, kReadOnly, kStatement };

struct PoolOptions {
  std::string url;  // libpq URI; its password is never logged
  int size = 8;     // connections, one thread each (`--db-pool-size`)
  // A unit must finish within this much time after it was handed to run(), queue wait
  // included, or it fails as kUnavailable (`--db-timeout-ms`). Also the server's
  // statement_timeout, so the server stops what the client gave up on.
  std::chrono::milliseconds timeout{5000};
  // Runs of one unit, the first included, when it loses a serialization race (40001, 40P01)
  // or finds its connection lost before COMMIT was sent.
  int max_attempts = 5;
  // From this run on, a unit that keeps losing serialization races waits for its turn among the
  // other such units before it begins (a session advisory lock taken before BEGIN, so its
  // snapshot is taken after the previous holder committed): units that truly conflict (the
  // same email invited to the same websites twenty times at once) then commit one after another
  // instead of failing each other until they run out of attempts. Zero: never.
  int exclusive_from_attempt = 3;
  // How long a write run before its exclusive turn waits for a row another unit holds (a
  // pending invite, a membership) before it gives up and runs again (SET LOCAL lock_timeout).
  // At SERIALIZABLE such a wait nearly always ends in a serialization failure once the holder
  // commits, and two units waiting on each other would otherwise wait for PostgreSQL's deadlock
  // check (deadlock_timeout, 1 s) before one of them is failed. Runs in their exclusive turn
  // wait as long as the unit's timeout allows. Zero: no such limit.
  std::chrono::milliseconds conflict_wait{50};
  Isolation isolation = Isolation::kSerializable;
  std::size_t max_queued = 20000;  // beyond this, units are refused as kUnavailable
};

// Counters for /metrics and tests. Monotonic since the pool started.
struct PoolStats {
  std::uint64_t units = 0;       // units completed, whatever their outcome
  std::uint64_t commits = 0;     // transactions committed
  std::uint64_t retries = 0;     // runs repeated after a serialization failure or deadlock
  std::uint64_t reconnects = 0;  // connections opened to replace a lost or closed one
  std::uint64_t timeouts = 0;    // units failed because their deadline passed
  // Each unit from run() to its completion, whatever its outcome (refused, failed, timed out):
  // kReadWrite units are writes, kReadOnly units reads; kStatement units (bookkeeping such as
  // the rate-limit draws) are in neither.
  metrics::DurationCounts write_latency;
  metrics::DurationCounts read_latency;
};

// A fixed set of PostgreSQL connections, each owned by a dedicated thread, that runs units of
// work. Each unit runs on one connection inside one transaction: BEGIN is sent with the unit's
// first statement (no round trip of its own), COMMIT when the unit returns ok, ROLLBACK when it
// returns an Error. The outcome goes to `done`, through `post`.
//
// Failures become Status values, never exceptions: a serialization failure or deadlock reruns
// the whole unit (up to max_attempts, with a short random pause; from exclusive_from_attempt on,
// one such rerun at a time), so a unit must reset whatever
// it captures when it starts; a connection lost before COMMIT reconnects and reruns the unit
// (one lost during COMMIT is not rerun: its outcome is unknown); a passed deadline, an
// unreachable server or exhausted attempts give kUnavailable; anything else (a bug in the SQL,
// an escaped unique violation) gives kInternal and is logged. A unit whose deadline passes,
// running or queued, completes within a few milliseconds of it: waits on the server are bounded
// by the deadline (the connection is then closed and replaced), and a watchdog fails queued
// units that no thread took in time.
//
// Connections are opened lazily, by the thread that needs one. Thread-safe. The destructor runs
// every queued unit (or lets it time out) before it returns.
class ConnectionPool {
 public:
  using Post = std::function<void(std::function<void()>)>;
  using Job = std::function<domain::Status(Connection&)>;
  using Completion = std::function<void(domain::Status)>;
  using Tenant = FairQueue<int>::Tenant;
  // Units queued for no tenant in particular (writes, key lookups): not limited.
  static constexpr Tenant kShared = FairQueue<int>::kShared;
  // The lane of probes (run with a timeout of their own).
  static constexpr Tenant kProbes = -2;
  // The lane of the rate-limit draws: short statements that every request may wait for, so they
  // take turns with the other lanes instead of queueing behind every write.
  static constexpr Tenant kBudgets = -3;
  // The lane of monitoring reads (the /metrics backlog), run with a short timeout of their own.
  static constexpr Tenant kScrapes = -4;

  ConnectionPool(PoolOptions options, Post post);
  ~ConnectionPool();
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  // Queues `job`; `done` is posted with its outcome. Never blocks. Queued units are taken
  // fairly (FairQueue): tenants take turns, and the units of one `tenant` (an organization's
  // row key) hold at most size - 1 connections at once (at least 1), so one tenant's burst of
  // long reads leaves a connection for everyone else.
  void run(Access access, Job job, Completion done) {
    run(access, kShared, std::move(job), std::move(done));
  }
  void run(Access access, Tenant tenant, Job job, Completion done);
  // The same with a deadline of its own, `timeout` from now instead of the pool's: for probes
  // that must answer sooner than a unit may take (readiness). Give such units a lane of their
  // own (kProbes): a lane's units must share one timeout, and behind other units a probe would
  // wait for a connection as long as they may.
  void run(Access access, Tenant tenant, std::chrono::milliseconds timeout, Job job,
           Completion done);
  // The same, waiting for the outcome on the calling thread (`done` is not posted). For
  // background workers and commands: never call it from the event loop.
  domain::Status run_and_wait(Access access, Job job);

  PoolStats stats() const;
  const PoolOptions& options() const { return options_; }

 private:
  struct Unit {
    Access access;
    Job job;
    Completion done;
    Clock::time_point deadline;
    bool direct;                  // run `done` on the pool's thread instead of posting it
    Clock::time_point queued_at;  // when run() took it
  };

  void enqueue(Tenant tenant, Unit unit);
  void worker_loop();
  void watchdog_loop();
  domain::Status run_unit(std::unique_ptr<Connection>& connection, Unit& unit);
  // After a failure: rolls back if the connection still works, closes it otherwise.
  void abandon_transaction(std::unique_ptr<Connection>& connection);
  void complete(Unit& unit, domain::Status status);

  PoolOptions options_;
  Post post_;

  mutable std::mutex mutex_;
  std::condition_variable work_ready_;
  std::condition_variable watchdog_wake_;
  FairQueue<Unit> queue_;  // in deadline order within each tenant's lane
  // When the watchdog wakes next unless woken: the earliest deadline queued when it went to
  // sleep (max() while the queue is empty).
  Clock::time_point watchdog_until_ = Clock::time_point::max();
  bool stopping_ = false;

  std::atomic<std::uint64_t> units_{0};
  std::atomic<std::uint64_t> commits_{0};
  std::atomic<std::uint64_t> retries_{0};
  std::atomic<std::uint64_t> reconnects_{0};
  std::atomic<std::uint64_t> timeouts_{0};
  metrics::DurationHistogram write_latency_;
  metrics::DurationHistogram read_latency_;

  std::vector<std::thread> workers_;
  std::thread watchdog_;
};

// A ConnectionPool whose units take a transaction object of the store's own type instead of the
// bare Connection: `Tx` is built from the unit's Connection for each run (so a rerun starts
// with a fresh one) and lives until the unit returns. Same contract as ConnectionPool.
template <typename Tx>
requires std::constructible_from<Tx, Connection&>
class Pool {
 public:
  using Work = std::function<domain::Status(Tx&)>;

  Pool(PoolOptions options, ConnectionPool::Post post)
      : pool_(std::move(options), std::move(post)) {}

  void run(Access access, Work work, ConnectionPool::Completion done) {
    pool_.run(access, wrap(std::move(work)), std::move(done));
  }
  void run(Access access, ConnectionPool::Tenant tenant, Work work,
           ConnectionPool::Completion done) {
    pool_.run(access, tenant, wrap(std::move(work)), std::move(done));
  }
  void run(Access access, ConnectionPool::Tenant tenant, std::chrono::milliseconds timeout,
           Work work, ConnectionPool::Completion done) {
    pool_.run(access, tenant, timeout, wrap(std::move(work)), std::move(done));
  }
  domain::Status run_and_wait(Access access, Work work) {
    return pool_.run_and_wait(access, wrap(std::move(work)));
  }
  PoolStats stats() const { return pool_.stats(); }
  const PoolOptions& options() const { return pool_.options(); }

 private:
  static ConnectionPool::Job wrap(Work work) {
    return [work = std::move(work)](Connection& connection) {
      Tx tx(connection);
      return work(tx);
    };
  }

  ConnectionPool pool_;
};

}  // namespace invited::store::postgres
