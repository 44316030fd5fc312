#include "store/postgres/schema.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "store/sqlite/connection.hpp"
#include "store/sqlite/schema.hpp"
#include "test_cluster.hpp"

namespace invited::store::postgres {
namespace {

using testing::connect;
using testing::TestCluster;

// Migrations whose second step counts how often it ran: applied twice, it would say 2.
constexpr Migration kCountingMigrations[] = {
    {1, "0001_counter", "CREATE TABLE runs (step integer NOT NULL)"},
    {2, "0002_count", "INSERT INTO runs VALUES (2); SELECT pg_sleep(0.05)"},
};

class SchemaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    schema_ = TestCluster::get().fresh_schema();
    url_ = TestCluster::get().tcp_url(schema_);
    db_ = connect(url_);
  }

  std::int64_t count(const std::string& sql) { return db_->query_once(sql).int64(0, 0); }

  std::string schema_;
  std::string url_;
  std::unique_ptr<Connection> db_;
};

TEST_F(SchemaTest, MigratesAnEmptyDatabaseToTheLatestVersionOnce) {
  EXPECT_EQ(schema_version(*db_), 0);
  ASSERT_GE(latest_schema_version(), 1);
  EXPECT_EQ(migrate(*db_), static_cast<int>(postgres_migrations().size()));
  EXPECT_EQ(schema_version(*db_), latest_schema_version());
  EXPECT_EQ(migrate(*db_), 0);
  EXPECT_EQ(count("SELECT count(*) FROM schema_migrations"),
            static_cast<std::int64_t>(postgres_migrations().size()));
  EXPECT_EQ(db_->query_once("SELECT name FROM schema_migrations WHERE version = 1").text(0, 0),
            "0001_initial");
}

TEST_F(SchemaTest, InitialSchemaHasTheTablesOfTheSqliteSchema) {
  migrate(*db_);
  for (const char* table :
       {"organizations", "users", "websites", "website_groups", "group_websites",
        "organization_members", "website_members", "group_members", "api_keys", "api_key_websites",
        "invite_batches", "retired_tokens", "invites", "outbox_emails", "idempotent_responses"}) {
    EXPECT_TRUE(
        db_->query_once("SELECT to_regclass($1) IS NOT NULL", Params().add(table)).boolean(0, 0))
        << table;
  }
  // Public ids are uuid, row keys identity bigints.
  Result id = db_->query_once(
      "SELECT format_type(a.atttypid, a.atttypmod), "
      "  (SELECT attidentity FROM pg_attribute WHERE attrelid = 'users'::regclass "
      "   AND attname = 'pk')::text "
      "FROM pg_attribute a WHERE a.attrelid = 'users'::regclass AND a.attname = 'id'");
  EXPECT_EQ(id.text(0, 0), "uuid");
  EXPECT_EQ(id.text(0, 1), "a");  // GENERATED ALWAYS AS IDENTITY
}

TEST_F(SchemaTest, InitialSchemaDecidesUniquenessLikeSqlite) {
  migrate(*db_);
  db_->exec(
      "INSERT INTO organizations(id, name, created_at) VALUES (gen_random_uuid(), 'o', 0);"
      "INSERT INTO users(id, email, email_key, created_at) "
      "  VALUES (gen_random_uuid(), 'A@x.io', 'a@x.io', 0);"
      "INSERT INTO invite_batches(id, org_pk, email, token_hash, created_at, expires_at) "
      "  VALUES (gen_random_uuid(), 1, 'a@x.io', '\\x01', 0, 10)");
  auto refused = [&](const std::string& sql) {
    try {
      db_->exec(sql);
    } catch (const PgError& error) {
      return error.kind() == FailureKind::kUniqueViolation;
    }
    return false;
  };
  EXPECT_TRUE(
      refused("INSERT INTO users(id, email, email_key, created_at) VALUES (gen_random_uuid(), 'a', "
              "'a@x.io', 0)"));
  const std::string invite =
      "INSERT INTO invites(id, org_pk, batch_pk, email_key, target_kind, target_pk, role, status, "
      "created_at, expires_at) VALUES (gen_random_uuid(), 1, 1, 'a@x.io', 1, 7, 1, ";
  db_->exec(invite + "0, 0, 10)");
  // One pending invite per (email, target)...
  EXPECT_TRUE(refused(invite + "0, 0, 10)"));
  // ...but closed ones do not count.
  db_->exec(invite + "1, 0, 10)");
  db_->exec(invite + "4, 0, 10)");
  db_->exec("UPDATE invites SET status = 1 WHERE status = 0");
  db_->exec(invite + "0, 0, 10)");
  EXPECT_EQ(count("SELECT count(*) FROM invites"), 4);
  // Memberships are unique per (target, user) through their primary keys.
  db_->exec("INSERT INTO organization_members VALUES (1, 1, 3, 0)");
  EXPECT_TRUE(refused("INSERT INTO organization_members VALUES (1, 1, 1, 0)"));
  // Foreign keys are not enforced (migration 0009: they cost far more than 5 % of direct
  // throughput); the test harness checks them after every black-box test instead.
  EXPECT_EQ(count("SELECT count(*) FROM pg_constraint WHERE contype = 'f' "
                  "AND connamespace = current_schema()::regnamespace"),
            0);
}

