// The SQLite store's side of migration compatibility (store/migration_compatibility.hpp): the
// record it keeps of each applied migration, and what it does with a database that a newer
// binary migrated.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <future>
#include <string>

#include "domain/uuid.hpp"
#include "store/migration_compatibility.hpp"
#include "store/migrations.hpp"
#include "store/sqlite/connection.hpp"
#include "store/sqlite/schema.hpp"
#include "store/sqlite/sqlite_store.hpp"

namespace invited::store::sqlite {
namespace {

class SqliteSchemaCompatibility : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = (std::filesystem::temp_directory_path() /
             ("invited_unit_compat_" + std::to_string(::getpid()) + "_" + domain::Uuid::v4().str() +
              ".db"))
                .string();
    db_ = std::make_unique<Connection>(path_, Connection::Mode::kReadWrite);
  }
  void TearDown() override {
    db_.reset();
    std::error_code ignored;
    for (const char* suffix : {"", "-wal", "-shm", "-journal", ".lock"}) {
      std::filesystem::remove(path_ + suffix, ignored);
    }
  }

  std::string text(const char* sql) {
    auto row = db_->query(sql);
    return row.step() ? row.text(0) : "(no row)";
  }

  // What a newer binary leaves behind: its migration applied (here a table) and recorded.
  void apply_unknown_migration(int version, const std::string& name,
                               const std::string& compatibility) {
    db_->exec("BEGIN IMMEDIATE; CREATE TABLE newer_" + std::to_string(version) +
              " (n INTEGER); INSERT INTO schema_migrations(version, name, applied_at, "
              "compatibility) VALUES (" +
              std::to_string(version) + ", '" + name + "', 0, " +
              (compatibility.empty() ? "NULL" : "'" + compatibility + "'") +
              "); PRAGMA user_version = " + std::to_string(version) + "; COMMIT");
  }

  domain::Status readiness() {
    SqliteStore::Options options;
    options.path = path_;
    options.readers = 1;
    SqliteStore store(options, [](std::function<void()> task) { task(); });
    std::promise<domain::Status> ready;
    store.check_ready([&](domain::Status status) { ready.set_value(status); });
    return ready.get_future().get();
  }

  std::string path_;
  std::unique_ptr<Connection> db_;
};

TEST_F(SqliteSchemaCompatibility, RecordsEachMigrationWithTheCompatibilityItDeclares) {
  migrate(*db_);
  static constexpr const char* kCount = "SELECT count(*) FROM schema_migrations";
  EXPECT_EQ(text(kCount), std::to_string(sqlite_migrations().size()));
  for (const Migration& migration : sqlite_migrations()) {
    auto row = db_->query(
        "SELECT name, compatibility, applied_at IS NOT NULL FROM schema_migrations WHERE "
        "version = ?1");
    row.bind(1, migration.version);
    ASSERT_TRUE(row.step()) << migration.name;
    EXPECT_EQ(row.text(0), migration.name);
    EXPECT_EQ(row.text(1), compatibility_word(*declared_compatibility(migration)));
    EXPECT_EQ(row.int64(2), 1) << "applied now, so its time is known";
  }
}

TEST_F(SqliteSchemaCompatibility, ADatabaseMigratedBeforeTheRecordExistedGetsItFilledIn) {
  migrate(*db_);
  db_->exec("DROP TABLE schema_migrations");
  EXPECT_EQ(migrate(*db_), 0);
  EXPECT_EQ(text("SELECT count(*) FROM schema_migrations WHERE compatibility IS NOT NULL"),
            std::to_string(sqlite_migrations().size()));
  EXPECT_EQ(text("SELECT count(*) FROM schema_migrations WHERE applied_at IS NULL"),
            std::to_string(sqlite_migrations().size()))
      << "when they were applied is not known";
}

TEST_F(SqliteSchemaCompatibility, ServesANewerDatabaseWhoseUnknownMigrationsAreCompatible) {
  migrate(*db_);
  const int latest = latest_schema_version();
  apply_unknown_migration(latest + 1, "9001_more_things", "compatible");
  apply_unknown_migration(latest + 2, "9002_even_more", "compatible");
  EXPECT_EQ(migrate(*db_), 0);
  EXPECT_EQ(schema_version(*db_), latest + 2) << "left as the newer binary made it";
  domain::Status ready = readiness();
  EXPECT_TRUE(ready.ok()) << ready.error().message;
}

TEST_F(SqliteSchemaCompatibility, RefusesANewerDatabaseWithABreakingMigrationNamingIt) {
  migrate(*db_);
  const int latest = latest_schema_version();
  apply_unknown_migration(latest + 1, "9001_more_things", "compatible");
  apply_unknown_migration(latest + 2, "9002_drop_things", "breaking");
  try {
    migrate(*db_);
    FAIL() << "served a database with a breaking migration it does not know";
  } catch (const StoreError& error) {
    std::string message = error.what();
    EXPECT_NE(message.find("9002_drop_things"), std::string::npos) << message;
    EXPECT_NE(message.find("is breaking"), std::string::npos) << message;
    EXPECT_NE(message.find("newer than this binary"), std::string::npos) << message;
  }
  EXPECT_THROW(readiness(), StoreError) << "the store refuses to open";
}

TEST_F(SqliteSchemaCompatibility, AnUnknownMigrationWithoutACompatibilityIsRefused) {
  migrate(*db_);
  apply_unknown_migration(latest_schema_version() + 1, "9001_unmarked", "");
  try {
    migrate(*db_);
    FAIL() << "served a database with an unknown migration that declares nothing";
  } catch (const StoreError& error) {
    EXPECT_NE(std::string(error.what()).find("9001_unmarked"), std::string::npos) << error.what();
  }
}

TEST_F(SqliteSchemaCompatibility, ABreakingMigrationAppliedBesideARunningServerMakesItUnready) {
  migrate(*db_);
  SqliteStore::Options options;
  options.path = path_;
  options.readers = 1;
  SqliteStore store(options, [](std::function<void()> task) { task(); });
  auto ready = [&] {
    std::promise<domain::Status> done;
    store.check_ready([&](domain::Status status) { done.set_value(status); });
    return done.get_future().get();
  };
  ASSERT_TRUE(ready().ok());
  apply_unknown_migration(latest_schema_version() + 1, "9001_more_things", "compatible");
  domain::Status compatible = ready();
  EXPECT_TRUE(compatible.ok()) << compatible.error().message;
  apply_unknown_migration(latest_schema_version() + 2, "9002_drop_things", "breaking");
  domain::Status breaking = ready();
  ASSERT_FALSE(breaking.ok());
  EXPECT_EQ(breaking.error().code, domain::ErrorCode::kUnavailable);
  EXPECT_NE(breaking.error().message.find("9002_drop_things"), std::string::npos)
      << breaking.error().message;
}

}  // namespace
}  // namespace invited::store::sqlite
