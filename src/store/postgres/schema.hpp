#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "store/migration_compatibility.hpp"
#include "store/migrations.hpp"
#include "store/postgres/connection.hpp"

namespace invited::store::postgres {

// The schema version this binary was built for: the highest compiled-in migration
// (src/store/postgres/migrations/NNNN_name.sql).
int latest_schema_version();

// The highest version recorded in schema_migrations; 0 when the table does not exist (an empty
// database).
int schema_version(Connection& db);

// The migrations schema_migrations records above `version`, lowest first, with the
// compatibility each recorded ("" for none). Needs the table's compatibility column, which
// migrate() adds.
std::vector<AppliedMigration> migrations_above(Connection& db, int version);

// Applies every migration of `migrations` (by default the compiled-in ones) above the
// database's version, each in its own transaction that also records it in schema_migrations
// (version, name, applied_at, and the compatibility its first line declares), and returns how
// many this call applied. A table made before compatibility was recorded gets the column, filled
// in from the compiled-in declarations. A database at a version above the binary's is served
// (nothing applied, a warning logged) when every migration above the binary's is recorded as
// compatible, and refused otherwise. All of it runs under a
// session advisory lock (pg_advisory_lock), so callers racing on one database (threads,
// processes, several instances starting at once) apply each migration exactly once: the others
// wait, then find nothing left to do. Throws PgError: kInternal if the database is at a version
// newer than the binary with a migration above it that is breaking or records no compatibility,
// the message naming it (or if a migration's SQL fails: that migration is rolled back, earlier
// ones stay). Waits are bounded by the connection's deadline, which the caller sets (a
// migration may take long on a big database).
int migrate(Connection& db);
int migrate(Connection& db, std::span<const Migration> migrations);

}  // namespace invited::store::postgres
