#include "store/sqlite/sqlite_store.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <future>
#include <optional>
#include <utility>

#include "log/log.hpp"
#include "store/sqlite/connection.hpp"
#include "store/sqlite/schema.hpp"
#include "store/sqlite/transaction.hpp"

namespace invited::store::sqlite {
namespace {

domain::Status internal_error() {
  return domain::Error{domain::ErrorCode::kInternal, "the database failed"};
}

domain::Status overloaded() {
  return domain::Error{domain::ErrorCode::kUnavailable, "the service is overloaded; retry shortly"};
}

domain::Status shutting_down() {
  return domain::Error{domain::ErrorCode::kUnavailable, "the service is shutting down"};
}

// Runs one unit. A transient storage failure is the storage's, not the unit's: it is thrown on,
// so that the caller gives up the whole transaction (SQLite may already have rolled it back).
// Anything else the unit throws is a bug that fails this unit alone as kInternal.
template <typename Work, typename Tx>
domain::Status run_unit(Work& work, Tx& tx) {
  try {
    return work(tx);
  } catch (const StoreError& error) {
    if (error.transient()) throw;
    log::error("unit of work failed", {{"error", error.what()}});
    return internal_error();
  } catch (const std::exception& error) {
    log::error("unit of work failed", {{"error", error.what()}});
    return internal_error();
  }
}

std::int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

constexpr const char* kBegin = "BEGIN IMMEDIATE";
constexpr const char* kBeginRead = "BEGIN";
constexpr const char* kCommit = "COMMIT";
constexpr const char* kRollback = "ROLLBACK";
constexpr const char* kSavepoint = "SAVEPOINT unit";
constexpr const char* kRelease = "RELEASE unit";
constexpr const char* kRollbackTo = "ROLLBACK TO unit";
constexpr const char* kProbe =
    "UPDATE write_probe SET probes = probes + 1, written_at = ?1 WHERE id = 1";

// How long a checkpoint waits for readers (and for another process's write lock) before it
// gives up this time; it is tried again kCheckpointRetry later (longer if it keeps failing).
constexpr std::chrono::milliseconds kCheckpointWait{100};
constexpr std::chrono::milliseconds kCheckpointRetry{100};
// The copier copies the WAL each time it grows by 1/kCopiesPerRestart of the restart threshold,
// and after every commit in the last such step before it, so that the writer's restart finds at
// most a group or two left to copy.
constexpr int kCopiesPerRestart = 32;
// Past the threshold the writer restarts the log as soon as the copier is not copying; once the
// log has grown by another 1/kForceAfterEighths of it meanwhile, it waits for the copier.
constexpr int kForceAfterEighths = 8;

}  // namespace

SqliteStore::SqliteStore(Options options, Post post)
    : options_(std::move(options)),
      post_(std::move(post)),
      read_queue_(static_cast<std::size_t>(std::max(1, options_.readers - 1))) {
  writer_db_ = std::make_unique<Connection>(options_.path, Connection::Mode::kReadWrite);
  migrate(*writer_db_);
  int page_size = 4096;
  {
    static constexpr const char* kPageSize = "PRAGMA page_size";
    auto row = writer_db_->query(kPageSize);
    if (row.step()) page_size = static_cast<int>(row.int64(0));
  }
  wal_restart_pages_ = static_cast<int>(
      std::max<std::int64_t>(1, options_.wal_restart_bytes / std::max(page_size, 512)));
  wal_copy_step_pages_ =
      options_.wal_copier ? std::max(1, wal_restart_pages_ / kCopiesPerRestart) : 0;
  wal_catch_up_pages_ = wal_restart_pages_ - wal_copy_step_pages_;
  wal_force_pages_ = wal_restart_pages_ + std::max(1, wal_restart_pages_ / kForceAfterEighths);
  next_copy_pages_ = wal_copy_step_pages_;
  configure_writer();
  for (int i = 0; i < options_.readers; ++i) {
    reader_dbs_.push_back(std::make_unique<Connection>(options_.path, Connection::Mode::kReadOnly));
  }
  if (wal_copy_step_pages_ > 0) {
    copier_db_ = std::make_unique<Connection>(options_.path, Connection::Mode::kReadWrite);
    copier_ = std::thread([this] { copier_loop(); });
  }
  if (options_.sync_beside_writer) syncer_ = std::thread([this] { syncer_loop(); });
  writer_ = std::thread([this] { writer_loop(); });
  for (int i = 0; i < options_.readers; ++i) readers_.emplace_back([this, i] { reader_loop(i); });
}

SqliteStore::~SqliteStore() {
  {
    std::scoped_lock lock(write_mutex_, read_mutex_);
    stopping_ = true;
  }
  write_ready_.notify_all();
  read_ready_.notify_all();
  writer_.join();
  if (syncer_.joinable()) {
    {
      std::lock_guard lock(sync_mutex_);
      sync_stopping_ = true;
    }
    sync_ready_.notify_all();
    syncer_.join();  // after it has completed every group the writer handed it
  }
  if (wal_fd_ >= 0) ::close(wal_fd_);
  for (auto& reader : readers_) reader.join();
  if (copier_.joinable()) {
    {
      std::lock_guard lock(copier_mutex_);
      copier_stopping_ = true;
    }
    copier_ready_.notify_all();
    copier_.join();
  }
}

void SqliteStore::copier_loop() {
  int copied_before = 0;  // frames of the log copied when the previous pass ended
  for (;;) {
    {
      std::unique_lock lock(copier_mutex_);
      copier_ready_.wait(lock, [this] { return copier_stopping_ || copy_due_; });
      if (copier_stopping_) return;
      copy_due_ = false;
    }
    std::lock_guard checkpoint(checkpoint_mutex_);
    auto now = Clock::now();
    if (now >= next_copier_reopen_) {
      next_copier_reopen_ = now + std::chrono::seconds(1);
      reopen_if_writable(copier_db_);
    }
    // PASSIVE: copies what no reader still needs, never waits, never blocks the writer. A
    // failure here shows again in the writer's RESTART, which reports it.
    int log_pages = 0;
    int copied = 0;
    int code = sqlite3_wal_checkpoint_v2(copier_db_->handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE,
                                         &log_pages, &copied);
    // SQLite syncs the database file only when a checkpoint reaches the end of the log, which a
    // writer committing every few milliseconds rarely lets it do: the copied pages would then
    // wait in the page cache for the writer's RESTART to sync them all at once, with every
    // request waiting behind it. Syncing them here keeps what the restart syncs to its own
    // remainder. (Only a cost when SQLite has just synced it: one flush of a clean file.)
    // (A restart of the log in between starts the count again from zero.)
    if (code == SQLITE_OK && copied > 0 && copied != copied_before) sync_database_file();
    copied_before = copied;
  }
}

void SqliteStore::sync_database_file() {
  // Through the copier connection's own file handle: a descriptor of our own on the database
  // file would drop the process's POSIX locks on it when closed (every connection's SHARED
  // lock), letting another process think it was the last one and take the log away.
  sqlite3_file* file = nullptr;
  if (sqlite3_file_control(copier_db_->handle(), "main", SQLITE_FCNTL_FILE_POINTER, &file) !=
          SQLITE_OK ||
      file == nullptr || file->pMethods == nullptr) {
    return;
  }
  // A failure shows again in the writer's RESTART, which reports it.
  file->pMethods->xSync(file, SQLITE_SYNC_NORMAL | SQLITE_SYNC_DATAONLY);
}

int SqliteStore::on_wal_commit(void* self, ::sqlite3*, const char*, int pages) {
  static_cast<SqliteStore*>(self)->wal_pages_ = pages;
  return SQLITE_OK;
}

int SqliteStore::on_busy(void* self, int attempts) {
  // The delays of SQLite's own busy timeout: short at first, 100 ms at most.
  static constexpr int kDelaysMs[] = {1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100};
  constexpr int kSteps = static_cast<int>(std::size(kDelaysMs));
  auto* store = static_cast<SqliteStore*>(self);
  auto now = Clock::now();
  if (now >= store->lock_deadline_) return 0;
  std::chrono::milliseconds delay(kDelaysMs[std::min(attempts, kSteps - 1)]);
  std::this_thread::sleep_for(std::min<Clock::duration>(delay, store->lock_deadline_ - now));
  return 1;
}

void SqliteStore::on_email_queued(std::function<void()> listener) {
  std::lock_guard lock(write_mutex_);
  email_listener_ = std::move(listener);
}

StoreStats SqliteStore::stats() const {
  return {.units = units_.load(),
          .commits = commits_.load(),
          .write_latency = write_latency_.snapshot(),
          .wal_restart_stalls = wal_restart_stalls_.snapshot()};
}

std::unique_ptr<Subscription> SqliteStore::watch_key_revocations(KeyRevokedListener) {
  return std::make_unique<Subscription>();
}

void SqliteStore::complete(domain::Completion done, domain::Status status, bool direct) {
  if (direct) return done(status);
  post_([done = std::move(done), status = std::move(status)]() { done(status); });
}

template <typename Unit>
void SqliteStore::enqueue(std::mutex& mutex, std::condition_variable& ready,
                          std::deque<Unit>& queue, Unit unit) {
  domain::Status refusal;
  {
    std::lock_guard lock(mutex);
    if (!stopping_ && queue.size() < options_.max_queued) {
      queue.push_back(std::move(unit));
      ready.notify_one();
      return;
    }
    refusal = stopping_ ? shutting_down() : overloaded();
  }
  complete(std::move(unit.done), refusal, unit.direct);
}

void SqliteStore::enqueue_write(WriteUnit unit) {
  unit.queued_at = Clock::now();
  enqueue(write_mutex_, write_ready_, write_queue_, std::move(unit));
}

void SqliteStore::enqueue_read(ReadUnit unit, FairQueue<ReadUnit>::Tenant tenant) {
  domain::Status refusal;
  {
    std::lock_guard lock(read_mutex_);
    if (!stopping_ && read_queue_.size() < options_.max_queued) {
      read_queue_.push(tenant, std::move(unit));
      read_ready_.notify_one();
      return;
    }
    refusal = stopping_ ? shutting_down() : overloaded();
  }
  complete(std::move(unit.done), refusal, unit.direct);
}

void SqliteStore::write(domain::WriteWork work, domain::Completion done) {
  enqueue_write({std::move(work), std::move(done), false, {}});
}

void SqliteStore::read(domain::ReadWork work, domain::Completion done) {
  enqueue_read({std::move(work), std::move(done), false}, FairQueue<ReadUnit>::kShared);
}

void SqliteStore::read_for(domain::Pk tenant, domain::ReadWork work, domain::Completion done) {
  enqueue_read({std::move(work), std::move(done), false}, tenant);
}

domain::Status SqliteStore::write_and_wait(domain::WriteWork work) {
  std::promise<domain::Status> outcome;
  enqueue_write({std::move(work),
                 [&outcome](domain::Status status) { outcome.set_value(status); },
                 true,
                 {}});
  return outcome.get_future().get();
}

domain::Status SqliteStore::read_and_wait(domain::ReadWork work) {
  std::promise<domain::Status> outcome;
  enqueue_read(
      {std::move(work), [&outcome](domain::Status status) { outcome.set_value(status); }, true},
      FairQueue<ReadUnit>::kShared);
  return outcome.get_future().get();
}

void SqliteStore::set_write_problem(std::string problem) {
  std::lock_guard lock(health_mutex_);
  if (problem.empty() && !write_problem_.empty()) log::info("database writes succeed again");
  if (!problem.empty() && write_problem_.empty()) {
    log::error("database writes fail: not ready", {{"error", problem}});
  }
  write_problem_ = std::move(problem);
}

void SqliteStore::set_checkpoint_problem(std::string problem) {
  std::lock_guard lock(health_mutex_);
  if (problem.empty() && !checkpoint_problem_.empty()) log::info("WAL checkpoints succeed again");
  if (!problem.empty() && checkpoint_problem_.empty()) {
    log::error("WAL checkpoints fail: not ready", {{"error", problem}});
  }
  checkpoint_problem_ = std::move(problem);
}

std::string SqliteStore::readiness_problem() const {
  std::int64_t since = writing_since_ms_.load(std::memory_order_relaxed);
  if (since != 0) {
    std::int64_t waited = steady_ms() - since;
    if (waited >= options_.stall_limit.count()) {
      return "a write has waited " + std::to_string(waited) +
             " ms for the database (locked by another process?)";
    }
  }
  since = syncing_since_ms_.load(std::memory_order_relaxed);
  if (since != 0) {
    std::int64_t waited = steady_ms() - since;
    if (waited >= options_.stall_limit.count()) {
      return "a sync of the WAL to disk has taken " + std::to_string(waited) + " ms";
    }
  }
  std::lock_guard lock(health_mutex_);
  if (!write_problem_.empty()) return "the last write failed: " + write_problem_;
  if (!sync_problem_.empty()) return "the last sync of the WAL failed: " + sync_problem_;
  if (!checkpoint_problem_.empty()) return "the last WAL checkpoint failed: " + checkpoint_problem_;
  return {};
}

void SqliteStore::check_ready(domain::Completion done) {
  if (std::string problem = readiness_problem(); !problem.empty()) {
    return complete(std::move(done), domain::Error{domain::ErrorCode::kUnavailable, problem},
                    false);
  }
  // Runs on a reader: it sees what every request sees, and the event loop never waits on disk.
  read(
      [](domain::ReadTx& tx) -> domain::Status {
        auto& connection = static_cast<Transaction&>(tx).connection();
        // A newer binary's `invited migrate` may have run beside this server: still ready while
        // everything it added is compatible.
        const int latest = latest_schema_version();
        if (auto problem = schema_readiness_problem(schema_version(connection), latest, [&] {
              return migrations_above(connection, latest);
            })) {
          return domain::Error{domain::ErrorCode::kUnavailable, *problem};
        }
        return {};
      },
      std::move(done));
}

void SqliteStore::rollback_quietly() {
  try {
    writer_db_->query(kRollback).execute();
  } catch (const StoreError&) {
    // No transaction was open (BEGIN failed, or SQLite rolled back after the failure).
  }
}

void SqliteStore::run_units(Transaction& tx, std::vector<WriteUnit>& group,
                            std::vector<domain::Status>& statuses, std::size_t from,
                            bool& savepoints) {
  Connection& db = tx.connection();
  statuses.resize(group.size());
  for (std::size_t i = from; i < group.size(); ++i) {
    if (savepoints) db.query(kSavepoint).execute();
    statuses[i] = run_unit(group[i].work, tx);
    if (!statuses[i].ok()) {
      if (!savepoints) {
        // Optimistic run failed: start over with a savepoint per unit, so that this unit rolls
        // back alone. (Units may run more than once: domain/store.hpp.)
        db.query(kRollback).execute();
        db.query(kBegin).execute();
        savepoints = true;
        return run_units(tx, group, statuses, 0, savepoints);
      }
      db.query(kRollbackTo).execute();
    }
    if (savepoints) db.query(kRelease).execute();
  }
}

bool SqliteStore::take_more_while_syncing(std::vector<WriteUnit>& group) {
  std::unique_lock lock(write_mutex_);
  for (;;) {
    if (unsynced_groups_.load() == 0 || stopping_) return false;
    if (!write_queue_.empty()) {
      std::size_t take = std::min(write_queue_.size(), options_.max_group - group.size());
      for (std::size_t i = 0; i < take; ++i) {
        group.push_back(std::move(write_queue_.front()));
        write_queue_.pop_front();
      }
      return true;
    }
    write_ready_.wait(lock);
  }
}

void SqliteStore::run_write_group(Transaction& tx, std::vector<WriteUnit>& group,
                                  std::vector<domain::Status>& statuses,
                                  const std::function<void()>& listener) {
  // The oldest unit decides how long the group may wait for another process's lock.
  lock_deadline_ = group.front().queued_at + options_.lock_timeout;
  writing_since_ms_.store(steady_ms(), std::memory_order_relaxed);
  statuses.clear();
  bool committed = false;
  try {
    // Optimistic first: the usual group has no failing unit, and a savepoint per unit costs
    // the writer about 15 %.
    bool savepoints = false;
    tx.connection().query(kBegin).execute();
    run_units(tx, group, statuses, 0, savepoints);
    if (options_.sync_beside_writer) {
      // The previous commit is still being synced, so this one could not be durable sooner:
      // let the units that arrive meanwhile join it.
      while (group.size() < options_.max_group) {
        std::size_t from = group.size();
        if (!take_more_while_syncing(group)) break;
        run_units(tx, group, statuses, from, savepoints);
      }
    }
    tx.connection().query(kCommit).execute();
    committed = true;
    set_write_problem({});
  } catch (const StoreError& error) {
    log::error("write group failed", {{"units", group.size()}, {"error", error.what()}});
    rollback_quietly();
    read_only_failure_ = (error.code() & 0xff) == SQLITE_READONLY;
    domain::Error failure = storage_error(error.code());
    statuses.assign(group.size(), failure);
    set_write_problem(error.what());
  } catch (const std::exception& error) {
    log::error("write group failed", {{"units", group.size()}, {"error", error.what()}});
    rollback_quietly();
    statuses.assign(group.size(), internal_error());
    set_write_problem(error.what());
  }
  writing_since_ms_.store(0, std::memory_order_relaxed);
  units_.fetch_add(group.size(), std::memory_order_relaxed);
  if (committed) commits_.fetch_add(1, std::memory_order_relaxed);
  bool email_queued = tx.take_email_enqueued();
  if (committed && options_.sync_beside_writer) {
    // Completed by the syncer once the WAL is on disk.
    unsynced_groups_.fetch_add(1);
    {
      std::lock_guard lock(sync_mutex_);
      sync_queue_.push_back(CommittedGroup{std::move(group), std::move(statuses),
                                           email_queued ? listener : std::function<void()>()});
    }
    sync_ready_.notify_one();
  } else {
    for (std::size_t i = 0; i < group.size(); ++i) {
      write_latency_.record(Clock::now() - group[i].queued_at);
      complete(std::move(group[i].done), std::move(statuses[i]), group[i].direct);
    }
    if (committed && email_queued && listener) listener();
  }
  group.clear();
  statuses.clear();
}

std::string SqliteStore::sync_wal() {
  if (wal_fd_ < 0) {
    std::string wal = options_.path + "-wal";
    wal_fd_ = ::open(wal.c_str(), O_RDWR | O_CLOEXEC);
    if (wal_fd_ < 0) return "open " + wal + ": " + std::strerror(errno);
    // SQLite syncs the folder when it creates the WAL only in synchronous=FULL: do it once here,
    // so that the file itself survives a crash.
    auto folder = std::filesystem::path(options_.path).parent_path();
    int dir = ::open(folder.empty() ? "." : folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir >= 0) {
      ::fsync(dir);
      ::close(dir);
    }
  }
  if (::fdatasync(wal_fd_) != 0)
    return std::string("fdatasync of the WAL: ") + std::strerror(errno);
  return {};
}

void SqliteStore::syncer_loop() {
  std::vector<CommittedGroup> batch;
  for (;;) {
    {
      std::unique_lock lock(sync_mutex_);
      sync_ready_.wait(lock, [this] { return sync_stopping_ || !sync_queue_.empty(); });
      if (sync_queue_.empty()) return;  // stopping, and every group handed over is completed
      batch.swap(sync_queue_);
    }
    syncing_since_ms_.store(steady_ms(), std::memory_order_relaxed);
    std::string problem = sync_wal();
    syncing_since_ms_.store(0, std::memory_order_relaxed);
    // The disk is free again: let the writer commit what it has gathered meanwhile.
    unsynced_groups_.fetch_sub(static_cast<int>(batch.size()));
    { std::lock_guard lock(write_mutex_); }
    write_ready_.notify_all();
    {
      std::lock_guard lock(health_mutex_);
      if (problem.empty() && !sync_problem_.empty()) log::info("WAL syncs succeed again");
      if (!problem.empty() && sync_problem_.empty()) {
        log::error("WAL sync failed: not ready", {{"error", problem}});
      }
      sync_problem_ = problem;
    }
    bool email_queued = false;
    for (auto& group : batch) {
      for (std::size_t i = 0; i < group.units.size(); ++i) {
        domain::Status status =
            problem.empty()
                ? std::move(group.statuses[i])
                : domain::Error{domain::ErrorCode::kUnavailable,
                                "the database could not be written to disk; retry in a moment"};
        write_latency_.record(Clock::now() - group.units[i].queued_at);
        complete(std::move(group.units[i].done), std::move(status), group.units[i].direct);
      }
      if (group.listener && problem.empty() && !email_queued) {
        email_queued = true;
        group.listener();
      }
    }
    batch.clear();
  }
}

void SqliteStore::probe() {
  Connection& db = *writer_db_;
  // A quarter of the interval: an idle service notices a lock taken elsewhere within 1.25
  // intervals, and a probe never delays a request that arrives meanwhile by more than that.
  lock_deadline_ = Clock::now() + options_.probe_interval / 4;
  writing_since_ms_.store(steady_ms(), std::memory_order_relaxed);
  try {
    db.query(kBegin).execute();
    db.query(kProbe).bind(1, static_cast<std::int64_t>(std::time(nullptr))).execute();
    db.query(kCommit).execute();
    set_write_problem({});
  } catch (const StoreError& error) {
    rollback_quietly();
    read_only_failure_ = (error.code() & 0xff) == SQLITE_READONLY;
    set_write_problem(error.what());
  }
  writing_since_ms_.store(0, std::memory_order_relaxed);
}

void SqliteStore::keep_wal_bounded() {
  if (wal_pages_ < wal_restart_pages_) {
    if (copier_.joinable() &&
        (wal_pages_ >= next_copy_pages_ || wal_pages_ >= wal_catch_up_pages_)) {
      next_copy_pages_ = wal_pages_ + wal_copy_step_pages_;
      {
        std::lock_guard lock(copier_mutex_);
        copy_due_ = true;
      }
      copier_ready_.notify_one();
    }
    return;
  }
  auto now = Clock::now();
  if (now < next_checkpoint_) return;
  // The copier is copying: let it finish rather than wait for it (the next group tries again),
  // unless the log has grown by another eighth of its threshold meanwhile; then the writer waits.
  // The stall, lock wait included, is what /metrics reports per restart.
  std::unique_lock checkpoint(checkpoint_mutex_, std::defer_lock);
  if (wal_pages_ >= wal_force_pages_) {
    checkpoint.lock();
  } else if (!checkpoint.try_lock()) {
    return;
  }
  // RESTART: copy every frame back into the database file, sync it, and wait (briefly) for
  // readers still using the log, so that the next commit starts the log from its beginning.
  lock_deadline_ = now + kCheckpointWait;
  int log_pages = 0;
  int copied = 0;
  int code = sqlite3_wal_checkpoint_v2(writer_db_->handle(), nullptr, SQLITE_CHECKPOINT_RESTART,
                                       &log_pages, &copied);
  wal_restart_stalls_.record(Clock::now() - now);
  if (code == SQLITE_OK) {
    log::debug(
        "WAL restarted",
        {{"wal_pages", log_pages},
         {"ms",
          static_cast<std::int64_t>(
              std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - now).count())}});
    wal_pages_ = 0;
    next_copy_pages_ = wal_copy_step_pages_;
    checkpoints_postponed_ = 0;
    set_checkpoint_problem({});
    return;
  }
  if ((code & 0xff) == SQLITE_BUSY) {
    // A long read (ours or another process's) still uses the log, or another process holds the
    // write lock: what could be copied was, and the log grows until it lets go. Tried again
    // after 100 ms, 200 ms, ... at most every second, so that a storm of long reads does not
    // stall the writer half of the time.
    if (checkpoints_postponed_ == 0) {
      log::warn("WAL checkpoint postponed: another connection is using the log",
                {{"wal_pages", log_pages}, {"copied_pages", copied}});
    }
    next_checkpoint_ = now + std::min<Clock::duration>(
                                 kCheckpointRetry * (1 << std::min(checkpoints_postponed_, 4)),
                                 std::chrono::seconds(1));
    ++checkpoints_postponed_;
    return;
  }
  next_checkpoint_ = now + kCheckpointRetry;
  set_checkpoint_problem(sqlite3_errmsg(writer_db_->handle()));
}

