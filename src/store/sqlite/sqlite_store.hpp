#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "metrics/duration_histogram.hpp"
#include "store/fair_queue.hpp"
#include "store/service_store.hpp"

struct sqlite3;

namespace invited::store::sqlite {

class Connection;
class Transaction;

// domain::Store on one SQLite file.
//
// Writes: one writer thread owns the only read-write connection. Units queue up while the
// previous group commits; the writer then runs every queued unit (up to `max_group`) inside one
// transaction and commits once. A unit that fails rolls back alone: the group is first run
// without savepoints and, only if some unit failed, run again with a SAVEPOINT per unit (and so
// are the units added to that group afterwards). The group size follows the load: one unit when
// idle, hundreds under pressure.
//
// Durability beside the writer (`sync_beside_writer`, the default): the writer commits without
// waiting for the disk (synchronous=NORMAL) and hands the group to a syncer thread, which makes
// the WAL durable (fdatasync) and only then completes the group's units; one sync covers every
// group committed before it. Meanwhile the writer already runs the next group, and while a
// sync is still under way it keeps adding newly queued units to its open transaction instead of
// committing (the commit could not become durable sooner), so the disk's wait and the writer's
// work overlap and a group spans one sync. No unit is answered before its writes are on disk.
// Another connection may read a committed group for up to one sync before it is durable; an
// operating-system crash or power loss in that window loses it (its units were not answered).
// A failed sync completes the units waiting on it with kUnavailable. Without
// `sync_beside_writer`, each commit waits for its fsync (synchronous=FULL) on the writer.
//
// Storage failures: a transient one (is_transient_failure: the lock held by another process
// for `lock_timeout` counted from the oldest unit's arrival, a full disk, a read-only file, an
// I/O error) rolls the whole group back and completes every unit with kUnavailable; any other
// failure of the transaction completes them with kInternal. Nothing of a failed group is kept.
//
// The WAL stays bounded: each time it grows by 1/32 of `wal_restart_bytes`, and after every
// commit in the last such step before the threshold, a copier thread copies it into the database
// file (PASSIVE, beside the writer) and syncs that file; once a commit leaves more than
// `wal_restart_bytes` in the log, the writer checkpoints the rest (SQLITE_CHECKPOINT_RESTART: the
// last group or two, and one sync) before it takes the next group, so the next commit writes from
// the start of the file again, and journal_size_limit truncates the file back to that size. If
// the copier is copying at that moment, the writer lets it finish and tries after its next group,
// unless the log has grown by another eighth of the threshold; then it waits for the copier. The
// log therefore peaks at 9/8 of `wal_restart_bytes` plus one group's pages, unless another
// process keeps a read transaction open across the restart. stats() reports each restart's stall.
//
// Readiness (check_ready): the outcome of the last write, a write that has waited more than
// `stall_limit` (locked), and the last checkpoint; while idle the writer makes a small probe
// write every `probe_interval`, so readiness follows the store without traffic.
//
// Reads: `readers` threads, each with its own read-only connection; every read unit runs in one
// snapshot. Reads queue fairly (FairQueue): organizations take turns, and the reads of one
// organization (read_for) hold at most `readers - 1` connections at once (at least 1), so one
// tenant's long lists leave a reader for everyone else. Completions are handed to `post`, which
// the owner points at its event loop.
//
// Thread-safe. The destructor finishes every queued unit before it returns.
class SqliteStore final : public ServiceStore {
 public:
  using Post = store::Post;

  struct Options {
    std::string path;
    int readers = 2;
    std::size_t max_group = 512;
    std::size_t max_queued = 20000;  // beyond this, units are refused as kUnavailable
    // How long a write waits for the database's write lock when another process holds it.
    std::chrono::milliseconds lock_timeout{5000};
    // The WAL's restart threshold and the size its file is truncated back to. 192 MiB: the
    // largest whose bound (9/8 of it plus one group) stays under the 256 MiB of
    // docs/architecture.md; each restart stalls the writer, so the fewer the better.
    std::int64_t wal_restart_bytes = std::int64_t{192} << 20;
    // Each time the WAL grows by 1/32 of wal_restart_bytes (6 MiB by default), and after every
    // commit in the last such step, a thread of its own copies it into the database file
    // (PASSIVE, beside the writer) and syncs that file, so that the writer's RESTART has little
    // left to copy and sync. False: the writer copies everything itself.
    bool wal_copier = true;
    // An idle writer probes this often; zero: never.
    std::chrono::milliseconds probe_interval{1000};
    // A write (or probe) that has waited this long makes the store not ready.
    std::chrono::milliseconds stall_limit{1000};
    // Commits do not wait for the disk on the writer: a syncer thread makes them durable
    // before their units complete (see above). False: synchronous=FULL commits on the writer.
    bool sync_beside_writer = true;
  };

