#include "store/postgres/connection.hpp"

#include <libpq-fe.h>
#include <poll.h>

#include <cerrno>
#include <cstring>

#include "log/log.hpp"
#include "store/postgres/connection_url.hpp"

namespace invited::store::postgres {
namespace {

constexpr const char* kConnectFailed = "08001";  // sqlclient_unable_to_establish_sqlconnection

std::string trimmed(const char* text) {
  std::string out = text == nullptr ? "" : text;
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

// Server notices (e.g. "relation already exists, skipping") go to the log, not to stderr.
void log_notice(void*, const char* message) {
  log::debug("postgres notice", {{"message", trimmed(message)}});
}

int milliseconds_until(Clock::time_point deadline) {
  if (deadline == Clock::time_point::max()) return -1;
  auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
  if (left <= 0) return 0;
  return left > 1'000'000'000 ? 1'000'000'000 : static_cast<int>(left);
}

}  // namespace

Connection::Connection(const Options& options, Clock::time_point deadline)
    : deadline_(deadline), masked_url_(mask_password(options.url)) {
  const char* keys[] = {"dbname", "application_name", nullptr};
  const char* values[] = {options.url.c_str(), options.application_name.c_str(), nullptr};
  conn_ = PQconnectStartParams(keys, values, /*expand_dbname=*/1);
  if (conn_ == nullptr) throw PgError(FailureKind::kInternal, "", "libpq is out of memory");
  if (PQstatus(conn_) == CONNECTION_BAD) {
    std::string message = "bad database URL " + masked_url_ + ": " + trimmed(PQerrorMessage(conn_));
    close();
    throw PgError(FailureKind::kInternal, "", message);
  }
  PQsetNoticeProcessor(conn_, log_notice, nullptr);
  PostgresPollingStatusType state = PGRES_POLLING_WRITING;
  while (state != PGRES_POLLING_OK) {
    if (state == PGRES_POLLING_FAILED) {
      std::string message =
          "cannot connect to " + masked_url_ + ": " + trimmed(PQerrorMessage(conn_));
      close();
      throw PgError(FailureKind::kUnavailable, kConnectFailed, message);
    }
    pollfd fd{PQsocket(conn_),
              static_cast<short>(state == PGRES_POLLING_READING ? POLLIN : POLLOUT), 0};
    int ready = ::poll(&fd, 1, milliseconds_until(deadline_));
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) {
      close();
      throw PgError(FailureKind::kUnavailable, kConnectFailed,
                    "cannot connect to " + masked_url_ + ": no answer before the deadline");
    }
    state = PQconnectPoll(conn_);
  }
  if (PQsetnonblocking(conn_, 1) != 0) fail_connection("cannot make the connection nonblocking");
  if (options.statement_timeout.count() > 0) {
    try {
      exec("SET statement_timeout = " + std::to_string(options.statement_timeout.count()));
    } catch (...) {
      close();  // the destructor does not run when the constructor throws
      throw;
    }
  }
}

Connection::~Connection() { close(); }

void Connection::close() {
  if (conn_ != nullptr) {
    PQfinish(conn_);
    conn_ = nullptr;
  }
  prepared_.clear();
  deferred_.clear();
}

bool Connection::ok() const { return conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK; }

int Connection::backend_pid() const { return conn_ == nullptr ? 0 : PQbackendPID(conn_); }

void Connection::fail_connection(const std::string& what) {
  std::string message = what;
  if (conn_ != nullptr) {
    std::string detail = trimmed(PQerrorMessage(conn_));
    if (!detail.empty()) message += ": " + detail;
  }
  close();
  throw PgError(FailureKind::kUnavailable, "", message);
}

PgError Connection::error_of(PGresult* result) const {
  std::string sqlstate = trimmed(PQresultErrorField(result, PG_DIAG_SQLSTATE));
  std::string message = trimmed(PQresultErrorMessage(result));
  FailureKind kind = classify_sqlstate(sqlstate);
  // libpq's own errors carry no SQLSTATE; on a broken connection they mean it is gone.
  if (sqlstate.empty() && (conn_ == nullptr || PQstatus(conn_) == CONNECTION_BAD)) {
    kind = FailureKind::kUnavailable;
  }
  return PgError(kind, std::move(sqlstate), message);
}

void Connection::wait(bool writable) {
  while (true) {
    pollfd fd{PQsocket(conn_), static_cast<short>(POLLIN | (writable ? POLLOUT : 0)), 0};
    int ready = ::poll(&fd, 1, milliseconds_until(deadline_));
    if (ready > 0) return;
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) fail_connection(std::string("poll failed: ") + std::strerror(errno));
    close();
    throw PgError(FailureKind::kUnavailable, "", "the database did not answer before the deadline");
  }
}

