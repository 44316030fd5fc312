#include "store/sqlite/schema.hpp"

#include <string>

#include "store/migrations.hpp"

namespace invited::store::sqlite {

int latest_schema_version() {
  auto migrations = sqlite_migrations();
  return migrations.empty() ? 0 : migrations.back().version;
}

int schema_version(Connection& db) {
  static constexpr const char* kVersion = "PRAGMA user_version";
  auto row = db.query(kVersion);
  return row.step() ? static_cast<int>(row.int64(0)) : 0;
}

int migrate(Connection& db) {
  int current = schema_version(db);
  if (current > latest_schema_version()) {
    throw StoreError(0, "database schema version " + std::to_string(current) +
                            " is newer than this binary (" +
                            std::to_string(latest_schema_version()) + "); upgrade invited");
  }
  int applied = 0;
  for (const Migration& migration : sqlite_migrations()) {
    if (migration.version <= current) continue;
    db.exec("BEGIN IMMEDIATE");
    try {
      db.exec(migration.sql);
      db.exec("PRAGMA user_version = " + std::to_string(migration.version));
      db.exec("COMMIT");
    } catch (...) {
      db.exec("ROLLBACK");
      throw;
    }
    ++applied;
  }
  return applied;
}

}  // namespace invited::store::sqlite
