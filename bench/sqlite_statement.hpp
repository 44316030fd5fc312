#pragma once

// What the storage programs of bench/ (baseline.cpp, preload.cpp) share: running SQL straight
// through SQLite, dying with the program's name and SQLite's message on any error (these are
// measuring and loading tools, not the service: an error ends the run).
#include <errno.h>  // program_invocation_short_name
#include <sqlite3.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace bench {

[[noreturn]] inline void die(sqlite3* db, const char* what) {
  std::fprintf(stderr, "%s: %s: %s\n", program_invocation_short_name, what,
               db ? sqlite3_errmsg(db) : "?");
  std::exit(1);
}

inline void exec(sqlite3* db, const char* sql) {
  char* message = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &message) != SQLITE_OK) {
    std::fprintf(stderr, "%s: %s: %s\n", program_invocation_short_name, sql,
                 message ? message : "?");
    std::exit(1);
  }
}

// How a statement binds text and blobs: kBorrowed without a copy (the value must live until the
// statement is reset: the baseline, which measures the storage work at its fastest), kCopied with
// one (the loader, which binds temporaries).
enum class Binding { kBorrowed, kCopied };

// One prepared statement, kept for the program's life (SQLITE_PREPARE_PERSISTENT).
template <Binding kBinding>
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) : db_(db) {
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr) != SQLITE_OK) {
      die(db, sql);
    }
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int i, std::int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  Statement& bind(int i, std::string_view v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), lifetime());
    return *this;
  }
  Statement& bind_blob(int i, const unsigned char* v, int n) {
    sqlite3_bind_blob(stmt_, i, v, n, lifetime());
    return *this;
  }
  Statement& bind_null(int i) {
    sqlite3_bind_null(stmt_, i);
    return *this;
  }
  // True when a row came back; dies on an error.
  bool step() {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc != SQLITE_DONE) die(db_, sqlite3_sql(stmt_));
    return false;
  }
  std::int64_t int64(int column) { return sqlite3_column_int64(stmt_, column); }
  const unsigned char* blob(int column) {
    return static_cast<const unsigned char*>(sqlite3_column_blob(stmt_, column));
  }
  int bytes(int column) { return sqlite3_column_bytes(stmt_, column); }
  sqlite3_stmt* raw() { return stmt_; }
  void reset() { sqlite3_reset(stmt_); }
  // Runs to completion and resets; dies unless exactly `changes` rows changed (-1: any).
  void run(int changes = -1) {
    while (step()) {
    }
    reset();
    if (changes >= 0 && sqlite3_changes(db_) != changes) die(db_, "unexpected change count");
  }
  // Steps once, returns column 0 (RETURNING pk), resets.
  std::int64_t returning() {
    if (!step()) die(db_, "no row returned");
    std::int64_t value = int64(0);
    reset();
    return value;
  }

 private:
  static sqlite3_destructor_type lifetime() {
    return kBinding == Binding::kBorrowed ? SQLITE_STATIC : SQLITE_TRANSIENT;
  }

  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

}  // namespace bench
