#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace invited::store::postgres {

// What the caller of a failed statement should do about it.
enum class FailureKind {
  // The transaction lost a race (40001 serialization_failure, 40P01 deadlock_detected) and was
  // rolled back: run the whole unit of work again.
  kRetry,
  // The database cannot do the work now: the connection failed or was lost (class 08, 57P01
  // admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now, 57P05 idle_session_timeout),
  // too many connections (53300), the statement or lock wait timed out (57014, 55P03), the
  // server is read-only (25006, e.g. a standby after a failover), or the client's own deadline
  // passed. Answer "unavailable, retry later"; the connection may be gone.
  kUnavailable,
  // 23505 unique_violation: a uniqueness constraint refused a row.
  kUniqueViolation,
  // Anything else: a bug in the SQL, a broken schema, a refused login. Answer "internal".
  kInternal,
};

// The kind of the five-character SQLSTATE `sqlstate` (e.g. "40001"). An empty SQLSTATE (libpq's
// own errors, which have none) is kInternal; libpq errors that mean the connection is gone are
// classified by PgError's creator as kUnavailable.
FailureKind classify_sqlstate(std::string_view sqlstate);

const char* failure_kind_name(FailureKind kind);

// A failed statement or connection. `sqlstate` is the server's code, or empty for failures
// detected by the client (connection lost, deadline passed). The message is the server's or
// libpq's text; it never contains the connection's password.
class PgError : public std::runtime_error {
 public:
  PgError(FailureKind kind, std::string sqlstate, const std::string& message)
      : std::runtime_error(message), kind_(kind), sqlstate_(std::move(sqlstate)) {}

  FailureKind kind() const { return kind_; }
  const std::string& sqlstate() const { return sqlstate_; }

 private:
  FailureKind kind_;
  std::string sqlstate_;
};

}  // namespace invited::store::postgres