void Connection::flush() {
  while (true) {
    int pending = PQflush(conn_);
    if (pending == 0) return;
    if (pending < 0) fail_connection("cannot send to the database");
    wait(/*writable=*/true);
    // Read what the server sends meanwhile, so neither side blocks on a full buffer.
    if (PQconsumeInput(conn_) == 0) fail_connection("the database connection was lost");
  }
}

PGresult* Connection::next_result() {
  while (PQisBusy(conn_) != 0) {
    wait(/*writable=*/false);
    if (PQconsumeInput(conn_) == 0) {
      // The server may have said why before it closed the connection (e.g. 57P01).
      if (PQisBusy(conn_) == 0) break;
      fail_connection("the database connection was lost");
    }
  }
  return PQgetResult(conn_);
}

void Connection::exec(std::string_view sql) {
  if (!ok()) throw PgError(FailureKind::kUnavailable, "", "the database connection is closed");
  std::string text;
  for (const std::string& deferred : deferred_) text += deferred + ";\n";
  deferred_.clear();
  text.append(sql);
  if (PQsendQuery(conn_, text.c_str()) == 0) fail_connection("cannot send to the database");
  flush();
  std::optional<PgError> failure;
  while (PGresult* result = next_result()) {
    ExecStatusType status = PQresultStatus(result);
    if (status == PGRES_FATAL_ERROR && !failure) failure = error_of(result);
    PQclear(result);
    if (conn_ != nullptr && PQstatus(conn_) == CONNECTION_BAD) break;
  }
  if (conn_ != nullptr && PQstatus(conn_) == CONNECTION_BAD) {
    std::optional<PgError> lost = failure;
    close();
    if (lost && lost->kind() == FailureKind::kUnavailable) throw *lost;
    throw PgError(FailureKind::kUnavailable, lost ? lost->sqlstate() : "",
                  lost ? lost->what() : "the database connection was lost");
  }
  if (failure) throw *failure;
}

Result Connection::query(const Statement& statement, const Params& params) {
  return std::move(send({Command{.statement = &statement, .sql = {}, .params = &params}})[0]);
}

Result Connection::query_once(std::string_view sql, const Params& params) {
  return std::move(send({Command{.statement = nullptr, .sql = sql, .params = &params}})[0]);
}

