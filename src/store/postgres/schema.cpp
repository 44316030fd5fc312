#include "store/postgres/schema.hpp"

#include <string>

#include "log/log.hpp"

namespace invited::store::postgres {
namespace {

// The advisory lock every migrating caller takes: "invited" in ASCII, a number no other
// application on a shared server is likely to pick.
constexpr const char* kLock = "SELECT pg_advisory_lock(29400750624909668)";
constexpr const char* kUnlock = "SELECT pg_advisory_unlock(29400750624909668)";

constexpr const char* kCreateTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    "  version    integer PRIMARY KEY,"
    "  name       text NOT NULL,"
    "  applied_at timestamptz NOT NULL DEFAULT now())";

constexpr const char* kHasTable = "SELECT to_regclass('schema_migrations') IS NOT NULL";
constexpr const char* kVersion = "SELECT coalesce(max(version), 0)::int8 FROM schema_migrations";

constexpr const char* kRecord = "INSERT INTO schema_migrations(version, name) VALUES ($1, $2)";

// Runs `sql` after a failure, keeping the first failure as the one reported.
void end_quietly(Connection& db, const char* sql) {
  if (!db.ok()) return;
  try {
    db.exec(sql);
  } catch (const PgError&) {
    db.close();
  }
}

int highest(std::span<const Migration> migrations) {
  return migrations.empty() ? 0 : migrations.back().version;
}

}  // namespace

int latest_schema_version() { return highest(postgres_migrations()); }

int schema_version(Connection& db) {
  if (!db.query_once(kHasTable).boolean(0, 0)) return 0;
  return static_cast<int>(db.query_once(kVersion).int64(0, 0));
}

int migrate(Connection& db) { return migrate(db, postgres_migrations()); }

int migrate(Connection& db, std::span<const Migration> migrations) {
  db.exec(kLock);
  int applied = 0;
  try {
    db.exec(kCreateTable);
    int current = schema_version(db);
    if (current > highest(migrations)) {
      throw PgError(FailureKind::kInternal, "",
                    "database schema version " + std::to_string(current) +
                        " is newer than this binary (" + std::to_string(highest(migrations)) +
                        "); upgrade invited");
    }
    for (const Migration& migration : migrations) {
      if (migration.version <= current) continue;
      db.exec("BEGIN");
      try {
        db.exec(migration.sql);
        db.query_once(kRecord, Params().add(migration.version).add(migration.name));
        db.exec("COMMIT");
      } catch (...) {
        end_quietly(db, "ROLLBACK");
        throw;
      }
      log::info("database migrated", {{"version", migration.version}, {"name", migration.name}});
      ++applied;
    }
  } catch (...) {
    // A lost connection has released the lock already.
    end_quietly(db, kUnlock);
    throw;
  }
  db.exec(kUnlock);
  return applied;
}

}  // namespace invited::store::postgres
