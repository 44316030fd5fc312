#include "store/postgres/pool.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "test_cluster.hpp"

namespace invited::store::postgres {
namespace {

using testing::connect;
using testing::TestCluster;

constexpr Statement kAddOne{"pool_test_add_one",
                            "UPDATE counters SET n = n + 1 WHERE name = $1 RETURNING n"};
constexpr Statement kReadCounter{"pool_test_read", "SELECT n FROM counters WHERE name = $1"};

// What a store's transaction object would be: built from the unit's connection, it gives the
// unit its operations in the store's words.
class CounterTx {
 public:
  explicit CounterTx(Connection& connection) : connection_(connection) {}
  std::int64_t read(const std::string& name) {
    return connection_.query(kReadCounter, Params().add(name)).int64(0, 0);
  }
  std::int64_t add_one(const std::string& name) {
    return connection_.query(kAddOne, Params().add(name)).int64(0, 0);
  }
  int backend_pid() const { return connection_.backend_pid(); }
  Connection& connection() { return connection_; }

 private:
  Connection& connection_;
};

// Runs posted completions on a thread of its own, as the event loop would, and counts them.
class Loop {
 public:
  ConnectionPool::Post post() {
    return [this](std::function<void()> task) {
      posted_.fetch_add(1);
      std::thread(std::move(task)).detach();
    };
  }
  int posted() const { return posted_.load(); }

 private:
  std::atomic<int> posted_{0};
};

class PoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    schema_ = TestCluster::get().fresh_schema();
    url_ = TestCluster::get().tcp_url(schema_);
    auto db = connect(url_);
    db->exec(
        "CREATE TABLE counters (name text PRIMARY KEY, n bigint NOT NULL);"
        "INSERT INTO counters VALUES ('a', 0), ('b', 0)");
  }

  PoolOptions options(int size = 2) {
    return PoolOptions{.url = url_, .size = size, .timeout = std::chrono::milliseconds(5000)};
  }

  std::int64_t counter(const std::string& name) {
    return connect(url_)->query(kReadCounter, Params().add(name)).int64(0, 0);
  }

  std::string schema_;
  std::string url_;
  Loop loop_;
};

TEST_F(PoolTest, RunsAUnitInOneTransactionAndPostsItsOutcome) {
  Pool<CounterTx> pool(options(), loop_.post());
  std::promise<domain::Status> outcome;
  pool.run(
      Access::kReadWrite,
      [](CounterTx& tx) {
        tx.add_one("a");
        tx.add_one("a");
        // Both statements run in the unit's transaction, which is serializable.
        EXPECT_EQ(tx.connection()
                      .query_once("SELECT current_setting('transaction_isolation')")
                      .text(0, 0),
                  "serializable");
        return domain::Status();
      },
      [&](domain::Status status) { outcome.set_value(status); });
  EXPECT_TRUE(outcome.get_future().get().ok());
  EXPECT_EQ(loop_.posted(), 1);
  EXPECT_EQ(counter("a"), 2);
  EXPECT_EQ(pool.stats().commits, 1u);
}

TEST_F(PoolTest, ReadUnitsRunInOneReadOnlySnapshot) {
  Pool<CounterTx> pool(options(), loop_.post());
  domain::Status status = pool.run_and_wait(Access::kReadOnly, [](CounterTx& tx) {
    Result row = tx.connection().query_once(
        "SELECT current_setting('transaction_isolation'), "
        "current_setting('transaction_read_only')");
    EXPECT_EQ(row.text(0, 0), "repeatable read");
    EXPECT_EQ(row.text(0, 1), "on");
    tx.add_one("a");  // refused: read-only (25006)
    return domain::Status();
  });
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(counter("a"), 0);
}

TEST_F(PoolTest, EachUnitsLatencyCountsAsAReadOrAWriteWhateverItsOutcome) {
  Pool<CounterTx> pool(options(), loop_.post());
  EXPECT_TRUE(pool.run_and_wait(Access::kReadWrite,
                                [](CounterTx& tx) {
                                  tx.add_one("a");
                                  return domain::Status();
                                })
                  .ok());
  EXPECT_FALSE(pool.run_and_wait(Access::kReadWrite,
                                 [](CounterTx&) -> domain::Status {
                                   return domain::Error{domain::ErrorCode::kConflict, "no"};
                                 })
                   .ok());
  EXPECT_TRUE(
      pool.run_and_wait(Access::kReadOnly, [](CounterTx&) { return domain::Status(); }).ok());
  EXPECT_TRUE(
      pool.run_and_wait(Access::kStatement, [](CounterTx&) { return domain::Status(); }).ok());
  PoolStats stats = pool.stats();
  EXPECT_EQ(stats.write_latency.count, 2u);
  EXPECT_EQ(stats.read_latency.count, 1u) << "statement units are neither";
  EXPECT_GT(stats.write_latency.sum_ms, 0.0);
}

