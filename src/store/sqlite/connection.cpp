#include "store/sqlite/connection.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>

namespace invited::store::sqlite {
namespace {

[[noreturn]] void fail(sqlite3* db, int code, std::string_view context) {
  std::string what(context);
  what += ": ";
  what += db ? sqlite3_errmsg(db) : sqlite3_errstr(code);
  throw StoreError(code, what);
}

void check(sqlite3* db, int code, std::string_view context) {
  if (code != SQLITE_OK) fail(db, code, context);
}

}  // namespace

bool is_transient_failure(int code) {
  switch (code & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_FULL:
    case SQLITE_READONLY:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_PROTOCOL:
    case SQLITE_NOMEM:
    case SQLITE_INTERRUPT:
    case SQLITE_SCHEMA:
      return true;
    default:
      return false;
  }
}

domain::Error storage_error(int code) {
  using domain::ErrorCode;
  switch (code & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return {ErrorCode::kUnavailable,
              "the database is locked by another process; retry in a moment"};
    case SQLITE_FULL:
      return {ErrorCode::kUnavailable, "the database's disk is full; retry later"};
    case SQLITE_READONLY:
      return {ErrorCode::kUnavailable, "the database file is read-only; retry later"};
    case SQLITE_NOMEM:
      return {ErrorCode::kUnavailable, "the service is short of memory; retry in a moment"};
    default:
      if (is_transient_failure(code)) {
        return {ErrorCode::kUnavailable,
                "the database could not be read or written; retry in a moment"};
      }
      return {ErrorCode::kInternal, "the database failed"};
  }
}

Statement::Statement(sqlite3* db, std::string_view sql) : db_(db) {
  check(db,
        sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                           &stmt_, nullptr),
        "prepare");
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

Cursor::Cursor(Statement& statement) : stmt_(statement.stmt_), db_(statement.db_) {}

Cursor::~Cursor() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

Cursor& Cursor::bind(int index, std::int64_t value) {
  check(db_, sqlite3_bind_int64(stmt_, index, value), "bind");
  return *this;
}

Cursor& Cursor::bind(int index, std::string_view text) {
  check(db_,
        sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_STATIC),
        "bind");
  return *this;
}

Cursor& Cursor::bind(int index, const std::optional<std::string_view>& text) {
  return text ? bind(index, *text) : bind_null(index);
}

Cursor& Cursor::bind(int index, const std::optional<std::int64_t>& value) {
  return value ? bind(index, *value) : bind_null(index);
}

Cursor& Cursor::bind(int index, const domain::Uuid& id) {
  return bind_blob(index, id.bytes().data(), id.bytes().size());
}

Cursor& Cursor::bind_blob(int index, const void* data, std::size_t size) {
  check(db_, sqlite3_bind_blob(stmt_, index, data, static_cast<int>(size), SQLITE_STATIC), "bind");
  return *this;
}

Cursor& Cursor::bind_null(int index) {
  check(db_, sqlite3_bind_null(stmt_, index), "bind");
  return *this;
}

bool Cursor::step() {
  int code = sqlite3_step(stmt_);
  if (code == SQLITE_ROW) return true;
  if (code == SQLITE_DONE) return false;
  fail(db_, code, "step");
}

int Cursor::execute() {
  while (step()) {
  }
  return sqlite3_changes(db_);
}

std::int64_t Cursor::int64(int column) const { return sqlite3_column_int64(stmt_, column); }

bool Cursor::is_null(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }

std::string Cursor::text(int column) const {
  auto* data = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
  return data ? std::string(data, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)))
              : std::string();
}

std::optional<std::string> Cursor::optional_text(int column) const {
  if (is_null(column)) return std::nullopt;
  return text(column);
}

std::optional<std::int64_t> Cursor::optional_int64(int column) const {
  if (is_null(column)) return std::nullopt;
  return int64(column);
}