  // Opens the file and applies pending migrations. Throws StoreError if it cannot.
  SqliteStore(Options options, Post post);
  ~SqliteStore() override;

  void write(domain::WriteWork work, domain::Completion done) override;
  void read(domain::ReadWork work, domain::Completion done) override;
  void read_for(domain::Pk tenant, domain::ReadWork work, domain::Completion done) override;
  domain::Status write_and_wait(domain::WriteWork work) override;
  domain::Status read_and_wait(domain::ReadWork work) override;
  // Not ready while the last write or checkpoint failed or a write is stuck waiting; otherwise
  // checks on a reader that the schema is at this binary's version.
  void check_ready(domain::Completion done) override;

  // Called on the writer thread (on the syncer, with sync_beside_writer: once the commit is on
  // disk) after a commit that queued an email.
  void on_email_queued(std::function<void()> listener) override;

  // Units run and commits made by the writer (one commit per group), the latency of every unit
  // (refused ones included) and the stall of each WAL restart.
  StoreStats stats() const override;

  // One process serves the file, and it forgets the keys it revokes: nothing to hear.
  std::unique_ptr<Subscription> watch_key_revocations(KeyRevokedListener listener) override;

 private:
  using Clock = std::chrono::steady_clock;

  struct WriteUnit {
    domain::WriteWork work;
    domain::Completion done;
    bool direct = false;  // run `done` on the store's thread instead of posting it
    Clock::time_point queued_at;
  };
  struct ReadUnit {
    domain::ReadWork work;
    domain::Completion done;
    bool direct = false;
    Clock::time_point queued_at;
  };

  // Queues `unit`, or completes it at once with kUnavailable when stopping or full.
  template <typename Unit>
  void enqueue(std::mutex& mutex, std::condition_variable& ready, std::deque<Unit>& queue,
               Unit unit);
  void enqueue_write(WriteUnit unit);
  void enqueue_read(ReadUnit unit, FairQueue<ReadUnit>::Tenant tenant);

  // A committed group waiting for its sync (sync_beside_writer).
  struct CommittedGroup {
    std::vector<WriteUnit> units;
    std::vector<domain::Status> statuses;
    std::function<void()> listener;  // set when the group queued an email
  };

  void writer_loop();
  // Runs one group of units in one transaction, commits it, and completes its units (or hands
  // them to the syncer). `group` and `statuses` are left empty for reuse.
  void run_write_group(Transaction& tx, std::vector<WriteUnit>& group,
                       std::vector<domain::Status>& statuses,
                       const std::function<void()>& listener);
  // Runs group[from..] inside the open transaction. Without `savepoints`, a failing unit rolls
  // the whole transaction back, opens a new one and reruns the group from its first unit with a
  // SAVEPOINT per unit (and sets `savepoints`); with them, a failing unit rolls back alone.
  // Throws StoreError when storage fails.
  void run_units(Transaction& tx, std::vector<WriteUnit>& group,
                 std::vector<domain::Status>& statuses, std::size_t from, bool& savepoints);
  // While a sync is under way and the group has room: waits for newly queued units and moves
  // them into `group`; false once the syncer is idle (commit now), or when stopping.
  bool take_more_while_syncing(std::vector<WriteUnit>& group);
  // The syncer thread: makes committed groups durable, then completes their units.
  void syncer_loop();
  // fdatasync of the WAL file; the reason when it failed, else empty.
  std::string sync_wal();
  // The idle writer's probe: one small write, recorded as the last write's outcome.
  void probe();
  // The writer connection's settings: journal_size_limit, WAL hook, busy handler.
  void configure_writer();
  // Replaces `db` with a new read-write connection if `db` was opened read-only (the file was
  // not writable then) and the file is writable now; true if it did.
  bool reopen_if_writable(std::unique_ptr<Connection>& db);
  // After a write that failed because the file is read-only: tries (at most twice a second) to
  // reopen the writer's connection, and rebuilds `tx` on whichever connection it then has; true
  // if the writer now has a writable connection.
  bool after_write_failure(std::unique_ptr<Transaction>& tx);
  // Checkpoints and restarts the WAL when it has passed wal_restart_bytes; between restarts,
  // asks the copier for a PASSIVE checkpoint every 1/32 of that (every commit in the last 1/32).
  void keep_wal_bounded();
  // The copier thread: PASSIVE checkpoints on its own connection when asked, each followed by
  // an fdatasync of the database file.
  void copier_loop();
  void sync_database_file();
  void rollback_quietly();
  // SQLite's WAL hook: runs on the writer after each commit with the WAL's size in pages.
  static int on_wal_commit(void* self, ::sqlite3* db, const char* name, int pages);
  // SQLite's busy handler on the writer's connection: waits for the lock until lock_deadline_.
  static int on_busy(void* self, int attempts);