TEST_F(PoolTest, AnErrorStatusRollsTheUnitBack) {
  Pool<CounterTx> pool(options(), loop_.post());
  domain::Status status =
      pool.run_and_wait(Access::kReadWrite, [](CounterTx& tx) -> domain::Status {
        tx.add_one("a");
        return domain::Error{domain::ErrorCode::kConflict, "no"};
      });
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, domain::ErrorCode::kConflict);
  EXPECT_EQ(counter("a"), 0);
  EXPECT_EQ(pool.stats().commits, 0u);
}

TEST_F(PoolTest, RerunsAUnitThatLostASerializationRace) {
  Pool<CounterTx> pool(options(), loop_.post());
  auto outsider = connect(url_);
  int attempts = 0;
  domain::Status status = pool.run_and_wait(Access::kReadWrite, [&](CounterTx& tx) {
    ++attempts;
    tx.read("a");                                                    // the unit's snapshot
    if (attempts == 1) outsider->query(kAddOne, Params().add("a"));  // a concurrent commit
    tx.add_one("a");                                                 // 40001 on the first run
    return domain::Status();
  });
  EXPECT_TRUE(status.ok());
  EXPECT_EQ(attempts, 2);
  EXPECT_EQ(counter("a"), 2);
  EXPECT_EQ(pool.stats().retries, 1u);
}

TEST_F(PoolTest, GivesUpAsUnavailableAfterMaxAttempts) {
  PoolOptions settings = options();
  settings.max_attempts = 3;
  Pool<CounterTx> pool(settings, loop_.post());
  auto outsider = connect(url_);
  int attempts = 0;
  domain::Status status = pool.run_and_wait(Access::kReadWrite, [&](CounterTx& tx) {
    ++attempts;
    tx.read("a");
    outsider->query(kAddOne, Params().add("a"));
    tx.add_one("a");
    return domain::Status();
  });
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, domain::ErrorCode::kUnavailable);
  EXPECT_EQ(attempts, 3);
  EXPECT_EQ(counter("a"), 3);  // the outsider's commits only
}

TEST_F(PoolTest, RacingUnitsAllCommitThroughRetries) {
  PoolOptions settings = options(4);
  settings.max_attempts = 100;
  Pool<CounterTx> pool(settings, loop_.post());
  constexpr int kUnits = 40;
  std::vector<std::promise<domain::Status>> outcomes(kUnits);
  for (int i = 0; i < kUnits; ++i) {
    pool.run(
        Access::kReadWrite,
        [](CounterTx& tx) {
          // Read-then-write on one row from four connections: serializable makes it a counter.
          std::int64_t seen = tx.read("b");
          tx.connection().query_once("UPDATE counters SET n = $1 WHERE name = 'b'",
                                     Params().add(seen + 1));
          return domain::Status();
        },
        [&outcomes, i](domain::Status status) { outcomes[i].set_value(status); });
  }
  int ok = 0;
  for (auto& outcome : outcomes) ok += outcome.get_future().get().ok() ? 1 : 0;
  EXPECT_EQ(ok, kUnits);
  // Every read-then-write counted: none lost an update to a concurrent one.
  EXPECT_EQ(counter("b"), kUnits);
  EXPECT_GT(pool.stats().retries, 0u);
}

