// Connection::copy_in: COPY ... FROM STDIN over the connection's nonblocking socket, every wait
// bounded by the connection's deadline like its other calls.
#include <libpq-fe.h>

#include <cstdlib>
#include <optional>

#include "store/postgres/connection.hpp"

namespace invited::store::postgres {

std::int64_t Connection::copy_in(std::string_view sql,
                                 const std::function<void(const CopySend&)>& write) {
  if (!ok()) throw PgError(FailureKind::kUnavailable, "", "the database connection is closed");
  std::string text(sql);
  if (PQsendQuery(conn_, text.c_str()) == 0) fail_connection("cannot send to the database");
  flush();
  PGresult* started = next_result();
  if (started == nullptr) fail_connection("the database answered out of order");
  if (PQresultStatus(started) != PGRES_COPY_IN) {
    PgError failure = PQresultStatus(started) == PGRES_FATAL_ERROR
                          ? error_of(started)
                          : PgError(FailureKind::kInternal, "", "not a COPY FROM STDIN: " + text);
    PQclear(started);
    while (PGresult* rest = next_result()) PQclear(rest);
    throw failure;
  }
  PQclear(started);

  // Set when the server ended the COPY early (it refused a row, say): the rest of the data is
  // dropped, and the server's error is read below.
  bool ended_by_server = false;
  // Whether a failed PQputCopyData/PQputCopyEnd means the COPY ended (the connection is fine)
  // rather than a broken connection.
  auto ended_early = [this] { return PQstatus(conn_) == CONNECTION_OK && PQisBusy(conn_) == 0; };
  // Queues `bytes` (PQputCopyData answers 0 while libpq's buffer is full), then sends them.
  const CopySend put = [&](std::string_view bytes) {
    if (ended_by_server) return;
    while (true) {
      int queued = PQputCopyData(conn_, bytes.data(), static_cast<int>(bytes.size()));
      if (queued == 1) break;
      if (queued < 0) {
        if (!ended_early()) fail_connection("cannot send to the database");
        ended_by_server = true;
        return;
      }
      wait(/*writable=*/true);
      if (PQconsumeInput(conn_) == 0) fail_connection("the database connection was lost");
    }
    flush();
    // Reads what the server sent meanwhile, so an error ends the sending at once.
    if (PQconsumeInput(conn_) == 0) fail_connection("the database connection was lost");
  };
  // Ends the COPY: with `error` the server cancels it, failing the transaction.
  auto end = [&](const char* error) {
    if (ended_by_server) return;
    while (true) {
      int done = PQputCopyEnd(conn_, error);
      if (done == 1) break;
      if (done < 0) {
        if (!ended_early()) fail_connection("cannot send to the database");
        return;
      }
      wait(/*writable=*/true);
      if (PQconsumeInput(conn_) == 0) fail_connection("the database connection was lost");
    }
    flush();
  };

  try {
    write(put);
  } catch (...) {
    if (ok()) {  // else the connection failed and is closed already
      try {
        end("cancelled by the client");
        while (PGresult* rest = next_result()) PQclear(rest);
      } catch (const PgError&) {
        // The first failure is the one to report.
      }
    }
    throw;
  }
  end(nullptr);

  std::optional<PgError> failure;
  std::int64_t rows = 0;
  while (PGresult* result = next_result()) {
    ExecStatusType status = PQresultStatus(result);
    if (status == PGRES_COMMAND_OK) {
      rows = std::strtoll(PQcmdTuples(result), nullptr, 10);
    } else if (!failure) {
      failure = error_of(result);
    }
    PQclear(result);
    if (PQstatus(conn_) == CONNECTION_BAD) break;
  }
  if (PQstatus(conn_) == CONNECTION_BAD) {
    std::optional<PgError> lost = failure;
    close();
    throw PgError(FailureKind::kUnavailable, lost ? lost->sqlstate() : "",
                  lost ? lost->what() : "the database connection was lost");
  }
  if (failure) throw *failure;
  return rows;
}

}  // namespace invited::store::postgres