TEST_F(SchemaTest, ConcurrentThreadsApplyEachMigrationOnce) {
  constexpr int kThreads = 8;
  std::atomic<int> applied{0};
  std::atomic<int> failures{0};
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      try {
        auto db = connect(url_);
        ready.fetch_add(1);
        while (ready.load() < kThreads) std::this_thread::yield();
        applied.fetch_add(migrate(*db, kCountingMigrations));
      } catch (const std::exception&) {
        failures.fetch_add(1);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(applied.load(), 2);
  EXPECT_EQ(count("SELECT count(*) FROM runs"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM schema_migrations"), 2);
}

TEST_F(SchemaTest, ConcurrentProcessesApplyTheRealMigrationsOnce) {
  constexpr int kProcesses = 4;
  std::vector<pid_t> children;
  int start[2];
  ASSERT_EQ(::pipe(start), 0);
  for (int i = 0; i < kProcesses; ++i) {
    pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      // Exit status: how many migrations this process applied, or 100 on failure.
      ::close(start[1]);
      int status = 100;
      try {
        auto db = connect(url_);
        char go = 0;
        if (::read(start[0], &go, 1) == 0) status = migrate(*db);
      } catch (const std::exception&) {
        status = 100;
      }
      ::_exit(status);
    }
    children.push_back(child);
  }
  ::close(start[0]);
  ::close(start[1]);  // every child connected (or is connecting): go
  int applied = 0;
  for (pid_t child : children) {
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status));
    ASSERT_NE(WEXITSTATUS(status), 100) << "a migrating process failed";
    applied += WEXITSTATUS(status);
  }
  EXPECT_EQ(applied, static_cast<int>(postgres_migrations().size()));
  EXPECT_EQ(schema_version(*db_), latest_schema_version());
}

TEST_F(SchemaTest, FailedMigrationRollsBackAloneAndReleasesTheLock) {
  constexpr Migration kBroken[] = {
      {1, "0001_ok", "CREATE TABLE kept (n integer)"},
      {2, "0002_broken", "CREATE TABLE dropped (n integer); SELECT no_such_function()"},
  };
  EXPECT_THROW(migrate(*db_, kBroken), PgError);
  EXPECT_EQ(schema_version(*db_), 1);
  EXPECT_TRUE(db_->query_once("SELECT to_regclass('kept') IS NOT NULL").boolean(0, 0));
  EXPECT_TRUE(db_->query_once("SELECT to_regclass('dropped') IS NULL").boolean(0, 0));
  // The advisory lock was released: another connection migrates at once.
  auto other = connect(url_);
  other->set_deadline(testing::after_ms(2000));
  EXPECT_EQ(migrate(*other, std::span(kBroken, 1)), 0);
}

TEST_F(SchemaTest, RefusesADatabaseNewerThanTheBinary) {
  migrate(*db_);
  db_->exec("INSERT INTO schema_migrations(version, name) VALUES (9999, '9999_future')");
  try {
    migrate(*db_);
    FAIL() << "migrated a database newer than the binary";
  } catch (const PgError& error) {
    EXPECT_NE(std::string(error.what()).find("newer than this binary"), std::string::npos);
  }
}

TEST_F(SchemaTest, RecordsEachMigrationWithTheCompatibilityItDeclares) {
  migrate(*db_);
  for (const Migration& migration : postgres_migrations()) {
    Result row = db_->query_once("SELECT compatibility FROM schema_migrations WHERE version = $1",
                                 Params().add(migration.version));
    ASSERT_EQ(row.rows(), 1) << migration.name;
    EXPECT_EQ(row.text(0, 0), compatibility_word(*declared_compatibility(migration)))
        << migration.name;
  }
}

TEST_F(SchemaTest, ARecordMadeBeforeCompatibilityWasKeptGetsItFilledIn) {
  migrate(*db_);
  db_->exec("ALTER TABLE schema_migrations DROP COLUMN compatibility");
  EXPECT_EQ(migrate(*db_), 0);
  EXPECT_EQ(count("SELECT count(*) FROM schema_migrations WHERE compatibility IS NOT NULL"),
            static_cast<std::int64_t>(postgres_migrations().size()));
}

