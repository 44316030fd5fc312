#include "store/postgres/pool.hpp"

#include <algorithm>
#include <future>
#include <optional>
#include <random>

#include "log/log.hpp"

namespace invited::store::postgres {
namespace {

domain::Status unavailable(std::string message) {
  return domain::Error{domain::ErrorCode::kUnavailable, std::move(message)};
}

domain::Status timed_out() {
  return unavailable("the database did not answer in time; retry shortly");
}

domain::Status unreachable() { return unavailable("the database is unavailable; retry shortly"); }

domain::Status internal_error() {
  return domain::Error{domain::ErrorCode::kInternal, "the database failed"};
}

constexpr const char* kBeginSerializable = "BEGIN ISOLATION LEVEL SERIALIZABLE";
constexpr const char* kBeginReadCommitted = "BEGIN ISOLATION LEVEL READ COMMITTED";
constexpr const char* kBeginRead = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
constexpr const char* kCommit = "COMMIT";
// The turn of units rerun after repeated serialization failures (PoolOptions::
// exclusive_from_attempt); next to the migrations' lock ("invited" in ASCII).
constexpr const char* kTakeTurn = "SELECT pg_advisory_lock(29400750624909669)";
constexpr const char* kEndTurn = "SELECT pg_advisory_unlock(29400750624909669)";
constexpr const char* kRollback = "ROLLBACK";

// A random pause before rerunning a unit that lost a race, growing with the attempt, so the
// units that collided do not collide again in lockstep.
void back_off(int attempt, Clock::time_point deadline) {
  thread_local std::minstd_rand random{std::random_device{}()};
  int ceiling_ms = 1 << std::min(attempt, 6);
  auto pause = std::chrono::microseconds(random() % (ceiling_ms * 1000));
  auto until = std::min(Clock::now() + pause, deadline);
  std::this_thread::sleep_until(until);
}

}  // namespace

ConnectionPool::ConnectionPool(PoolOptions options, Post post)
    : options_(std::move(options)),
      post_(std::move(post)),
      queue_(static_cast<std::size_t>(std::max(1, options_.size - 1))) {
  for (int i = 0; i < options_.size; ++i) workers_.emplace_back([this] { worker_loop(); });
  watchdog_ = std::thread([this] { watchdog_loop(); });
}

ConnectionPool::~ConnectionPool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  work_ready_.notify_all();
  watchdog_wake_.notify_all();
  for (auto& worker : workers_) worker.join();
  watchdog_.join();
}

PoolStats ConnectionPool::stats() const {
  return {units_.load(),    commits_.load(),           retries_.load(),         reconnects_.load(),
          timeouts_.load(), write_latency_.snapshot(), read_latency_.snapshot()};
}

void ConnectionPool::complete(Unit& unit, domain::Status status) {
  units_.fetch_add(1, std::memory_order_relaxed);
  if (unit.access == Access::kReadWrite) write_latency_.record(Clock::now() - unit.queued_at);
  if (unit.access == Access::kReadOnly) read_latency_.record(Clock::now() - unit.queued_at);
  if (unit.direct) return unit.done(status);
  post_([done = std::move(unit.done), status = std::move(status)]() { done(status); });
}

void ConnectionPool::enqueue(Tenant tenant, Unit unit) {
  domain::Status refusal;
  {
    std::lock_guard lock(mutex_);
    if (!stopping_ && queue_.size() < options_.max_queued) {
      // The watchdog sleeps until the earliest deadline it knew of: wake it for an earlier one
      // (a probe's shorter deadline, or the first unit of an empty queue).
      bool sooner = unit.deadline < watchdog_until_;
      queue_.push(tenant, std::move(unit));
      work_ready_.notify_one();
      if (sooner) watchdog_wake_.notify_one();
      return;
    }
    refusal = stopping_ ? unavailable("the service is shutting down")
                        : unavailable("the service is overloaded; retry shortly");
  }
  complete(unit, refusal);
}