void SqliteStore::configure_writer() {
  writer_db_->exec("PRAGMA journal_size_limit = " + std::to_string(options_.wal_restart_bytes));
  // The syncer makes each commit durable before its units complete (sync_beside_writer).
  if (options_.sync_beside_writer) writer_db_->exec("PRAGMA synchronous = NORMAL");
  // The hook replaces SQLite's automatic checkpoint: keep_wal_bounded() does it instead.
  sqlite3_wal_hook(writer_db_->handle(), &SqliteStore::on_wal_commit, this);
  sqlite3_busy_handler(writer_db_->handle(), &SqliteStore::on_busy, this);
}

bool SqliteStore::reopen_if_writable(std::unique_ptr<Connection>& db) {
  // SQLite opens a file it may not write read-only, and the handle stays so: only a new one
  // sees that the file became writable.
  if (sqlite3_db_readonly(db->handle(), "main") != 1) return false;
  try {
    auto fresh = std::make_unique<Connection>(options_.path, Connection::Mode::kReadWrite);
    if (sqlite3_db_readonly(fresh->handle(), "main") != 0) return false;
    db = std::move(fresh);
    return true;
  } catch (const StoreError& error) {
    log::debug("the database file is still not writable", {{"error", error.what()}});
    return false;
  }
}