TEST_F(PoolTest, UnitsWaitingOnEachOthersRowsRunAgainWithoutWaitingForTheDeadlockCheck) {
  // Two units update the same two rows in opposite orders, each holding its first row when it
  // asks for the second: a deadlock. A short lock wait (conflict_wait) fails one of them at once
  // and it runs again, instead of both waiting for PostgreSQL's deadlock check (1 s).
  ASSERT_EQ(connect(url_)->query_once("SHOW deadlock_timeout").text(0, 0), "1s");
  Pool<CounterTx> pool(options(2), loop_.post());
  std::atomic<int> first_runs{0};
  std::mutex mutex;
  std::condition_variable both_hold;
  int holding = 0;
  // When both held their first row: the deadlock's start. (Not the test's: opening the pool's
  // two connections comes before it, and takes a while on a loaded machine.)
  std::optional<Clock::time_point> deadlocked_at;
  auto crosswise = [&](const std::string& first, const std::string& second) {
    return [&, first, second](CounterTx& tx) {
      tx.add_one(first);
      if (first_runs.fetch_add(1) < 2) {
        std::unique_lock lock(mutex);
        if (++holding == 2) deadlocked_at = Clock::now();
        both_hold.notify_all();
        both_hold.wait_for(lock, std::chrono::seconds(3), [&] { return holding >= 2; });
      }
      tx.add_one(second);
      return domain::Status();
    };
  };
  std::promise<domain::Status> one;
  std::promise<domain::Status> two;
  pool.run(Access::kReadWrite, crosswise("a", "b"),
           [&](domain::Status status) { one.set_value(status); });
  pool.run(Access::kReadWrite, crosswise("b", "a"),
           [&](domain::Status status) { two.set_value(status); });
  EXPECT_TRUE(one.get_future().get().ok());
  EXPECT_TRUE(two.get_future().get().ok());
  {
    std::lock_guard lock(mutex);
    ASSERT_TRUE(deadlocked_at) << "the two units never held their first rows at once";
    EXPECT_LT(Clock::now() - *deadlocked_at, std::chrono::milliseconds(900));
  }
  EXPECT_EQ(counter("a"), 2);
  EXPECT_EQ(counter("b"), 2);
  EXPECT_GE(pool.stats().retries, 1u);
}

TEST_F(PoolTest, ReconnectsAfterTheConnectionIsLost) {
  Pool<CounterTx> pool(options(1), loop_.post());
  int first_pid = 0;
  ASSERT_TRUE(pool.run_and_wait(Access::kReadWrite,
                                [&](CounterTx& tx) {
                                  first_pid = tx.backend_pid();
                                  tx.add_one("a");
                                  return domain::Status();
                                })
                  .ok());
  auto admin = connect(TestCluster::get().admin_url());
  ASSERT_TRUE(
      admin->query_once("SELECT pg_terminate_backend($1::int4, 5000)", Params().add(first_pid))
          .boolean(0, 0));
  int second_pid = 0;
  int attempts = 0;
  domain::Status status = pool.run_and_wait(Access::kReadWrite, [&](CounterTx& tx) {
    ++attempts;
    tx.add_one("a");
    second_pid = tx.backend_pid();
    return domain::Status();
  });
  EXPECT_TRUE(status.ok());
  EXPECT_EQ(attempts, 2);  // the first run found the connection gone before COMMIT
  EXPECT_NE(second_pid, first_pid);
  EXPECT_EQ(counter("a"), 2);
  EXPECT_EQ(pool.stats().reconnects, 1u);
}

TEST_F(PoolTest, SlowUnitFailsAsUnavailableAtItsDeadlineAndThePoolRecovers) {
  PoolOptions settings = options(1);
  settings.timeout = std::chrono::milliseconds(400);
  Pool<CounterTx> pool(settings, loop_.post());
  auto locker = connect(url_);
  locker->exec("BEGIN; LOCK TABLE counters IN ACCESS EXCLUSIVE MODE");

  auto started = Clock::now();
  std::promise<domain::Status> slow;
  std::promise<domain::Status> queued;
  std::atomic<bool> queued_ran{false};
  pool.run(
      Access::kReadWrite,
      [](CounterTx& tx) {
        tx.add_one("a");  // waits for the lock
        return domain::Status();
      },
      [&](domain::Status status) { slow.set_value(status); });
  // Behind it on the only connection: its deadline passes while it waits in the queue.
  pool.run(
      Access::kReadWrite,
      [&](CounterTx&) {
        queued_ran = true;
        return domain::Status();
      },
      [&](domain::Status status) { queued.set_value(status); });
  domain::Status slow_status = slow.get_future().get();
  domain::Status queued_status = queued.get_future().get();
  auto waited = Clock::now() - started;
  locker->exec("ROLLBACK");

  ASSERT_FALSE(slow_status.ok());
  EXPECT_EQ(slow_status.error().code, domain::ErrorCode::kUnavailable);
  ASSERT_FALSE(queued_status.ok());
  EXPECT_EQ(queued_status.error().code, domain::ErrorCode::kUnavailable);
  EXPECT_FALSE(queued_ran);
  EXPECT_LT(waited, std::chrono::milliseconds(1500));
  EXPECT_EQ(pool.stats().timeouts, 2u);

  // The pool recovers: a unit runs on the connection that replaces the one cut at its deadline,
  // and finds that the cut unit wrote nothing. Opening that connection (TCP, SCRAM) counts against
  // the unit's 400 ms too, which a loaded machine can pass (the unit then fails at its deadline,
  // as it should): the first unit of a few to run is the proof.
  std::int64_t seen = -1;
  for (int attempt = 0; attempt < 10 && seen < 0; ++attempt) {
    pool.run_and_wait(Access::kReadWrite, [&](CounterTx& tx) {
      seen = tx.read("a");
      return domain::Status();
    });
  }
  EXPECT_EQ(seen, 0) << "no unit ran after the timeouts (-1), or the cut unit committed";
}

