#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "store/migration_compatibility.hpp"

namespace invited::store {
namespace {

TEST(MigrationCompatibility, ReadsTheFirstLine) {
  EXPECT_EQ(declared_compatibility("-- compatibility: compatible\nCREATE INDEX i ON t(a);"),
            Compatibility::kCompatible);
  EXPECT_EQ(declared_compatibility("-- compatibility: breaking\nALTER TABLE t DROP COLUMN a;"),
            Compatibility::kBreaking);
  EXPECT_EQ(declared_compatibility("-- compatibility: breaking  \r\nSELECT 1;"),
            Compatibility::kBreaking);
  EXPECT_EQ(declared_compatibility("-- compatibility: compatible"), Compatibility::kCompatible);
}

TEST(MigrationCompatibility, AnythingElseDeclaresNothing) {
  EXPECT_EQ(declared_compatibility(""), std::nullopt);
  EXPECT_EQ(declared_compatibility("CREATE TABLE t (a integer);"), std::nullopt);
  EXPECT_EQ(declared_compatibility("-- compatibility: maybe\nSELECT 1;"), std::nullopt);
  EXPECT_EQ(declared_compatibility("-- compatibility: Compatible\nSELECT 1;"), std::nullopt);
  // Only the first line counts.
  EXPECT_EQ(declared_compatibility("-- adds t\n-- compatibility: compatible\nSELECT 1;"),
            std::nullopt);
}

TEST(MigrationCompatibility, EveryMigrationDeclaresItAndTwinsAgree) {
  std::map<int, Compatibility> sqlite;
  for (const Migration& migration : sqlite_migrations()) {
    auto declared = declared_compatibility(migration);
    ASSERT_TRUE(declared.has_value())
        << "src/store/sqlite/migrations/" << migration.name
        << ".sql: the first line must be `-- compatibility: compatible` or "
           "`-- compatibility: breaking`";
    sqlite[migration.version] = *declared;
  }
  for (const Migration& migration : postgres_migrations()) {
    auto declared = declared_compatibility(migration);
    ASSERT_TRUE(declared.has_value())
        << "src/store/postgres/migrations/" << migration.name
        << ".sql: the first line must be `-- compatibility: compatible` or "
           "`-- compatibility: breaking`";
    auto twin = sqlite.find(migration.version);
    if (twin == sqlite.end()) continue;  // MigrationsAreNumberedLikeSqlites checks the numbers
    EXPECT_EQ(*declared, twin->second)
        << migration.name << " declares another compatibility than its SQLite twin";
  }
  // The rule's words are the header's.
  EXPECT_EQ(compatibility_word(Compatibility::kCompatible), "compatible");
  EXPECT_EQ(compatibility_word(Compatibility::kBreaking), "breaking");
}

TEST(MigrationCompatibility, ADatabaseNotNewerIsAlwaysServed) {
  EXPECT_EQ(newer_schema_refusal(9, 9, {}), std::nullopt);
  EXPECT_EQ(newer_schema_refusal(4, 9, {}), std::nullopt);
  // Rows at or below the binary's version are its own business, whatever they record.
  std::vector<AppliedMigration> known = {{.version = 9, .name = "0009_x", .compatibility = ""}};
  EXPECT_EQ(newer_schema_refusal(9, 9, known), std::nullopt);
}

TEST(MigrationCompatibility, NewerWithOnlyCompatibleMigrationsIsServed) {
  std::vector<AppliedMigration> unknown = {
      {.version = 12, .name = "0012_more_indexes", .compatibility = "compatible"},
      {.version = 10, .name = "0010_events", .compatibility = "compatible"},
  };
  EXPECT_EQ(newer_schema_refusal(12, 9, unknown), std::nullopt);
  std::string note = newer_compatible_schema_note(12, 9, unknown);
  EXPECT_NE(note.find("0010_events, 0012_more_indexes"), std::string::npos) << note;
  EXPECT_NE(note.find("compatible"), std::string::npos) << note;
}

TEST(MigrationCompatibility, NewerWithABreakingMigrationIsRefusedNamingIt) {
  std::vector<AppliedMigration> unknown = {
      {.version = 11, .name = "0011_drop_token", .compatibility = "breaking"},
      {.version = 10, .name = "0010_events", .compatibility = "compatible"},
      {.version = 12, .name = "0012_rename", .compatibility = "breaking"},
  };
  auto refusal = newer_schema_refusal(12, 9, unknown);
  ASSERT_TRUE(refusal.has_value());
  EXPECT_NE(refusal->find("database schema version 12 is newer than this binary (9)"),
            std::string::npos)
      << *refusal;
  // The lowest breaking one: the first this binary cannot live with.
  EXPECT_NE(refusal->find("migration 11 (0011_drop_token) is breaking"), std::string::npos)
      << *refusal;
  EXPECT_EQ(refusal->find("0012_rename"), std::string::npos) << *refusal;
  EXPECT_NE(refusal->find("upgrade invited"), std::string::npos) << *refusal;
}

TEST(MigrationCompatibility, AnUnknownMigrationWithoutARecordedCompatibilityCountsAsBreaking) {
  std::vector<AppliedMigration> unknown = {
      {.version = 10, .name = "0010_events", .compatibility = "compatible"},
      {.version = 11, .name = "0011_mystery", .compatibility = ""},
  };
  auto refusal = newer_schema_refusal(11, 9, unknown);
  ASSERT_TRUE(refusal.has_value());
  EXPECT_NE(refusal->find("0011_mystery"), std::string::npos) << *refusal;
  EXPECT_NE(refusal->find("records no compatibility"), std::string::npos) << *refusal;
  // A word the rule does not know is no promise either.
  unknown[1].compatibility = "probably";
  EXPECT_TRUE(newer_schema_refusal(11, 9, unknown).has_value());
}

TEST(MigrationCompatibility, AVersionWithNoRecordAtAllIsRefused) {
  // The version says 11, but only 10 is recorded: 11 is unknown in every sense.
  std::vector<AppliedMigration> unknown = {
      {.version = 10, .name = "0010_events", .compatibility = "compatible"},
  };
  auto refusal = newer_schema_refusal(11, 9, unknown);
  ASSERT_TRUE(refusal.has_value());
  EXPECT_NE(refusal->find("no migration of version 11 is recorded"), std::string::npos) << *refusal;
  EXPECT_TRUE(newer_schema_refusal(10, 9, {}).has_value());
}

}  // namespace
}  // namespace invited::store