// What a newer binary leaves behind: its migration applied (here a table) and recorded.
void apply_unknown_migration(Connection& db, int version, const std::string& name,
                             const char* compatibility) {
  db.exec("CREATE TABLE newer_" + std::to_string(version) + " (n integer)");
  db.query_once("INSERT INTO schema_migrations(version, name, compatibility) VALUES ($1, $2, $3)",
                Params().add(version).add(name).add(
                    compatibility ? std::optional<std::string>(compatibility) : std::nullopt));
}

TEST_F(SchemaTest, ServesANewerDatabaseWhoseUnknownMigrationsAreCompatible) {
  migrate(*db_);
  apply_unknown_migration(*db_, latest_schema_version() + 1, "9001_more_things", "compatible");
  apply_unknown_migration(*db_, latest_schema_version() + 2, "9002_even_more", "compatible");
  EXPECT_EQ(migrate(*db_), 0);
  EXPECT_EQ(schema_version(*db_), latest_schema_version() + 2);
  const int latest = latest_schema_version();
  EXPECT_EQ(store::schema_readiness_problem(schema_version(*db_), latest,
                                            [&] { return migrations_above(*db_, latest); }),
            std::nullopt);
}

TEST_F(SchemaTest, RefusesANewerDatabaseWithABreakingMigrationNamingIt) {
  migrate(*db_);
  apply_unknown_migration(*db_, latest_schema_version() + 1, "9001_more_things", "compatible");
  apply_unknown_migration(*db_, latest_schema_version() + 2, "9002_drop_things", "breaking");
  try {
    migrate(*db_);
    FAIL() << "served a database with a breaking migration it does not know";
  } catch (const PgError& error) {
    std::string message = error.what();
    EXPECT_NE(message.find("9002_drop_things"), std::string::npos) << message;
    EXPECT_NE(message.find("is breaking"), std::string::npos) << message;
  }
  // The lock was released on the way out: another connection gets it at once.
  auto other = connect(url_);
  other->set_deadline(testing::after_ms(2000));
  EXPECT_THROW(migrate(*other), PgError);
}

// Tables and their columns, by name, of a migrated SQLite file.
std::map<std::string, std::set<std::string>> sqlite_columns() {
  auto path = std::filesystem::temp_directory_path() /
              ("invited-schema-twin-" + std::to_string(::getpid()) + ".db");
  std::map<std::string, std::set<std::string>> columns;
  {
    sqlite::Connection db(path.string(), sqlite::Connection::Mode::kReadWrite);
    sqlite::migrate(db);
    static constexpr const char* kColumns =
        "SELECT m.name, c.name FROM sqlite_master m, pragma_table_info(m.name) c "
        "WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> 'schema_migrations'";
    sqlite::Cursor rows = db.query(kColumns);
    while (rows.step()) columns[rows.text(0)].insert(rows.text(1));
  }
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path.string() + suffix);
  return columns;
}

TEST_F(SchemaTest, MigrationsAreNumberedLikeSqlites) {
  // Each PostgreSQL migration is the twin of the SQLite migration of the same number.
  std::vector<int> sqlite_versions;
  std::vector<int> postgres_versions;
  for (const Migration& migration : sqlite_migrations())
    sqlite_versions.push_back(migration.version);
  for (const Migration& migration : postgres_migrations()) {
    postgres_versions.push_back(migration.version);
  }
  EXPECT_EQ(postgres_versions, sqlite_versions);
  EXPECT_EQ(latest_schema_version(), sqlite::latest_schema_version());
}

TEST_F(SchemaTest, LatestSchemaHasTheTablesAndColumnsOfTheSqliteSchema) {
  migrate(*db_);
  std::map<std::string, std::set<std::string>> postgres;
  Result rows = db_->query_once(
      "SELECT table_name::text, column_name::text FROM information_schema.columns "
      "WHERE table_schema = current_schema() AND table_name <> 'schema_migrations'");
  for (int row = 0; row < rows.rows(); ++row) postgres[rows.text(row, 0)].insert(rows.text(row, 1));
  // The shared rate-limit buckets (0010) exist on PostgreSQL only: SQLite's one serving process
  // keeps them in memory.
  EXPECT_EQ(postgres["rate_budgets"],
            (std::set<std::string>{"org_pk", "budget", "tokens", "granted", "updated_at"}));
  postgres.erase("rate_budgets");
  EXPECT_EQ(postgres, sqlite_columns());
  // The token left the outbox (0003); the membership rows carry the user's id (0004).
  EXPECT_EQ(postgres["outbox_emails"].count("token"), 0u);
  EXPECT_EQ(postgres["outbox_emails"].count("claimed_until"), 1u);
  // A claim names its instance (0008).
  EXPECT_EQ(postgres["outbox_emails"].count("claimed_by"), 1u);
  EXPECT_EQ(postgres["website_members"].count("user_id"), 1u);
}

