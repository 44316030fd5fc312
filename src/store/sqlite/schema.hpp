#pragma once

#include <optional>
#include <string>
#include <vector>

#include "store/migration_compatibility.hpp"
#include "store/sqlite/connection.hpp"

namespace invited::store::sqlite {

// The schema version this binary was built for: the highest compiled-in migration.
int latest_schema_version();

// The version recorded in the database (PRAGMA user_version); 0 for an empty file.
int schema_version(Connection& db);

// The migrations the schema_migrations table records above `version`, lowest first, with the
// compatibility each recorded ("" for none); none when the table does not exist yet.
std::vector<AppliedMigration> migrations_above(Connection& db, int version);

// Applies every migration above the database's version, each in its own BEGIN IMMEDIATE
// transaction that reads the version again under the write lock and records the migration in
// schema_migrations (version, name, applied_at, the compatibility its first line declares), and
// returns how many this call ran; so several processes may migrate one file at once and each
// step runs exactly once. A database without that table (made by a binary that did not keep it)
// gets it, filled in from the compiled-in declarations. A database newer than this binary is
// served (nothing applied, a warning logged) when every migration above the binary's version is
// recorded as compatible; otherwise migrate fails (StoreError) with a message naming the first
// migration that is breaking or records no compatibility.
int migrate(Connection& db);

}  // namespace invited::store::sqlite