bool SqliteStore::after_write_failure(std::unique_ptr<Transaction>& tx) {
  if (!read_only_failure_) return false;
  read_only_failure_ = false;
  auto now = Clock::now();
  if (now < next_reopen_) return false;
  next_reopen_ = now + std::chrono::milliseconds(500);
  tx.reset();
  bool reopened = reopen_if_writable(writer_db_);
  if (reopened) {
    configure_writer();
    log::info("the database file is writable again: the writer reopened it");
  }
  tx = std::make_unique<Transaction>(*writer_db_);
  return reopened;
}

void SqliteStore::writer_loop() {
  auto tx = std::make_unique<Transaction>(*writer_db_);
  std::vector<WriteUnit> group;
  std::vector<domain::Status> statuses;
  for (;;) {
    std::function<void()> listener;
    {
      std::unique_lock lock(write_mutex_);
      auto has_work = [this] { return stopping_ || !write_queue_.empty(); };
      if (options_.probe_interval.count() <= 0) {
        write_ready_.wait(lock, has_work);
      } else if (!write_ready_.wait_for(lock, options_.probe_interval, has_work)) {
        lock.unlock();
        probe();
        keep_wal_bounded();
        if (after_write_failure(tx)) probe();  // the file became writable: say so at once
        continue;
      }
      if (write_queue_.empty()) return;  // stopping, and everything queued is done
      std::size_t take = std::min(write_queue_.size(), options_.max_group);
      group.clear();
      for (std::size_t i = 0; i < take; ++i) {
        group.push_back(std::move(write_queue_.front()));
        write_queue_.pop_front();
      }
      listener = email_listener_;
    }
    run_write_group(*tx, group, statuses, listener);
    keep_wal_bounded();
    after_write_failure(tx);
  }
}

