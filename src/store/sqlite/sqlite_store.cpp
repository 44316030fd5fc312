#include "store/sqlite/sqlite_store.hpp"

#include <sqlite3.h>

#include <algorithm>
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

// Runs one unit, turning a thrown storage failure into kInternal.
template <typename Work, typename Tx>
domain::Status run_unit(Work& work, Tx& tx) {
  try {
    return work(tx);
  } catch (const std::exception& error) {
    log::error("unit of work failed", {{"error", error.what()}});
    return internal_error();
  }
}

constexpr const char* kBegin = "BEGIN IMMEDIATE";
constexpr const char* kBeginRead = "BEGIN";
constexpr const char* kCommit = "COMMIT";
constexpr const char* kRollback = "ROLLBACK";
constexpr const char* kSavepoint = "SAVEPOINT unit";
constexpr const char* kRelease = "RELEASE unit";
constexpr const char* kRollbackTo = "ROLLBACK TO unit";

}  // namespace

SqliteStore::SqliteStore(Options options, Post post)
    : options_(std::move(options)),
      post_(std::move(post)),
      read_queue_(static_cast<std::size_t>(std::max(1, options_.readers - 1))) {
  writer_db_ = std::make_unique<Connection>(options_.path, Connection::Mode::kReadWrite);
  migrate(*writer_db_);
  checkpoint_db_ = std::make_unique<Connection>(options_.path, Connection::Mode::kReadWrite);
  sqlite3_wal_hook(writer_db_->handle(), &SqliteStore::on_wal_commit, this);
  for (int i = 0; i < options_.readers; ++i) {
    reader_dbs_.push_back(std::make_unique<Connection>(options_.path, Connection::Mode::kReadOnly));
  }
  writer_ = std::thread([this] { writer_loop(); });
  checkpointer_ = std::thread([this] { checkpoint_loop(); });
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
  for (auto& reader : readers_) reader.join();
  {
    std::lock_guard lock(checkpoint_mutex_);
    checkpointer_stopping_ = true;
  }
  checkpoint_ready_.notify_all();
  checkpointer_.join();
}

int SqliteStore::on_wal_commit(void* self, ::sqlite3*, const char*, int pages) {
  constexpr int kCheckpointPages = 1000;
  if (pages >= kCheckpointPages) {
    auto* store = static_cast<SqliteStore*>(self);
    {
      std::lock_guard lock(store->checkpoint_mutex_);
      store->checkpoint_due_ = true;
    }
    store->checkpoint_ready_.notify_one();
  }
  return SQLITE_OK;
}

void SqliteStore::checkpoint_loop() {
  for (;;) {
    {
      std::unique_lock lock(checkpoint_mutex_);
      checkpoint_ready_.wait(lock, [this] { return checkpointer_stopping_ || checkpoint_due_; });
      if (checkpointer_stopping_) return;
      checkpoint_due_ = false;
    }
    int wal_pages = 0;
    int copied = 0;
    int code = sqlite3_wal_checkpoint_v2(checkpoint_db_->handle(), nullptr,
                                         SQLITE_CHECKPOINT_PASSIVE, &wal_pages, &copied);
    if (code != SQLITE_OK && code != SQLITE_BUSY) {
      log::warn("checkpoint failed", {{"error", sqlite3_errstr(code)}});
    }
  }
}

void SqliteStore::on_email_queued(std::function<void()> listener) {
  std::lock_guard lock(write_mutex_);
  email_listener_ = std::move(listener);
}

WriterStats SqliteStore::writer_stats() const { return {units_.load(), commits_.load()}; }

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
  enqueue_write({std::move(work), std::move(done), false});
}

void SqliteStore::read(domain::ReadWork work, domain::Completion done) {
  enqueue_read({std::move(work), std::move(done), false}, FairQueue<ReadUnit>::kShared);
}

void SqliteStore::read_for(domain::Pk tenant, domain::ReadWork work, domain::Completion done) {
  enqueue_read({std::move(work), std::move(done), false}, tenant);
}

