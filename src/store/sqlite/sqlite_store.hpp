#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "domain/store.hpp"
#include "store/sqlite/fair_queue.hpp"

struct sqlite3;

namespace invited::store::sqlite {

class Connection;
class Transaction;

// Counters for /metrics and the group-commit benchmark. Monotonic since start.
struct WriterStats {
  std::uint64_t units = 0;    // write units run
  std::uint64_t commits = 0;  // transactions committed (one per group)
};

// domain::Store on one SQLite file.
//
// Writes: one writer thread owns the only read-write connection. Units queue up while the
// previous group commits; the writer then runs every queued unit (up to `max_group`) inside one
// transaction, commits once with a durable fsync (WAL, synchronous=FULL), and only then
// completes every unit of the group. A unit that fails rolls back alone: the group is first run
// without savepoints and, only if some unit failed, run again with a SAVEPOINT per unit. The
// group size follows the load: one unit when idle, hundreds under pressure.
//
// Checkpoints: the WAL is copied back into the database file by a thread of its own (PASSIVE
// checkpoints once the WAL holds 1000 pages), not inside the writer's commit as SQLite's
// auto-checkpoint would, so commits never wait for it.
//
// Reads: `readers` threads, each with its own read-only connection; every read unit runs in one
// snapshot. Reads queue fairly (FairQueue): organizations take turns, and the reads of one
// organization (read_for) hold at most `readers - 1` connections at once (at least 1), so one
// tenant's long lists leave a reader for everyone else. Completions are handed to `post`, which
// the owner points at its event loop.
//
// Thread-safe. The destructor finishes every queued unit before it returns.
class SqliteStore final : public domain::Store {
 public:
  using Post = std::function<void(std::function<void()>)>;

  struct Options {
    std::string path;
    int readers = 2;
    std::size_t max_group = 512;
    std::size_t max_queued = 20000;  // beyond this, units are refused as kUnavailable
  };

  // Opens the file and applies pending migrations. Throws StoreError if it cannot.
  SqliteStore(Options options, Post post);
  ~SqliteStore() override;

  void write(domain::WriteWork work, domain::Completion done) override;
  void read(domain::ReadWork work, domain::Completion done) override;
  void read_for(domain::Pk tenant, domain::ReadWork work, domain::Completion done) override;
  domain::Status write_and_wait(domain::WriteWork work) override;
  domain::Status read_and_wait(domain::ReadWork work) override;
  void check_ready(domain::Completion done) override;

  // Called on the writer thread after a commit that queued an email.
  void on_email_queued(std::function<void()> listener);

  WriterStats writer_stats() const;

 private:
  struct WriteUnit {
    domain::WriteWork work;
    domain::Completion done;
    bool direct = false;  // run `done` on the store's thread instead of posting it
  };
  struct ReadUnit {
    domain::ReadWork work;
    domain::Completion done;
    bool direct = false;
  };

  // Queues `unit`, or completes it at once with kUnavailable when stopping or full.
  template <typename Unit>
  void enqueue(std::mutex& mutex, std::condition_variable& ready, std::deque<Unit>& queue,
               Unit unit);
  void enqueue_write(WriteUnit unit);
  void enqueue_read(ReadUnit unit, FairQueue<ReadUnit>::Tenant tenant);

  void writer_loop();
  void checkpoint_loop();
  // SQLite's WAL hook: runs on the writer after each commit with the WAL's size in pages.
  static int on_wal_commit(void* self, ::sqlite3* db, const char* name, int pages);
  // Runs `group` in one transaction and commits it. Without `savepoints`, the first failing
  // unit rolls everything back and false is returned; with them, a failing unit rolls back
  // alone. Throws StoreError when storage fails.
  bool run_group(Transaction& tx, std::vector<WriteUnit>& group,
                 std::vector<domain::Status>& statuses, bool savepoints);
  void reader_loop(int index);
  void complete(domain::Completion done, domain::Status status, bool direct);

  Options options_;
  Post post_;
  std::unique_ptr<Connection> writer_db_;
  std::unique_ptr<Connection> checkpoint_db_;
  std::vector<std::unique_ptr<Connection>> reader_dbs_;
  std::function<void()> email_listener_;

  std::mutex write_mutex_;
  std::condition_variable write_ready_;
  std::deque<WriteUnit> write_queue_;
  std::mutex read_mutex_;
  std::condition_variable read_ready_;
  FairQueue<ReadUnit> read_queue_;
  bool stopping_ = false;  // guarded by both mutexes when set
  std::mutex checkpoint_mutex_;
  std::condition_variable checkpoint_ready_;
  bool checkpoint_due_ = false;
  bool checkpointer_stopping_ = false;

  std::atomic<std::uint64_t> units_{0};
  std::atomic<std::uint64_t> commits_{0};

  std::thread writer_;
  std::thread checkpointer_;
  std::vector<std::thread> readers_;
};

}  // namespace invited::store::sqlite