void ConnectionPool::run(Access access, Tenant tenant, Job job, Completion done) {
  run(access, tenant, options_.timeout, std::move(job), std::move(done));
}

void ConnectionPool::run(Access access, Tenant tenant, std::chrono::milliseconds timeout, Job job,
                         Completion done) {
  const auto now = Clock::now();
  enqueue(tenant, {access, std::move(job), std::move(done), now + timeout, false, now});
}

domain::Status ConnectionPool::run_and_wait(Access access, Job job) {
  std::promise<domain::Status> outcome;
  const auto now = Clock::now();
  enqueue(kShared, {access, std::move(job),
                    [&outcome](domain::Status status) { outcome.set_value(std::move(status)); },
                    now + options_.timeout, true, now});
  return outcome.get_future().get();
}

void ConnectionPool::watchdog_loop() {
  std::unique_lock lock(mutex_);
  while (!(stopping_ && queue_.empty())) {
    if (queue_.empty()) {
      watchdog_until_ = Clock::time_point::max();
      watchdog_wake_.wait(lock);
      continue;
    }
    // Each tenant's units queue in deadline order (one timeout for all), so the fronts of the
    // lanes expire first.
    Clock::time_point front = *queue_.min_front([](const Unit& unit) { return unit.deadline; });
    Clock::time_point now = Clock::now();
    if (now < front) {
      watchdog_until_ = front;
      watchdog_wake_.wait_until(lock, front);
      continue;
    }
    std::vector<Unit> expired =
        queue_.take_expired([now](const Unit& unit) { return unit.deadline <= now; });
    lock.unlock();
    for (Unit& unit : expired) {
      timeouts_.fetch_add(1, std::memory_order_relaxed);
      complete(unit, timed_out());
    }
    lock.lock();
  }
}

void ConnectionPool::worker_loop() {
  std::unique_ptr<Connection> connection;
  for (;;) {
    std::optional<std::pair<Tenant, Unit>> next;
    {
      std::unique_lock lock(mutex_);
      // Units of a tenant at its limit wait for one of its running units to finish.
      work_ready_.wait(lock, [this, &next] {
        if (stopping_ && queue_.empty()) return true;
        next = queue_.pop();
        return next.has_value();
      });
      if (!next) {
        work_ready_.notify_all();  // stopping, and everything queued is done: so are the others
        return;
      }
      if (queue_.has_runnable()) work_ready_.notify_one();
    }
    Unit& unit = next->second;
    domain::Status status = run_unit(connection, unit);
    {
      std::lock_guard lock(mutex_);
      queue_.finished(next->first);
      if (queue_.has_runnable()) work_ready_.notify_one();
    }
    complete(unit, std::move(status));
  }
}

void ConnectionPool::abandon_transaction(std::unique_ptr<Connection>& connection) {
  if (!connection) return;
  connection->clear_deferred();
  if (!connection->ok()) {
    connection.reset();
    return;
  }
  try {
    connection->exec(kRollback);
  } catch (const PgError&) {
    connection.reset();
  }
}

