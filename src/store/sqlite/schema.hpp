#pragma once

#include "store/sqlite/connection.hpp"

namespace invited::store::sqlite {

// The schema version this binary was built for: the highest compiled-in migration.
int latest_schema_version();

// The version recorded in the database (PRAGMA user_version); 0 for an empty file.
int schema_version(Connection& db);

// Applies every migration above the database's version, each in its own BEGIN IMMEDIATE
// transaction that reads the version again under the write lock, and returns how many this call
// ran; so several processes may migrate one file at once and each step runs exactly once. Fails
// (StoreError) if the database is newer than this binary.
int migrate(Connection& db);

}  // namespace invited::store::sqlite
