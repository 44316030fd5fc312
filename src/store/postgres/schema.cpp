#include "store/postgres/schema.hpp"

#include <optional>
#include <string>

#include "log/log.hpp"
#include "store/migration_compatibility.hpp"

namespace invited::store::postgres {
namespace {

// The advisory lock every migrating caller takes: "invited" in ASCII, a number no other
// application on a shared server is likely to pick.
constexpr const char* kLock = "SELECT pg_advisory_lock(29400750624909668)";
constexpr const char* kUnlock = "SELECT pg_advisory_unlock(29400750624909668)";

// `compatibility` is the migration's declared word ("compatible" or "breaking"), NULL when it
// declared none: what a binary that does not know the migration reads to decide whether it may
// serve the database (store/migration_compatibility.hpp).
constexpr const char* kCreateTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    "  version       integer PRIMARY KEY,"
    "  name          text NOT NULL,"
    "  applied_at    timestamptz NOT NULL DEFAULT now(),"
    "  compatibility text)";

// A table made by a binary that did not record compatibility gets the column once; the binary
// adding it knows every migration recorded so far (an older one refused newer databases), so it
// fills in what each declared.
constexpr const char* kHasCompatibility =
    "SELECT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = "
    "current_schema() AND table_name = 'schema_migrations' AND column_name = 'compatibility')";
constexpr const char* kAddCompatibility =
    "ALTER TABLE schema_migrations ADD COLUMN IF NOT EXISTS compatibility text";
constexpr const char* kFillCompatibility =
    "UPDATE schema_migrations SET compatibility = $2 WHERE version = $1 AND compatibility IS NULL";

constexpr const char* kAbove =
    "SELECT version::int8, name, coalesce(compatibility, '') FROM schema_migrations "
    "WHERE version > $1 ORDER BY version";

constexpr const char* kHasTable = "SELECT to_regclass('schema_migrations') IS NOT NULL";
constexpr const char* kVersion = "SELECT coalesce(max(version), 0)::int8 FROM schema_migrations";

// Runs `sql` after a failure, keeping the first failure as the one reported.
void end_quietly(Connection& db, const char* sql) {
  if (!db.ok()) return;
  try {
    db.exec(sql);
  } catch (const PgError&) {
    db.close();
  }
}

constexpr const char* kRecord =
    "INSERT INTO schema_migrations(version, name, compatibility) VALUES ($1, $2, $3)";

void record_compatibility(Connection& db, std::span<const Migration> migrations) {
  if (db.query_once(kHasCompatibility).boolean(0, 0)) return;
  db.exec("BEGIN");
  try {
    db.exec(kAddCompatibility);
    for (const Migration& migration : migrations) {
      if (auto word = declared_compatibility_word(migration)) {
        db.query_once(kFillCompatibility, Params().add(migration.version).add(*word));
      }
    }
    db.exec("COMMIT");
  } catch (...) {
    end_quietly(db, "ROLLBACK");
    throw;
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

std::vector<AppliedMigration> migrations_above(Connection& db, int version) {
  Result rows = db.query_once(kAbove, Params().add(version));
  std::vector<AppliedMigration> migrations;
  for (int row = 0; row < rows.rows(); ++row) {
    migrations.push_back(AppliedMigration{.version = static_cast<int>(rows.int64(row, 0)),
                                          .name = rows.text(row, 1),
                                          .compatibility = rows.text(row, 2)});
  }
  return migrations;
}

int migrate(Connection& db) { return migrate(db, postgres_migrations()); }

int migrate(Connection& db, std::span<const Migration> migrations) {
  db.exec(kLock);
  int applied = 0;
  try {
    db.exec(kCreateTable);
    record_compatibility(db, migrations);
    int current = schema_version(db);
    if (current > highest(migrations)) {
      auto unknown = migrations_above(db, highest(migrations));
      if (auto refusal = store::newer_schema_refusal(current, highest(migrations), unknown)) {
        throw PgError(FailureKind::kInternal, "", *refusal);
      }
      log::warn(newer_compatible_schema_note(current, highest(migrations), unknown));
    }
    for (const Migration& migration : migrations) {
      if (migration.version <= current) continue;
      db.exec("BEGIN");
      try {
        db.exec(migration.sql);
        db.query_once(kRecord, Params()
                                   .add(migration.version)
                                   .add(migration.name)
                                   .add(declared_compatibility_word(migration)));
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