TEST_F(SchemaTest, LatestSchemaHasTheIndexesOfTheSqliteSchema) {
  migrate(*db_);
  for (const char* index :
       {"invite_batches_by_previous_token", "organization_members_by_time",
        "website_members_by_time", "group_members_by_time", "websites_live_by_time",
        "website_groups_live_by_time", "api_keys_by_time", "invite_batches_by_time",
        "invites_pending_by_email", "invites_one_pending"}) {
    EXPECT_TRUE(
        db_->query_once("SELECT to_regclass($1) IS NOT NULL", Params().add(index)).boolean(0, 0))
        << index;
  }
  // 0004 replaced the batches' row-key index by the time-ordered one.
  EXPECT_TRUE(db_->query_once("SELECT to_regclass('invite_batches_by_org') IS NULL").boolean(0, 0));
  // 0011: the pending invites are found by address through a hash index, and by target through
  // the unique index, which leads with the target (SQLite's invites_pending_by_target goes).
  EXPECT_TRUE(
      db_->query_once("SELECT to_regclass('invites_pending_by_target') IS NULL").boolean(0, 0));
  EXPECT_NE(db_->query_once("SELECT pg_get_indexdef('invites_pending_by_email'::regclass)")
                .text(0, 0)
                .find("USING hash (email_key) WHERE (status = 0)"),
            std::string::npos);
  // The partial indexes hold only what they say.
  EXPECT_NE(db_->query_once("SELECT pg_get_indexdef('invites_one_pending'::regclass)")
                .text(0, 0)
                .find("(target_kind, target_pk, email_key) WHERE (status = 0)"),
            std::string::npos);
  EXPECT_NE(db_->query_once("SELECT pg_get_indexdef('websites_live_by_time'::regclass)")
                .text(0, 0)
                .find("WHERE (deleted_at IS NULL)"),
            std::string::npos);
}

TEST_F(SchemaTest, LaterMigrationsKeepTheRowsOfEarlierOnes) {
  // A database at version 1 with a membership and a queued email with its plain token moves to
  // the latest version: the membership gains its user's id, the token is erased.
  migrate(*db_, postgres_migrations().first(1));
  db_->exec(
      "INSERT INTO organizations(id, name, created_at) VALUES (gen_random_uuid(), 'o', 0);"
      "INSERT INTO users(id, email, email_key, created_at) "
      "  VALUES ('00000000-0000-7000-8000-000000000001', 'a@x.io', 'a@x.io', 0);"
      "INSERT INTO organization_members VALUES (1, 1, 3, 5);"
      "INSERT INTO invite_batches(id, org_pk, email, token_hash, created_at, expires_at) "
      "  VALUES (gen_random_uuid(), 1, 'a@x.io', '\\x01', 0, 10);"
      "INSERT INTO outbox_emails(message_id, batch_pk, to_address, token, next_attempt_ms, "
      "  created_at) VALUES (gen_random_uuid(), 1, 'a@x.io', 'plain-token', 0, 0)");
  EXPECT_EQ(migrate(*db_), static_cast<int>(postgres_migrations().size()) - 1);
  EXPECT_EQ(db_->query_once("SELECT user_id::text FROM organization_members").text(0, 0),
            "00000000-0000-7000-8000-000000000001");
  EXPECT_EQ(count("SELECT count(*) FROM outbox_emails WHERE claimed_until IS NULL"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM outbox_emails WHERE claimed_by IS NULL"), 1);
  EXPECT_EQ(count("SELECT probes FROM write_probe WHERE id = 1"), 0);
}

TEST_F(SchemaTest, LaterTablesDecideUniquenessLikeSqlite) {
  migrate(*db_);
  auto refused = [&](const std::string& sql) {
    try {
      db_->exec(sql);
    } catch (const PgError& error) {
      return error.kind() != FailureKind::kUnavailable;
    }
    return false;
  };
  db_->exec(
      "INSERT INTO users(id, email, email_key, created_at) "
      "  VALUES (gen_random_uuid(), 'a@x.io', 'a@x.io', 0);"
      "INSERT INTO removed_memberships VALUES (1, 7, 1, 0, 5)");
  // One removed membership per (target, user).
  EXPECT_TRUE(refused("INSERT INTO removed_memberships VALUES (1, 7, 1, 1, 6)"));
  db_->exec("INSERT INTO removed_memberships VALUES (2, 7, 1, 1, 6)");
  // The write probe is one row.
  EXPECT_TRUE(refused("INSERT INTO write_probe VALUES (2, 0, 0)"));
  EXPECT_EQ(count("SELECT count(*) FROM write_probe"), 1);
}

}  // namespace
}  // namespace invited::store::postgres
