#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>

#include "domain/result.hpp"
#include "domain/uuid.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace invited::store::sqlite {

// Whether SQLite's result code `code` (primary or extended) is a condition of the storage that
// can pass without a change to the program, so that the same request may succeed when retried:
// the lock held by another connection (SQLITE_BUSY, SQLITE_LOCKED), a full disk (SQLITE_FULL), a
// read-only file (SQLITE_READONLY), a failing or unreachable file (SQLITE_IOERR,
// SQLITE_CANTOPEN, SQLITE_PROTOCOL), memory (SQLITE_NOMEM), an interrupt or a schema changed by
// another process (SQLITE_INTERRUPT, SQLITE_SCHEMA). Every other code (SQLITE_ERROR,
// SQLITE_CONSTRAINT, SQLITE_CORRUPT, SQLITE_MISUSE, ...) means a bug in the store or a broken
// file.
bool is_transient_failure(int code);

// What a request that met SQLite's result code `code` is answered: kUnavailable with a sentence
// saying what the storage is doing (locked, full, read-only, failing) for a transient failure,
// kInternal otherwise.
domain::Error storage_error(int code);

// A storage failure with SQLite's (extended) result code; 0 for failures found by the store
// itself (a schema newer than the binary). The unit of work that saw it rolls back; a transient
// failure (is_transient_failure) rolls back the whole group and answers 503, any other 500.
class StoreError : public std::runtime_error {
 public:
  StoreError(int code, const std::string& what) : std::runtime_error(what), code_(code) {}
  int code() const { return code_; }
  bool transient() const { return is_transient_failure(code_); }

 private:
  int code_;
};

class Statement;

// A prepared statement in use: bind, step, read columns. Resets the statement (releasing its
// read snapshot and bindings) when it goes out of scope, so no statement is ever left running.
class Cursor {
 public:
  explicit Cursor(Statement& statement);
  ~Cursor();
  Cursor(const Cursor&) = delete;
  Cursor& operator=(const Cursor&) = delete;

  // Binding indexes are 1-based, as in SQLite. Text and blobs are bound without a copy: the
  // bound bytes must stay alive until the cursor steps for the last time (binding a temporary
  // string is refused at compile time).
  Cursor& bind(int index, std::int64_t value);
  Cursor& bind(int index, int value) { return bind(index, static_cast<std::int64_t>(value)); }
  Cursor& bind(int index, std::string_view text);
  Cursor& bind(int index, const std::string& text) { return bind(index, std::string_view(text)); }
  Cursor& bind(int index, std::string&& text) = delete;
  Cursor& bind(int index, const char* text) { return bind(index, std::string_view(text)); }
  Cursor& bind(int index, const std::optional<std::string_view>& text);
  Cursor& bind(int index, const std::optional<std::int64_t>& value);
  Cursor& bind(int index, const domain::Uuid& id);
  Cursor& bind_blob(int index, const void* data, std::size_t size);
  Cursor& bind_null(int index);

  // Advances to the next row; false when done. Throws StoreError on failure.
  bool step();
  // Runs a statement that returns no rows; returns the number of rows it changed.
  int execute();

  // Column indexes are 0-based, as in SQLite. Valid until the next step().
  std::int64_t int64(int column) const;
  bool is_null(int column) const;
  std::string text(int column) const;
  std::optional<std::string> optional_text(int column) const;
  std::optional<std::int64_t> optional_int64(int column) const;
  std::string_view blob(int column) const;
  domain::Uuid uuid(int column) const;

 private:
  sqlite3_stmt* stmt_;
  sqlite3* db_;
};

// One prepared statement owned by a Connection.
class Statement {
 public:
  Statement(sqlite3* db, std::string_view sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

 private:
  friend class Cursor;
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

// An open database handle with a cache of prepared statements. Not thread-safe: one thread
// uses a Connection at a time.
class Connection {
 public:
  enum class Mode { kReadWrite, kReadOnly };

  // Opens (creating if kReadWrite) the file at `path` in WAL mode with durable commits.
  Connection(const std::string& path, Mode mode);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs one or more statements without results.
  void exec(std::string_view sql);

  // The prepared statement for `sql`, prepared on first use. `sql` must be a string with static
  // storage (a named constant): the cache is keyed by its address.
  Cursor query(const char* sql);

  int changes() const;
  sqlite3* handle() const { return db_; }

 private:
  // How long a statement waits for another connection's lock before answering BUSY.
  static constexpr int kBusyTimeoutMs = 5000;

  void switch_to_wal();

  sqlite3* db_ = nullptr;
  std::unordered_map<const char*, std::unique_ptr<Statement>> statements_;
};

}  // namespace invited::store::sqlite
