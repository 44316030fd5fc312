#pragma once

#include "store/sqlite/connection.hpp"

namespace invited::store::sqlite {

// The schema version this binary was built for: the highest compiled-in migration.
int latest_schema_version();

// The version recorded in the database (PRAGMA user_version); 0 for an empty file.
int schema_version(Connection& db);

// Applies every migration above the database's version, each in its own transaction, and
// returns how many ran. Fails (StoreError) if the database is newer than this binary.
int migrate(Connection& db);

}  // namespace invited::store::sqlite
