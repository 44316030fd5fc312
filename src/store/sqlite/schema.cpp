#include "store/sqlite/schema.hpp"

#include <string>

#include "log/log.hpp"
#include "store/migrations.hpp"

namespace invited::store::sqlite {
namespace {

// The record of applied migrations, beside PRAGMA user_version (which stays the version): what
// a binary that does not know a migration reads to decide whether it may serve the database
// (store/migration_compatibility.hpp). `compatibility` is the migration's declared word, NULL when
// it declared none; `applied_at` Unix seconds, NULL for migrations applied before the table
// existed (filled in from this binary's declarations when the table is made).
constexpr const char* kCreateTable =
    "CREATE TABLE schema_migrations ("
    "  version       INTEGER PRIMARY KEY,"
    "  name          TEXT NOT NULL,"
    "  applied_at    INTEGER,"
    "  compatibility TEXT)";
constexpr const char* kHasTable =
    "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'";
constexpr const char* kRecord =
    "INSERT INTO schema_migrations(version, name, applied_at, compatibility) "
    "VALUES (?1, ?2, CAST(strftime('%s', 'now') AS INTEGER), ?3)";
constexpr const char* kRecordEarlier =
    "INSERT OR IGNORE INTO schema_migrations(version, name, compatibility) VALUES (?1, ?2, ?3)";
constexpr const char* kAbove =
    "SELECT version, name, coalesce(compatibility, '') FROM schema_migrations WHERE version > ?1 "
    "ORDER BY version";

bool has_record(Connection& db) {
  auto row = db.query(kHasTable);
  return row.step() && row.int64(0) > 0;
}

// Makes the record and fills in the migrations up to `current`, which this binary knows (an
// older binary refused newer databases, and a newer one made the table).
void make_record(Connection& db, int current) {
  db.exec(kCreateTable);
  for (const Migration& migration : sqlite_migrations()) {
    if (migration.version > current) break;
    db.query(kRecordEarlier)
        .bind(1, migration.version)
        .bind(2, migration.name)
        .bind(3, declared_compatibility_word(migration))
        .execute();
  }
}

// Refuses (StoreError) a database newer than this binary unless the rule allows it; logs which
// unknown migrations it serves when it does.
void check_newer(Connection& db, int current) {
  if (current <= latest_schema_version()) return;
  auto unknown = migrations_above(db, latest_schema_version());
  if (auto refusal = store::newer_schema_refusal(current, latest_schema_version(), unknown)) {
    throw StoreError(0, *refusal);
  }
  log::warn(newer_compatible_schema_note(current, latest_schema_version(), unknown));
}

}  // namespace

int latest_schema_version() {
  auto migrations = sqlite_migrations();
  return migrations.empty() ? 0 : migrations.back().version;
}

int schema_version(Connection& db) {
  static constexpr const char* kVersion = "PRAGMA user_version";
  auto row = db.query(kVersion);
  return row.step() ? static_cast<int>(row.int64(0)) : 0;
}

std::vector<AppliedMigration> migrations_above(Connection& db, int version) {
  std::vector<AppliedMigration> migrations;
  if (!has_record(db)) return migrations;
  auto rows = db.query(kAbove);
  rows.bind(1, version);
  while (rows.step()) {
    migrations.push_back(AppliedMigration{.version = static_cast<int>(rows.int64(0)),
                                          .name = rows.text(1),
                                          .compatibility = rows.text(2)});
  }
  return migrations;
}

int migrate(Connection& db) {
  // Without the write lock first: a current database (every start but the first after an
  // upgrade) needs no lock at all, so a command starts while another process writes.
  int current = schema_version(db);
  check_newer(db, current);
  bool recorded = has_record(db);
  int applied = 0;
  while (current < latest_schema_version() || !recorded) {
    // The version is read again under the write lock: another process (a second `migrate`, a
    // command) may have applied this step meanwhile, and each step must run exactly once.
    db.exec("BEGIN IMMEDIATE");
    try {
      current = schema_version(db);
      if (current > latest_schema_version()) check_newer(db, current);
      if (!has_record(db)) make_record(db, current);
      recorded = true;
      for (const Migration& migration : sqlite_migrations()) {
        if (migration.version <= current) continue;
        db.exec(migration.sql);
        db.exec("PRAGMA user_version = " + std::to_string(migration.version));
        db.query(kRecord)
            .bind(1, migration.version)
            .bind(2, migration.name)
            .bind(3, declared_compatibility_word(migration))
            .execute();
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