TEST_F(PoolTest, ProbeWithAShorterTimeoutFailsAtItsOwnDeadlineBehindQueuedUnits) {
  PoolOptions settings = options(1);
  settings.timeout = std::chrono::milliseconds(3000);
  Pool<CounterTx> pool(settings, loop_.post());
  auto locker = connect(url_);
  locker->exec("BEGIN; LOCK TABLE counters IN ACCESS EXCLUSIVE MODE");

  // The only connection waits for the lock; two more units queue behind it with the pool's
  // deadline, so the watchdog sleeps until theirs.
  std::vector<std::promise<domain::Status>> slow(3);
  for (auto& outcome : slow) {
    pool.run(
        Access::kReadWrite,
        [](CounterTx& tx) {
          tx.add_one("a");
          return domain::Status();
        },
        [&outcome](domain::Status status) { outcome.set_value(status); });
  }
  // Once the first unit waits for the lock, the watchdog has long gone to sleep.
  auto observer = connect(url_);
  auto until = Clock::now() + std::chrono::seconds(2);
  while (observer
             ->query_once("SELECT count(*) FROM pg_locks WHERE relation = 'counters'::regclass "
                          "AND NOT granted")
             .int64(0, 0) == 0) {
    ASSERT_LT(Clock::now(), until) << "the first unit never waited for the lock";
  }
  auto started = Clock::now();
  std::promise<domain::Status> probe;
  std::atomic<bool> probe_ran{false};
  pool.run(
      Access::kReadOnly, ConnectionPool::kProbes, std::chrono::milliseconds(300),
      [&](CounterTx&) {
        probe_ran = true;
        return domain::Status();
      },
      [&](domain::Status status) { probe.set_value(status); });
  domain::Status probe_status = probe.get_future().get();
  auto waited = Clock::now() - started;
  locker->exec("ROLLBACK");
  for (auto& outcome : slow) outcome.get_future().get();

  ASSERT_FALSE(probe_status.ok());
  EXPECT_EQ(probe_status.error().code, domain::ErrorCode::kUnavailable);
  EXPECT_FALSE(probe_ran);
  EXPECT_GE(waited, std::chrono::milliseconds(300));
  EXPECT_LT(waited, std::chrono::milliseconds(1000));  // not the queued units' 3 s
}

TEST_F(PoolTest, UnreachableDatabaseIsUnavailableWithoutWaitingForTheTimeout) {
  PoolOptions settings = options(1);
  settings.url = "postgresql://u:p@127.0.0.1:1/db";
  Pool<CounterTx> pool(settings, loop_.post());
  auto started = Clock::now();
  int attempts = 0;
  domain::Status status = pool.run_and_wait(Access::kReadWrite, [&](CounterTx&) {
    ++attempts;
    return domain::Status();
  });
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, domain::ErrorCode::kUnavailable);
  EXPECT_EQ(attempts, 0);
  EXPECT_LT(Clock::now() - started, std::chrono::seconds(1));
}

TEST_F(PoolTest, UnitThatSendsNothingOpensNoTransaction) {
  Pool<CounterTx> pool(options(1), loop_.post());
  EXPECT_TRUE(
      pool.run_and_wait(Access::kReadWrite, [](CounterTx&) { return domain::Status(); }).ok());
  EXPECT_EQ(pool.stats().commits, 0u);
  EXPECT_EQ(pool.stats().units, 1u);
}

}  // namespace
}  // namespace invited::store::postgres
