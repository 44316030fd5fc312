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

namespace {

[[noreturn]] void refuse_newer(int version) {
  throw StoreError(0, "database schema version " + std::to_string(version) +
                          " is newer than this binary (" + std::to_string(latest_schema_version()) +
                          "); upgrade invited");
}

}  // namespace

int migrate(Connection& db) {
  // Without the write lock first: a current database (every start but the first after an
  // upgrade) needs no lock at all, so a command starts while another process writes.
  int current = schema_version(db);
  if (current > latest_schema_version()) refuse_newer(current);
  int applied = 0;
  while (current < latest_schema_version()) {
    // The version is read again under the write lock: another process (a second `migrate`, a
    // command) may have applied this step meanwhile, and each step must run exactly once.
    db.exec("BEGIN IMMEDIATE");
    try {
      current = schema_version(db);
      if (current > latest_schema_version()) refuse_newer(current);
      for (const Migration& migration : sqlite_migrations()) {
        if (migration.version <= current) continue;
        db.exec(migration.sql);
        db.exec("PRAGMA user_version = " + std::to_string(migration.version));
        current = migration.version;
        ++applied;
        break;
      }
      db.exec("COMMIT");
    } catch (...) {
      try {
        db.exec("ROLLBACK");
      } catch (const StoreError&) {
        // BEGIN failed, or SQLite already rolled back; the first error is the one to report.
      }
      throw;
    }
  }
  return applied;
}

}  // namespace invited::store::sqlite