domain::Status SqliteStore::write_and_wait(domain::WriteWork work) {
  std::promise<domain::Status> outcome;
  enqueue_write(
      {std::move(work), [&outcome](domain::Status status) { outcome.set_value(status); }, true});
  return outcome.get_future().get();
}

domain::Status SqliteStore::read_and_wait(domain::ReadWork work) {
  std::promise<domain::Status> outcome;
  enqueue_read(
      {std::move(work), [&outcome](domain::Status status) { outcome.set_value(status); }, true},
      FairQueue<ReadUnit>::kShared);
  return outcome.get_future().get();
}

void SqliteStore::check_ready(domain::Completion done) {
  // Runs on a reader: it sees what every request sees, and the event loop never waits on disk.
  read(
      [](domain::ReadTx& tx) -> domain::Status {
        auto& connection = static_cast<Transaction&>(tx).connection();
        int version = schema_version(connection);
        if (version != latest_schema_version()) {
          return domain::Error{domain::ErrorCode::kUnavailable,
                               "database schema is at version " + std::to_string(version) +
                                   ", expected " + std::to_string(latest_schema_version())};
        }
        return {};
      },
      std::move(done));
}

bool SqliteStore::run_group(Transaction& tx, std::vector<WriteUnit>& group,
                            std::vector<domain::Status>& statuses, bool savepoints) {
  Connection& db = tx.connection();
  db.query(kBegin).execute();
  for (std::size_t i = 0; i < group.size(); ++i) {
    if (savepoints) db.query(kSavepoint).execute();
    statuses[i] = run_unit(group[i].work, tx);
    if (!statuses[i].ok()) {
      if (!savepoints) {
        db.query(kRollback).execute();
        return false;
      }
      db.query(kRollbackTo).execute();
    }
    if (savepoints) db.query(kRelease).execute();
  }
  db.query(kCommit).execute();
  return true;
}

void SqliteStore::writer_loop() {
  Connection& db = *writer_db_;
  Transaction tx(db);
  std::vector<WriteUnit> group;
  std::vector<domain::Status> statuses;
  for (;;) {
    std::function<void()> listener;
    {
      std::unique_lock lock(write_mutex_);
      write_ready_.wait(lock, [this] { return stopping_ || !write_queue_.empty(); });
      if (write_queue_.empty()) return;  // stopping, and everything queued is done
      std::size_t take = std::min(write_queue_.size(), options_.max_group);
      group.clear();
      for (std::size_t i = 0; i < take; ++i) {
        group.push_back(std::move(write_queue_.front()));
        write_queue_.pop_front();
      }
      listener = email_listener_;
    }

    statuses.assign(group.size(), domain::Status());
    bool committed = false;
    try {
      // Optimistic first: the usual group has no failing unit, and a savepoint per unit costs
      // the writer about 15 %. If a unit fails, the attempt is rolled back and the group runs
      // again with a savepoint per unit, so the failing unit rolls back alone. (Units may run
      // more than once: domain/store.hpp.)
      if (!run_group(tx, group, statuses, false)) run_group(tx, group, statuses, true);
      committed = true;
    } catch (const std::exception& error) {
      log::error("write group failed", {{"units", group.size()}, {"error", error.what()}});
      try {
        db.query(kRollback).execute();
      } catch (const std::exception&) {
        // No transaction was open (BEGIN failed); nothing to undo.
      }
      for (auto& status : statuses) status = internal_error();
    }
    units_.fetch_add(group.size(), std::memory_order_relaxed);
    if (committed) commits_.fetch_add(1, std::memory_order_relaxed);
    bool email_queued = tx.take_email_enqueued();
    for (std::size_t i = 0; i < group.size(); ++i) {
      complete(std::move(group[i].done), std::move(statuses[i]), group[i].direct);
    }
    if (committed && email_queued && listener) listener();
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
    } catch (const std::exception& error) {
      log::error("read failed", {{"error", error.what()}});
      try {
        db.query(kRollback).execute();
      } catch (const std::exception&) {
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
