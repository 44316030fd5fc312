#pragma once

#include <span>

#include "store/migrations.hpp"
#include "store/postgres/connection.hpp"

namespace invited::store::postgres {

// The schema version this binary was built for: the highest compiled-in migration
// (src/store/postgres/migrations/NNNN_name.sql).
int latest_schema_version();

// The highest version recorded in schema_migrations; 0 when the table does not exist (an empty
// database).
int schema_version(Connection& db);

// Applies every migration of `migrations` (by default the compiled-in ones) above the
// database's version, each in its own transaction that also records it in schema_migrations
// (version, name, applied_at), and returns how many this call applied. All of it runs under a
// session advisory lock (pg_advisory_lock), so callers racing on one database (threads,
// processes, several instances starting at once) apply each migration exactly once: the others
// wait, then find nothing left to do. Throws PgError: kInternal if the database is at a version
// newer than the binary (or a migration's SQL fails: that migration is rolled back, earlier
// ones stay). Waits are bounded by the connection's deadline, which the caller sets (a
// migration may take long on a big database).
int migrate(Connection& db);
int migrate(Connection& db, std::span<const Migration> migrations);

}  // namespace invited::store::postgres