std::string_view Cursor::blob(int column) const {
  const void* data = sqlite3_column_blob(stmt_, column);
  if (!data) return {};
  return {static_cast<const char*>(data),
          static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column))};
}

domain::Uuid Cursor::uuid(int column) const {
  domain::Uuid::Bytes bytes{};
  const void* data = sqlite3_column_blob(stmt_, column);
  if (data && sqlite3_column_bytes(stmt_, column) == static_cast<int>(bytes.size())) {
    std::memcpy(bytes.data(), data, bytes.size());
  }
  return domain::Uuid(bytes);
}

namespace {

// Process-wide SQLite settings, applied once before the first connection opens: every connection
// is used by one thread at a time (no per-call mutexes), and the allocator keeps no statistics
// (no global allocation mutex).
void configure_sqlite_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    sqlite3_config(SQLITE_CONFIG_MULTITHREAD);
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
  });
}

}  // namespace

Connection::Connection(const std::string& path, Mode mode) {
  configure_sqlite_once();
  int flags =
      SQLITE_OPEN_NOMUTEX |
      (mode == Mode::kReadOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  int code = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
  if (code != SQLITE_OK) {
    std::string message = "open " + path + ": " + sqlite3_errstr(code);
    sqlite3_close(db_);
    db_ = nullptr;
    throw StoreError(code, message);
  }
  sqlite3_extended_result_codes(db_, 1);
  sqlite3_busy_timeout(db_, kBusyTimeoutMs);
  // Page cache: 32 MiB for the writer, 8 MiB for each reader (their queries are point lookups
  // and short pages), so memory stays bounded whatever the size of the database.
  //
  // Foreign keys are declared in the schema but not enforced while serving: every row is written
  // by src/store/ code that takes its references from rows it just read in the same
  // transaction, and nothing is ever hard-deleted from a parent table. Enforcement cost the
  // writer about 15 % of a bulk request (two extra lookups per membership). The test harness
  // runs PRAGMA foreign_key_check on every database a black-box test leaves behind.
  //
  // secure_delete: deleted content (an erased token, a dropped row) is overwritten with zeros
  // in the page that held it, so it leaves the file and the WAL with the next write of that page.
  exec("PRAGMA foreign_keys = OFF; PRAGMA temp_store = MEMORY; PRAGMA secure_delete = ON;");
  if (mode == Mode::kReadWrite) {
    exec("PRAGMA cache_size = -32768;");
    switch_to_wal();
    exec("PRAGMA synchronous = FULL;");
  } else {
    exec("PRAGMA cache_size = -8192; PRAGMA query_only = ON;");
  }
}

void Connection::switch_to_wal() {
  // Switching a new file to WAL needs the file to itself for a moment, and SQLite answers BUSY
  // at once (its busy handler is not called here) when another process opens the same new file
  // at that instant, e.g. `invited migrate` started twice. Retry within the busy timeout.
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::milliseconds(kBusyTimeoutMs);
  auto pause = std::chrono::microseconds(200);
  for (;;) {
    try {
      exec("PRAGMA journal_mode = WAL;");
      return;
    } catch (const StoreError& error) {
      if ((error.code() & 0xff) != SQLITE_BUSY || Clock::now() >= deadline) throw;
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(20'000));
  }
}

Connection::~Connection() {
  statements_.clear();
  sqlite3_close(db_);
}

void Connection::exec(std::string_view sql) {
  std::string text(sql);
  char* message = nullptr;
  int code = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &message);
  if (code != SQLITE_OK) {
    std::string what = message ? message : sqlite3_errstr(code);
    sqlite3_free(message);
    throw StoreError(code, "exec: " + what);
  }
}

Cursor Connection::query(const char* sql) {
  auto& slot = statements_[sql];
  if (!slot) slot = std::make_unique<Statement>(db_, sql);
  return Cursor(*slot);
}

int Connection::changes() const { return sqlite3_changes(db_); }

}  // namespace invited::store::sqlite