void SqliteStore::reader_loop(int index) {
  Connection& db = *reader_dbs_[static_cast<std::size_t>(index)];
  Transaction tx(db);
  for (;;) {
    std::optional<std::pair<FairQueue<ReadUnit>::Tenant, ReadUnit>> next;
    {
      std::unique_lock lock(read_mutex_);
      // Units of a tenant at its limit wait for one of its running units to finish. A reader
      // that finishes a unit comes back here and takes the next one itself; another reader is
      // woken only when more can run at once. So a tenant's stream of reads stays on one
      // reader, and the others sleep until another tenant's read arrives (a reader that has
      // slept gets a core at once, one that has just been busy may wait for it).
      read_ready_.wait(lock, [this, &next] {
        if (stopping_ && read_queue_.empty()) return true;
        next = read_queue_.pop();
        return next.has_value();
      });
      if (!next) {
        read_ready_.notify_all();  // stopping, and everything queued is done: so are the others
        return;
      }
      if (read_queue_.has_runnable()) read_ready_.notify_one();
    }
    ReadUnit& unit = next->second;
    domain::Status status;
    try {
      db.query(kBeginRead).execute();
      status = run_unit(unit.work, tx);
      db.query(kCommit).execute();
    } catch (const StoreError& error) {
      log::error("read failed", {{"error", error.what()}});
      try {
        db.query(kRollback).execute();
      } catch (const StoreError&) {
        // No transaction was open; nothing to undo.
      }
      status = storage_error(error.code());
    } catch (const std::exception& error) {
      log::error("read failed", {{"error", error.what()}});
      try {
        db.query(kRollback).execute();
      } catch (const StoreError&) {
        // No transaction was open; nothing to undo.
      }
      status = internal_error();
    }
    {
      std::lock_guard lock(read_mutex_);
      read_queue_.finished(next->first);
    }
    complete(std::move(unit.done), std::move(status), unit.direct);
  }
}

}  // namespace invited::store::sqlite