domain::Status ConnectionPool::run_unit(std::unique_ptr<Connection>& connection, Unit& unit) {
  const char* begin = unit.access == Access::kStatement                ? nullptr
                      : unit.access == Access::kReadOnly               ? kBeginRead
                      : options_.isolation == Isolation::kSerializable ? kBeginSerializable
                                                                       : kBeginReadCommitted;
  for (int attempt = 1;; ++attempt) {
    if (Clock::now() >= unit.deadline) {
      timeouts_.fetch_add(1, std::memory_order_relaxed);
      return timed_out();
    }
    // A statement of its own (Access::kStatement) commits as it runs: lost with its connection,
    // it may have committed, so like a COMMIT in flight it is not run again.
    bool committing = unit.access == Access::kStatement;
    bool exclusive = false;
    bool short_waits = false;
    // Ends the turn taken for this run, if any (a lost connection has ended it already).
    auto end_turn = [&] {
      if (!exclusive || !connection || !connection->ok()) return;
      try {
        connection->exec(kEndTurn);
      } catch (const PgError&) {
        connection.reset();
      }
    };
    try {
      if (!connection || !connection->ok()) {
        bool replacing = connection != nullptr;
        connection.reset();
        connection = std::make_unique<Connection>(
            Connection::Options{.url = options_.url, .statement_timeout = options_.timeout},
            unit.deadline);
        if (replacing || attempt > 1) {
          reconnects_.fetch_add(1, std::memory_order_relaxed);
          log::info("database connection reopened", {{"database", connection->masked_url()}});
        }
      }
      connection->set_deadline(unit.deadline);
      if (unit.access == Access::kReadWrite && options_.exclusive_from_attempt > 0 &&
          attempt >= options_.exclusive_from_attempt) {
        connection->exec(kTakeTurn);
        exclusive = true;
      }
      if (begin != nullptr) connection->defer(begin);
      short_waits =
          unit.access == Access::kReadWrite && !exclusive && options_.conflict_wait.count() > 0;
      if (short_waits) {
        connection->defer("SET LOCAL lock_timeout = " +
                          std::to_string(options_.conflict_wait.count()));
      }
      domain::Status status = unit.job(*connection);
      if (connection->has_deferred()) {
        // The unit sent nothing: no transaction was opened.
        connection->clear_deferred();
      } else if (begin == nullptr) {
        // Each statement committed on its own.
      } else if (status.ok()) {
        committing = true;
        connection->exec(kCommit);
        commits_.fetch_add(1, std::memory_order_relaxed);
      } else {
        connection->exec(kRollback);
      }
      end_turn();
      return status;
    } catch (const PgError& error) {
      abandon_transaction(connection);
      end_turn();
      bool time_left = Clock::now() < unit.deadline;
      // A run that gave up waiting for another unit's row (its short lock_timeout) lost a race.
      FailureKind kind =
          short_waits && error.sqlstate() == "55P03" ? FailureKind::kRetry : error.kind();
      switch (kind) {
        case FailureKind::kRetry:
          if (attempt < options_.max_attempts && time_left) {
            retries_.fetch_add(1, std::memory_order_relaxed);
            log::debug("unit of work rerun after a serialization failure",
                       {{"sqlstate", error.sqlstate()}, {"attempt", attempt}});
            back_off(attempt, unit.deadline);
            continue;
          }
          if (!time_left) break;
          log::warn("unit of work gave up after serialization failures",
                    {{"sqlstate", error.sqlstate()}, {"attempts", attempt}});
          return unavailable("the database is busy; retry shortly");
        case FailureKind::kUnavailable:
          // 57014: the server's statement_timeout, which is the unit's timeout.
          if (!time_left || error.sqlstate() == "57014") break;
          log::warn(
              "database unavailable",
              {{"error", error.what()}, {"sqlstate", error.sqlstate()}, {"attempt", attempt}});
          // A connection lost before COMMIT rolled its transaction back: run the unit again on
          // a new one (e.g. the first unit after a server restart). One lost during COMMIT may
          // have committed, so it is not rerun.
          if (!committing && attempt < options_.max_attempts && connection == nullptr &&
              error.sqlstate() != "08001") {
            continue;
          }
          return unreachable();
        case FailureKind::kUniqueViolation:
        case FailureKind::kInternal:
          log::error("unit of work failed",
                     {{"error", error.what()}, {"sqlstate", error.sqlstate()}});
          return internal_error();
      }
      timeouts_.fetch_add(1, std::memory_order_relaxed);
      return timed_out();
    } catch (const std::exception& error) {
      abandon_transaction(connection);
      end_turn();
      log::error("unit of work failed", {{"error", error.what()}});
      return internal_error();
    }
  }
}

}  // namespace invited::store::postgres