  // Readiness, written by the writer thread and read by check_ready.
  void set_write_problem(std::string problem);
  void set_checkpoint_problem(std::string problem);
  std::string readiness_problem() const;

  void reader_loop(int index);
  void complete(domain::Completion done, domain::Status status, bool direct);

  Options options_;
  Post post_;
  std::unique_ptr<Connection> writer_db_;
  std::vector<std::unique_ptr<Connection>> reader_dbs_;
  std::function<void()> email_listener_;

  std::mutex write_mutex_;
  std::condition_variable write_ready_;
  std::deque<WriteUnit> write_queue_;
  std::mutex read_mutex_;
  std::condition_variable read_ready_;
  FairQueue<ReadUnit> read_queue_;
  bool stopping_ = false;  // guarded by both mutexes when set

  // The writer thread's own state.
  Clock::time_point lock_deadline_;
  int wal_pages_ = 0;  // frames in the WAL after the last commit
  int wal_restart_pages_ = 0;
  int wal_force_pages_ = 0;     // past this, the writer waits for the copier to restart the log
  int wal_catch_up_pages_ = 0;  // past this, the copier copies after every commit
  Clock::time_point next_checkpoint_;
  int checkpoints_postponed_ = 0;   // RESTART checkpoints in a row that readers kept waiting
  bool read_only_failure_ = false;  // the last write failed with SQLITE_READONLY
  Clock::time_point next_reopen_;
  int wal_copy_step_pages_ = 0;
  int next_copy_pages_ = 0;  // ask the copier once the WAL reaches this

  // Held by whoever checkpoints (the writer's RESTART, the copier's PASSIVE): SQLite lets one
  // connection checkpoint at a time and answers any other SQLITE_BUSY at once.
  std::mutex checkpoint_mutex_;
  std::unique_ptr<Connection> copier_db_;
  std::mutex copier_mutex_;
  std::condition_variable copier_ready_;
  bool copy_due_ = false;
  bool copier_stopping_ = false;
  Clock::time_point next_copier_reopen_;  // copier thread only
  std::thread copier_;

  mutable std::mutex health_mutex_;
  std::string write_problem_;       // why the last write failed; empty when it succeeded
  std::string checkpoint_problem_;  // why the last checkpoint failed; empty when it succeeded
  std::atomic<std::int64_t> writing_since_ms_{0};  // steady-clock ms a write began; 0 when none

  // The syncer's state (sync_beside_writer).
  std::mutex sync_mutex_;
  std::condition_variable sync_ready_;
  std::vector<CommittedGroup> sync_queue_;
  bool sync_stopping_ = false;
  // Groups committed and not yet synced; the writer extends its group while this is not zero.
  // Lowered by the syncer before it notifies write_ready_ under write_mutex_.
  std::atomic<int> unsynced_groups_{0};
  int wal_fd_ = -1;           // the WAL file, opened by the syncer at its first sync
  std::string sync_problem_;  // why the last sync failed; empty when it succeeded (health_mutex_)
  std::atomic<std::int64_t> syncing_since_ms_{0};  // steady-clock ms a sync began; 0 when none
  std::thread syncer_;

  std::atomic<std::uint64_t> units_{0};
  std::atomic<std::uint64_t> commits_{0};
  metrics::DurationHistogram write_latency_;  // a unit's arrival to its completion
  metrics::DurationHistogram read_latency_;   // the same for read units
  // Each RESTART attempt on the writer, lock wait included.
  metrics::DurationHistogram wal_restart_stalls_;

  std::thread writer_;
  std::vector<std::thread> readers_;
};

}  // namespace invited::store::sqlite
