#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "store/postgres/error.hpp"
#include "store/postgres/params.hpp"
#include "store/postgres/result.hpp"

struct pg_conn;

namespace invited::store::postgres {

using Clock = std::chrono::steady_clock;

// A statement the store runs often. Each connection prepares it once, under `name`, the first
// time it runs there (in the same round trip), then runs it by name with binary parameters and
// results. Keep statements as named constants next to the code that runs them; one `name` per
// `sql` in the whole program.
struct Statement {
  const char* name;
  const char* sql;
};

// One connection to PostgreSQL through libpq. Not thread-safe: one thread uses it at a time.
//
// Every call that waits for the server waits at most until the deadline (set_deadline); when it
// passes, the call closes the connection and throws PgError(kUnavailable), so a stopped or hung
// server never holds the caller longer than that. Every failure throws PgError with the server's
// SQLSTATE and its classification (error.hpp). After a kUnavailable failure the connection may
// be closed: ok() says whether it can still be used. The password of the URL is never logged or
// put in an error message.
class Connection {
 public:
  struct Options {
    // libpq URI (postgresql://user:pass@host:port/db?sslmode=...; postgres:// too) or a
    // keyword/value string.
    std::string url;
    // The server-side limit on one statement (statement_timeout), so the server stops work
    // the client gave up on; zero for none.
    std::chrono::milliseconds statement_timeout{0};
    std::string application_name = "invited";
  };

  // Connects, waiting no later than `deadline`. Throws PgError: kInternal for a malformed URL,
  // kUnavailable (SQLSTATE 08001) when the server cannot be reached, refuses the login or the
  // deadline passes (libpq does not report the server's SQLSTATE for a failed login).
  Connection(const Options& options, Clock::time_point deadline);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Connected and usable.
  bool ok() const;
  // The server process serving this connection (for pg_terminate_backend, logs).
  int backend_pid() const;
  // The URL with its password masked, for logs.
  const std::string& masked_url() const { return masked_url_; }

  // Bounds every following wait on the server. Clock::time_point::max() (the default): none.
  void set_deadline(Clock::time_point deadline) { deadline_ = deadline; }
  Clock::time_point deadline() const { return deadline_; }

  // Runs `sql`, one or more statements without parameters (simple query protocol), and
  // discards their rows. For DDL, migration files, COMMIT and ROLLBACK.
  void exec(std::string_view sql);

  // Runs one statement, prepared on this connection the first time it runs here.
  Result query(const Statement& statement, const Params& params = {});
  // Runs SQL that is not worth preparing (run once): unnamed statement, binary parameters and
  // results.
  Result query_once(std::string_view sql, const Params& params = {});

  // Runs `sql`, one COPY ... FROM STDIN statement: `write` is called once and sends the data
  // through the function it is given (any number of calls, each sending the bytes at once).
  // Returns the rows the server copied. If `write` throws, the COPY is cancelled (which fails
  // the transaction around it) and the exception passes on. Defined in copy_in.cpp.
  using CopySend = std::function<void(std::string_view bytes)>;
  std::int64_t copy_in(std::string_view sql, const std::function<void(const CopySend&)>& write);

  // A notification of LISTEN/NOTIFY: its channel and payload.
  struct Notification {
    std::string channel;
    std::string payload;
  };
  // Waits, on a connection that LISTENs (exec("LISTEN ...")) and runs nothing else meanwhile,
  // until a notification arrives or `until` passes (the deadline bounds nothing here: waiting
  // for news is not waiting on the server), then returns the notifications received, those
  // that arrived during earlier statements included; empty when none came. Throws
  // PgError(kUnavailable) when the connection is lost (a restarted server, a terminated
  // backend). Defined in notifications.cpp.
  std::vector<Notification> wait_for_notifications(Clock::time_point until);

  // Holds `sql` (no parameters, e.g. "BEGIN ISOLATION LEVEL SERIALIZABLE") and sends it in
  // front of the next round trip, so opening a transaction costs no round trip of its own. A
  // failure of `sql` is thrown by the call that sent it.
  void defer(std::string sql) { deferred_.push_back(std::move(sql)); }
  bool has_deferred() const { return !deferred_.empty(); }
  void clear_deferred() { deferred_.clear(); }

  // Closes the connection (ok() turns false). Idempotent.
  void close();

 private:
  friend class Pipeline;

  struct Command {
    const Statement* statement = nullptr;  // prepared by name, or
    std::string_view sql;                  // sent as an unnamed statement
    const Params* params = nullptr;
  };

  // Sends the deferred statements and `commands` in one round trip (pipeline mode) and returns
  // the commands' results in order; throws the first failure after reading up to the sync.
  std::vector<Result> send(const std::vector<Command>& commands);
  // Pushes all buffered output to the server, reading input meanwhile.
  void flush();
  // The next result of the current query, waiting for it (libpq's PQgetResult, bounded).
  struct pg_result* next_result();
  // Waits until the socket is readable (or also writable), or throws at the deadline.
  void wait(bool writable);
  [[noreturn]] void fail_connection(const std::string& what);
  PgError error_of(struct pg_result* result) const;

  pg_conn* conn_ = nullptr;
  Clock::time_point deadline_ = Clock::time_point::max();
  std::unordered_set<std::string> prepared_;
  std::vector<std::string> deferred_;
  std::string masked_url_;
};

// Several statements sent in one round trip (libpq pipeline mode): add() queues them, run()
// sends them with one sync and returns their results in order. When one fails, the server
// skips the rest up to the sync, and run() throws that first failure; inside a transaction the
// failure aborts the transaction, as one failing statement would. The Params are kept by the
// pipeline until run() returns.
class Pipeline {
 public:
  explicit Pipeline(Connection& connection) : connection_(connection) {}

  // Queues a prepared statement; returns the index of its result.
  std::size_t add(const Statement& statement, Params params = {});
  // Queues SQL to run once as an unnamed statement; returns the index of its result.
  std::size_t add_once(std::string sql, Params params = {});
  std::size_t size() const { return entries_.size(); }

  // Sends everything queued and waits for every result. The pipeline is empty afterwards.
  std::vector<Result> run();

 private:
  struct Entry {
    const Statement* statement;
    std::string sql;
    Params params;
  };
  Connection& connection_;
  std::vector<Entry> entries_;
};

}  // namespace invited::store::postgres