std::vector<Result> Connection::send(const std::vector<Command>& commands) {
  if (!ok()) throw PgError(FailureKind::kUnavailable, "", "the database connection is closed");
  if (PQenterPipelineMode(conn_) != 1) fail_connection("cannot enter pipeline mode");

  // What the server will answer, in order: one result per deferred statement, per preparation
  // and per command, then the sync.
  struct Expected {
    int command;  // index into `commands`; -1 for a deferred statement or a preparation
    const char* prepared_name;
  };
  std::vector<Expected> expected;
  std::unordered_set<std::string> preparing;
  auto sent = [&](int ok) {
    if (ok == 0) fail_connection("cannot send to the database");
  };
  for (const std::string& sql : deferred_) {
    sent(PQsendQueryParams(conn_, sql.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 1));
    expected.push_back({-1, nullptr});
  }
  deferred_.clear();
  const Params none;
  for (std::size_t i = 0; i < commands.size(); ++i) {
    const Command& command = commands[i];
    const Params& params = command.params != nullptr ? *command.params : none;
    if (command.statement != nullptr) {
      const char* name = command.statement->name;
      if (!prepared_.contains(name) && !preparing.contains(name)) {
        sent(PQsendPrepare(conn_, name, command.statement->sql, params.size(), params.types()));
        expected.push_back({-1, name});
        preparing.insert(name);
      }
      sent(PQsendQueryPrepared(conn_, name, params.size(), params.values(), params.lengths(),
                               params.formats(), 1));
    } else {
      std::string sql(command.sql);
      sent(PQsendQueryParams(conn_, sql.c_str(), params.size(), params.types(), params.values(),
                             params.lengths(), params.formats(), 1));
    }
    expected.push_back({static_cast<int>(i), nullptr});
  }
  sent(PQpipelineSync(conn_));
  flush();

  std::vector<Result> results(commands.size());
  std::optional<PgError> failure;
  auto connection_lost = [&] {
    std::optional<PgError> reason = failure;
    close();
    if (reason && reason->kind() == FailureKind::kUnavailable) throw *reason;
    throw PgError(FailureKind::kUnavailable, reason ? reason->sqlstate() : "",
                  reason ? reason->what() : "the database connection was lost");
  };
  for (const Expected& item : expected) {
    PGresult* result = next_result();
    if (result == nullptr) {
      if (PQstatus(conn_) == CONNECTION_BAD) connection_lost();
      fail_connection("the database answered out of order");
    }
    ExecStatusType status = PQresultStatus(result);
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
      if (item.prepared_name != nullptr) prepared_.insert(item.prepared_name);
      if (item.command >= 0) {
        results[item.command] = Result(result);
      } else {
        PQclear(result);
      }
    } else {
      if (status == PGRES_FATAL_ERROR && !failure) failure = error_of(result);
      if (status != PGRES_FATAL_ERROR && status != PGRES_PIPELINE_ABORTED && !failure) {
        failure = PgError(FailureKind::kInternal, "",
                          std::string("unexpected result: ") + PQresStatus(status));
      }
      PQclear(result);
    }
    if (PQstatus(conn_) == CONNECTION_BAD) connection_lost();
    // Each statement's results end with a null result.
    PGresult* end = next_result();
    if (end != nullptr) {
      PQclear(end);
      fail_connection("the database answered out of order");
    }
  }
  PGresult* sync = next_result();
  if (sync == nullptr || PQresultStatus(sync) != PGRES_PIPELINE_SYNC) {
    if (sync != nullptr) PQclear(sync);
    if (PQstatus(conn_) == CONNECTION_BAD) connection_lost();
    fail_connection("the database answered out of order");
  }
  PQclear(sync);
  if (PQexitPipelineMode(conn_) != 1) fail_connection("cannot leave pipeline mode");
  if (failure) throw *failure;
  return results;
}

std::size_t Pipeline::add(const Statement& statement, Params params) {
  entries_.push_back(Entry{&statement, {}, std::move(params)});
  return entries_.size() - 1;
}

std::size_t Pipeline::add_once(std::string sql, Params params) {
  entries_.push_back(Entry{nullptr, std::move(sql), std::move(params)});
  return entries_.size() - 1;
}

std::vector<Result> Pipeline::run() {
  std::vector<Connection::Command> commands;
  commands.reserve(entries_.size());
  for (const Entry& entry : entries_) {
    commands.push_back({.statement = entry.statement, .sql = entry.sql, .params = &entry.params});
  }
  std::vector<Entry> entries = std::move(entries_);
  entries_.clear();
  return connection_.send(commands);
}

}  // namespace invited::store::postgres
