#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "domain/email.hpp"
#include "domain/secret.hpp"
#include "store/migrations.hpp"
#include "store/sqlite/connection.hpp"
#include "store/sqlite/schema.hpp"
#include "store/sqlite/serve_lock.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "store/sqlite/transaction.hpp"

namespace invited::store::sqlite {
namespace {

using domain::InviteStatus;
using domain::Pk;
using domain::Role;
using domain::Target;
using domain::TargetKind;
using domain::Uuid;

// A database file in the temporary directory, removed (with its WAL files) afterwards.
class TempDatabase {
 public:
  TempDatabase() {
    static std::atomic<int> counter{0};
    auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = std::string("invited_unit_") + (info ? info->name() : "test") + "_" +
                       std::to_string(::getpid()) + "_" + std::to_string(counter++) + "_" +
                       Uuid::v4().str() + ".db";
    std::replace(name.begin(), name.end(), '/', '_');  // parameterized tests: "Name/0"
    path_ = std::filesystem::temp_directory_path() / name;
  }
  ~TempDatabase() {
    std::error_code ignored;
    for (const char* suffix : {"", "-wal", "-shm", "-journal", ".lock"}) {
      std::filesystem::remove(path_.string() + suffix, ignored);
    }
  }
  TempDatabase(const TempDatabase&) = delete;
  TempDatabase& operator=(const TempDatabase&) = delete;

  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

constexpr domain::UnixSeconds kNow = 1'795'692'627;

// Raw SQL for checks the domain interface does not offer. Named constants: the statement cache
// is keyed by address.
constexpr const char* kCountUsers = "SELECT COUNT(*) FROM users";
constexpr const char* kCountUsersWithKey = "SELECT COUNT(*) FROM users WHERE email_key = ?1";
constexpr const char* kInviteStatus = "SELECT status FROM invites WHERE id = ?1";
constexpr const char* kDeleteGroup = "UPDATE website_groups SET deleted_at = ?2 WHERE pk = ?1";

std::int64_t count_users(Connection& db) {
  auto row = db.query(kCountUsers);
  return row.step() ? row.int64(0) : -1;
}

std::int64_t count_users_with_key(Connection& db, std::string_view key) {
  auto row = db.query(kCountUsersWithKey);
  row.bind(1, key);
  return row.step() ? row.int64(0) : -1;
}

int invite_status(Connection& db, const Uuid& id) {
  auto row = db.query(kInviteStatus);
  row.bind(1, id);
  return row.step() ? static_cast<int>(row.int64(0)) : -1;
}

domain::UserRef insert_user(domain::WriteTx& tx, std::string_view address,
                            domain::UnixSeconds created_at = kNow) {
  auto email = domain::Email::parse(address);
  if (!email) throw std::invalid_argument("bad test email");
  return tx.insert_user_if_absent(domain::NewUser{.id = Uuid::v7(created_at * 1000),
                                                  .email_address = email->address(),
                                                  .email_key = email->key(),
                                                  .first_name = std::nullopt,
                                                  .last_name = std::nullopt,
                                                  .email_verified = false,
                                                  .created_at = created_at});
}

// "<prefix><n>@example.com". (Built by appending: GCC 12 at -O3 warns falsely about
// "literal" + std::string.)
std::string numbered_email(std::string_view prefix, int n) {
  std::string email(prefix);
  email += std::to_string(n);
  email += "@example.com";
  return email;
}

// A migrated database with a Transaction on one read-write connection (autocommit).
class SqliteTransaction : public ::testing::Test {
 protected:
  void SetUp() override {
    db = std::make_unique<Connection>(file.path(), Connection::Mode::kReadWrite);
    migrate(*db);
    tx = std::make_unique<Transaction>(*db);
    org = tx->insert_organization(Uuid::v4(), "Acme", kNow);
    website = tx->insert_website(org.pk, Uuid::v4(), "https://a.example", "A", kNow);
  }
  void TearDown() override {
    tx.reset();
    db.reset();
  }

  Pk insert_batch() {
    return tx->insert_batch(domain::NewBatch{.id = Uuid::v4(),
                                             .org_pk = org.pk,
                                             .email_address = "ann@example.com",
                                             .first_name = std::nullopt,
                                             .last_name = std::nullopt,
                                             .token_hash = domain::issue_secret("").hash,
                                             .created_at = kNow,
                                             .expires_at = kNow + 86400});
  }

  Uuid insert_invite(Pk batch_pk, std::string_view key, Target target,
                     domain::UnixSeconds expires_at = kNow + 86400) {
    Uuid id = Uuid::v4();
    tx->insert_invite(domain::NewInvite{.id = id,
                                        .org_pk = org.pk,
                                        .batch_pk = batch_pk,
                                        .email_key = key,
                                        .target = target,
                                        .role = Role::kViewer,
                                        .created_at = kNow,
                                        .expires_at = expires_at});
    return id;
  }

  TempDatabase file;
  std::unique_ptr<Connection> db;
  std::unique_ptr<Transaction> tx;
  domain::Organization org;
  domain::Website website;
};

TEST(SqliteSchema, MigrateIsIdempotent) {
  TempDatabase file;
  ASSERT_GE(latest_schema_version(), 1);
  {
    Connection db(file.path(), Connection::Mode::kReadWrite);
    EXPECT_EQ(schema_version(db), 0);
    EXPECT_EQ(migrate(db), static_cast<int>(sqlite_migrations().size()));
    EXPECT_EQ(schema_version(db), latest_schema_version());
    EXPECT_EQ(migrate(db), 0);
    EXPECT_EQ(schema_version(db), latest_schema_version());
  }
  Connection reopened(file.path(), Connection::Mode::kReadWrite);
  EXPECT_EQ(schema_version(reopened), latest_schema_version());
  EXPECT_EQ(migrate(reopened), 0);
}

TEST(SqliteSchema, ConcurrentMigrationsApplyEachStepOnce) {
  TempDatabase file;
  constexpr int kProcesses = 4;
  std::vector<std::future<int>> applied;
  for (int i = 0; i < kProcesses; ++i) {
    applied.push_back(std::async(std::launch::async, [&file] {
      Connection db(file.path(), Connection::Mode::kReadWrite);
      return migrate(db);
    }));
  }
  int total = 0;
  for (auto& count : applied) total += count.get();
  EXPECT_EQ(total, static_cast<int>(sqlite_migrations().size()));
  Connection db(file.path(), Connection::Mode::kReadOnly);
  EXPECT_EQ(schema_version(db), latest_schema_version());
}

TEST(SqliteSchema, RefusesDatabaseNewerThanBinary) {
  TempDatabase file;
  Connection db(file.path(), Connection::Mode::kReadWrite);
  migrate(db);
  db.exec("PRAGMA user_version = " + std::to_string(latest_schema_version() + 1));
  EXPECT_THROW(migrate(db), StoreError);
}

TEST(SqliteErrors, StorageConditionsAreTransientAndAnswerUnavailable) {
  for (int code : {SQLITE_BUSY, SQLITE_BUSY_SNAPSHOT, SQLITE_BUSY_TIMEOUT, SQLITE_LOCKED,
                   SQLITE_FULL, SQLITE_READONLY, SQLITE_READONLY_DBMOVED, SQLITE_IOERR,
                   SQLITE_IOERR_WRITE, SQLITE_IOERR_FSYNC, SQLITE_IOERR_SHMSIZE, SQLITE_CANTOPEN,
                   SQLITE_PROTOCOL, SQLITE_NOMEM, SQLITE_INTERRUPT, SQLITE_SCHEMA}) {
    EXPECT_TRUE(is_transient_failure(code)) << sqlite3_errstr(code);
    EXPECT_TRUE(StoreError(code, "x").transient()) << code;
    auto error = storage_error(code);
    EXPECT_EQ(error.code, domain::ErrorCode::kUnavailable) << code;
    EXPECT_FALSE(error.message.empty()) << code;
  }
  EXPECT_NE(storage_error(SQLITE_BUSY).message.find("locked"), std::string::npos);
  EXPECT_NE(storage_error(SQLITE_FULL).message.find("disk is full"), std::string::npos);
  EXPECT_NE(storage_error(SQLITE_READONLY).message.find("read-only"), std::string::npos);
}

TEST(SqliteErrors, BugsAndBrokenFilesAreInternal) {
  for (int code : {0, SQLITE_ERROR, SQLITE_INTERNAL, SQLITE_PERM, SQLITE_ABORT, SQLITE_CORRUPT,
                   SQLITE_NOTFOUND, SQLITE_TOOBIG, SQLITE_CONSTRAINT, SQLITE_CONSTRAINT_UNIQUE,
                   SQLITE_CONSTRAINT_PRIMARYKEY, SQLITE_MISMATCH, SQLITE_MISUSE, SQLITE_RANGE,
                   SQLITE_NOTADB, SQLITE_AUTH}) {
    EXPECT_FALSE(is_transient_failure(code)) << code;
    EXPECT_EQ(storage_error(code).code, domain::ErrorCode::kInternal) << code;
  }
}

TEST(ServeLock, SecondServerOnTheSameDatabaseIsRefusedUntilTheFirstLetsGo) {
  TempDatabase file;
  {
    ServeLock first(file.path());
    try {
      ServeLock second(file.path());
      ADD_FAILURE() << "a second lock on the same database was granted";
    } catch (const StoreError& error) {
      std::string message = error.what();
      EXPECT_NE(message.find(file.path()), std::string::npos) << message;
      EXPECT_NE(message.find("already serving"), std::string::npos) << message;
    }
    TempDatabase other;
    ServeLock unrelated(other.path());  // another database is another lock
  }
  ServeLock again(file.path());
}

TEST_F(SqliteTransaction, InsertUserIfAbsentReturnsExistingUserForSameKey) {
  auto first = insert_user(*tx, "Ann.Lee@Example.com");
  auto second = insert_user(*tx, "ANN.LEE@example.COM");
  EXPECT_EQ(second.pk, first.pk);
  EXPECT_EQ(second.id, first.id);
  EXPECT_EQ(count_users(*db), 1);
  auto found = tx->find_user("ann.lee@example.com");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->pk, first.pk);
  EXPECT_EQ(found->id, first.id);
  EXPECT_FALSE(tx->find_user("ANN.LEE@EXAMPLE.COM"));  // lookups take the folded key
}

TEST_F(SqliteTransaction, InsertUserIfAbsentCreatesDistinctUsers) {
  auto ann = insert_user(*tx, "ann@example.com");
  auto bob = insert_user(*tx, "bob@example.com");
  EXPECT_NE(ann.pk, bob.pk);
  EXPECT_NE(ann.id, bob.id);
  EXPECT_EQ(count_users(*db), 2);
}

TEST_F(SqliteTransaction, AddMembershipIfAbsentIsTrueOnceThenFalse) {
  auto user = insert_user(*tx, "ann@example.com");
  auto group_pk = tx->insert_group(org.pk, Uuid::v4(), "G", {website.pk}, kNow);
  for (Target target :
       {Target{TargetKind::kOrganization, org.pk}, Target{TargetKind::kWebsite, website.pk},
        Target{TargetKind::kGroup, group_pk}}) {
    EXPECT_FALSE(tx->has_membership(target, user.pk));
    EXPECT_TRUE(tx->add_membership_if_absent(target, user.pk, Role::kViewer, kNow));
    EXPECT_TRUE(tx->has_membership(target, user.pk));
    EXPECT_FALSE(tx->add_membership_if_absent(target, user.pk, Role::kAdmin, kNow));
  }
  // Membership of one kind does not leak into another with the same pk.
  auto other = insert_user(*tx, "bob@example.com");
  EXPECT_TRUE(tx->add_membership_if_absent({TargetKind::kWebsite, website.pk}, other.pk,
                                           Role::kViewer, kNow));
  EXPECT_FALSE(tx->has_membership({TargetKind::kGroup, website.pk}, other.pk));
}

TEST_F(SqliteTransaction, OnlyOnePendingInvitePerEmailAndTarget) {
  Target target{TargetKind::kWebsite, website.pk};
  Pk batch = insert_batch();
  Uuid first = insert_invite(batch, "ann@example.com", target);
  EXPECT_TRUE(tx->has_pending_invites(org.pk, "ann@example.com"));
  EXPECT_THROW(insert_invite(insert_batch(), "ann@example.com", target), StoreError);

  // Another email or another target is fine.
  EXPECT_NO_THROW(insert_invite(batch, "bob@example.com", target));
  EXPECT_NO_THROW(insert_invite(batch, "ann@example.com", {TargetKind::kGroup, website.pk}));

  tx->close_pending_invites(target, "ann@example.com", InviteStatus::kRevoked, kNow);
  EXPECT_EQ(invite_status(*db, first), static_cast<int>(InviteStatus::kRevoked));
  Uuid second;
  EXPECT_NO_THROW(second = insert_invite(insert_batch(), "ann@example.com", target));
  EXPECT_EQ(invite_status(*db, second), static_cast<int>(InviteStatus::kPending));
}

TEST_F(SqliteTransaction, ClosePendingInvitesClosesOnlyThatEmailAndTarget) {
  Target target{TargetKind::kWebsite, website.pk};
  auto other_site = tx->insert_website(org.pk, Uuid::v4(), "https://b.example", "B", kNow);
  Pk batch = insert_batch();
  Uuid ann = insert_invite(batch, "ann@example.com", target);
  Uuid ann_elsewhere =
      insert_invite(batch, "ann@example.com", {TargetKind::kWebsite, other_site.pk});
  Uuid bob = insert_invite(batch, "bob@example.com", target);
  tx->close_pending_invites(target, "ann@example.com", InviteStatus::kAccepted, kNow);
  EXPECT_EQ(invite_status(*db, ann), static_cast<int>(InviteStatus::kAccepted));
  EXPECT_EQ(invite_status(*db, ann_elsewhere), static_cast<int>(InviteStatus::kPending));
  EXPECT_EQ(invite_status(*db, bob), static_cast<int>(InviteStatus::kPending));
}

TEST_F(SqliteTransaction, ClosePendingInvitesMarksAlreadyExpiredOnesExpired) {
  Target target{TargetKind::kWebsite, website.pk};
  Pk batch = insert_batch();
  Uuid expired = insert_invite(batch, "ann@example.com", target, /*expires_at=*/kNow - 10);
  tx->close_pending_invites(target, "ann@example.com", InviteStatus::kAccepted, kNow);
  EXPECT_EQ(invite_status(*db, expired), 3);  // kExpired, not the requested kAccepted
  EXPECT_EQ(static_cast<int>(InviteStatus::kExpired), 3);

  Uuid live = insert_invite(batch, "ann@example.com", target, /*expires_at=*/kNow + 10);
  tx->close_pending_invites(target, "ann@example.com", InviteStatus::kRevoked, kNow);
  EXPECT_EQ(invite_status(*db, live), static_cast<int>(InviteStatus::kRevoked));
  EXPECT_FALSE(tx->has_pending_invites(org.pk, "ann@example.com"));
}

TEST_F(SqliteTransaction, HasPendingInvitesIsPerOrganization) {
  Target target{TargetKind::kWebsite, website.pk};
  insert_invite(insert_batch(), "ann@example.com", target);
  auto other = tx->insert_organization(Uuid::v4(), "Other", kNow);
  EXPECT_TRUE(tx->has_pending_invites(org.pk, "ann@example.com"));
  EXPECT_FALSE(tx->has_pending_invites(other.pk, "ann@example.com"));
  EXPECT_FALSE(tx->has_pending_invites(org.pk, "bob@example.com"));
}

// list_website_members: SPEC §1 access rules.
TEST_F(SqliteTransaction, ListWebsiteMembersReportsStrongestRoleAndAccessType) {
  auto other_site = tx->insert_website(org.pk, Uuid::v4(), "https://b.example", "B", kNow);
  Pk group = tx->insert_group(org.pk, Uuid::v4(), "Holds A", {website.pk, other_site.pk}, kNow);
  Pk other_group = tx->insert_group(org.pk, Uuid::v4(), "Only B", {other_site.pk}, kNow);
  Pk deleted_group = tx->insert_group(org.pk, Uuid::v4(), "Gone", {website.pk}, kNow);
  db->query(kDeleteGroup).bind(1, deleted_group).bind(2, kNow).execute();
  auto other_org = tx->insert_organization(Uuid::v4(), "Other", kNow);

  auto add = [&](std::string_view email, TargetKind kind, Pk pk, Role role,
                 domain::UnixSeconds at) {
    auto user = insert_user(*tx, email);
    EXPECT_TRUE(tx->add_membership_if_absent({kind, pk}, user.pk, role, at));
    return user;
  };
  auto owner = add("owner@example.com", TargetKind::kOrganization, org.pk, Role::kOwner, 100);
  auto grouped = add("grouped@example.com", TargetKind::kGroup, group, Role::kViewer, 101);
  auto direct = add("direct@example.com", TargetKind::kWebsite, website.pk, Role::kAdmin, 102);
  // Viewer directly, admin through the group: admin through the group wins.
  auto both = add("both@example.com", TargetKind::kWebsite, website.pk, Role::kViewer, 103);
  EXPECT_TRUE(
      tx->add_membership_if_absent({TargetKind::kGroup, group}, both.pk, Role::kAdmin, 104));
  // Admin of the organization and viewer directly: the organization's admin wins.
  auto org_admin =
      add("orgadmin@example.com", TargetKind::kWebsite, website.pk, Role::kViewer, 105);
  EXPECT_TRUE(tx->add_membership_if_absent({TargetKind::kOrganization, org.pk}, org_admin.pk,
                                           Role::kAdmin, 106));
  // Admin both directly and through the group: a tie goes to the direct access.
  auto tie = add("tie@example.com", TargetKind::kGroup, group, Role::kAdmin, 107);
  EXPECT_TRUE(
      tx->add_membership_if_absent({TargetKind::kWebsite, website.pk}, tie.pk, Role::kAdmin, 108));
  // None of these reach the website.
  add("othergroup@example.com", TargetKind::kGroup, other_group, Role::kAdmin, 109);
  add("othersite@example.com", TargetKind::kWebsite, other_site.pk, Role::kAdmin, 110);
  add("deletedgroup@example.com", TargetKind::kGroup, deleted_group, Role::kAdmin, 111);
  add("otherorg@example.com", TargetKind::kOrganization, other_org.pk, Role::kOwner, 112);

  auto page = tx->list_website_members(org.pk, website.pk, {.num = 0, .size = 100});
  EXPECT_EQ(page.total, 6);
  ASSERT_EQ(page.items.size(), 6u);

  struct Expected {
    Uuid user_id;
    std::string email;
    Role role;
    domain::AccessType access;
    domain::UnixSeconds created_at;
  };
  // Ordered by when each gained the access reported.
  std::vector<Expected> expected = {
      {owner.id, "owner@example.com", Role::kOwner, domain::AccessType::kOrganization, 100},
      {grouped.id, "grouped@example.com", Role::kViewer, domain::AccessType::kGroup, 101},
      {direct.id, "direct@example.com", Role::kAdmin, domain::AccessType::kWebsite, 102},
      {both.id, "both@example.com", Role::kAdmin, domain::AccessType::kGroup, 104},
      {org_admin.id, "orgadmin@example.com", Role::kAdmin, domain::AccessType::kOrganization, 106},
      {tie.id, "tie@example.com", Role::kAdmin, domain::AccessType::kWebsite, 108},
  };
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const auto& member = page.items[i];
    EXPECT_EQ(member.user_id, expected[i].user_id) << i;
    EXPECT_EQ(member.email, expected[i].email) << i;
    EXPECT_EQ(member.role, expected[i].role) << expected[i].email;
    EXPECT_EQ(member.access_type, expected[i].access) << expected[i].email;
    EXPECT_EQ(member.created_at, expected[i].created_at) << expected[i].email;
    EXPECT_FALSE(member.email_verified);
  }

  auto second_page = tx->list_website_members(org.pk, website.pk, {.num = 1, .size = 4});
  EXPECT_EQ(second_page.total, 6);
  ASSERT_EQ(second_page.items.size(), 2u);
  EXPECT_EQ(second_page.items[0].user_id, org_admin.id);
  EXPECT_EQ(second_page.items[1].user_id, tie.id);
}

// SqliteStore: the writer thread with group commit.

SqliteStore::Post run_inline() {
  return [](std::function<void()> task) { task(); };
}

SqliteStore::Options options_for(const TempDatabase& file) {
  SqliteStore::Options options;
  options.path = file.path();
  options.readers = 2;
  return options;
}

std::int64_t count_users_in(SqliteStore& store) {
  std::int64_t count = -1;
  auto status = store.read_and_wait([&](domain::ReadTx& tx) -> domain::Status {
    count = count_users(static_cast<Transaction&>(tx).connection());
    return {};
  });
  EXPECT_TRUE(status.ok());
  return count;
}

TEST(SqliteStore, ConcurrentWritesAreAllDurable) {
  TempDatabase file;
  constexpr int kThreads = 4;
  constexpr int kPerThread = 50;
  WriterStats stats;
  {
    SqliteStore store(options_for(file), run_inline());
    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        std::vector<std::future<domain::Status>> pending;
        for (int i = 0; i < kPerThread; ++i) {
          std::string email =
              numbered_email(std::string("t").append(std::to_string(t)).append("u"), i);
          auto work = [email](domain::WriteTx& tx) -> domain::Status {
            insert_user(tx, email);
            return {};
          };
          if (i % 2 == 0) {
            if (!store.write_and_wait(work).ok()) ++failures;
          } else {
            auto promise = std::make_shared<std::promise<domain::Status>>();
            pending.push_back(promise->get_future());
            store.write(work, [promise](domain::Status status) { promise->set_value(status); });
          }
        }
        for (auto& future : pending) {
          if (!future.get().ok()) ++failures;
        }
      });
    }
    for (auto& thread : threads) thread.join();
    EXPECT_EQ(failures.load(), 0);
    EXPECT_EQ(count_users_in(store), kThreads * kPerThread);
    stats = store.writer_stats();
  }
  EXPECT_EQ(stats.units, static_cast<std::uint64_t>(kThreads * kPerThread));
  EXPECT_GE(stats.commits, 1u);
  EXPECT_LE(stats.commits, stats.units);

  // Durable: a fresh connection after the store is gone sees every row.
  Connection reopened(file.path(), Connection::Mode::kReadOnly);
  EXPECT_EQ(count_users(reopened), kThreads * kPerThread);
}

// Holds the writer inside one unit until released, so that units queued meanwhile form the
// next group. The unit shares the gate's state, so the gate may go before the unit returns.
class WriterGate {
 public:
  domain::WriteWork unit() {
    return [entered = entered_, released = released_future_](domain::WriteTx&) -> domain::Status {
      entered->set_value();
      released.wait();
      return {};
    };
  }
  void wait_entered() { entered_future_.wait(); }
  void release() { released_.set_value(); }

 private:
  std::shared_ptr<std::promise<void>> entered_ = std::make_shared<std::promise<void>>();
  std::future<void> entered_future_ = entered_->get_future();
  std::promise<void> released_;
  std::shared_future<void> released_future_ = released_.get_future().share();
};

TEST(SqliteStore, QueuedUnitsCommitAsOneGroup) {
  TempDatabase file;
  constexpr int kUnits = 100;
  SqliteStore store(options_for(file), run_inline());
  WriterGate gate;
  std::promise<domain::Status> gate_done;
  store.write(gate.unit(), [&](domain::Status status) { gate_done.set_value(status); });
  gate.wait_entered();
  auto before = store.writer_stats();

  std::vector<std::promise<domain::Status>> done(kUnits);
  for (int i = 0; i < kUnits; ++i) {
    std::string email = numbered_email("u", i);
    store.write(
        [email](domain::WriteTx& tx) -> domain::Status {
          insert_user(tx, email);
          return {};
        },
        [&done, i](domain::Status status) { done[i].set_value(status); });
  }
  gate.release();
  EXPECT_TRUE(gate_done.get_future().get().ok());
  for (auto& promise : done) EXPECT_TRUE(promise.get_future().get().ok());

  auto after = store.writer_stats();
  EXPECT_EQ(after.units - before.units, static_cast<std::uint64_t>(kUnits) + 1);
  // The gate's group, then every unit queued behind it in one more.
  EXPECT_EQ(after.commits - before.commits, 2u);
  EXPECT_EQ(count_users_in(store), kUnits);
}

TEST(SqliteStore, FailingUnitRollsBackAloneWithinItsGroup) {
  TempDatabase file;
  SqliteStore store(options_for(file), run_inline());
  Pk org_pk = 0;
  Pk website_pk = 0;
  ASSERT_TRUE(store
                  .write_and_wait([&](domain::WriteTx& tx) -> domain::Status {
                    org_pk = tx.insert_organization(Uuid::v4(), "Acme", kNow).pk;
                    website_pk =
                        tx.insert_website(org_pk, Uuid::v4(), "https://a.example", "A", kNow).pk;
                    return {};
                  })
                  .ok());

  WriterGate gate;
  std::promise<domain::Status> gate_done;
  store.write(gate.unit(), [&](domain::Status status) { gate_done.set_value(status); });
  gate.wait_entered();
  auto before = store.writer_stats();

  auto make_invite = [&](domain::WriteTx& tx, std::string_view key) {
    Pk batch = tx.insert_batch(domain::NewBatch{.id = Uuid::v4(),
                                                .org_pk = org_pk,
                                                .email_address = key,
                                                .first_name = std::nullopt,
                                                .last_name = std::nullopt,
                                                .token_hash = domain::issue_secret("").hash,
                                                .created_at = kNow,
                                                .expires_at = kNow + 86400});
    tx.insert_invite(domain::NewInvite{.id = Uuid::v4(),
                                       .org_pk = org_pk,
                                       .batch_pk = batch,
                                       .email_key = key,
                                       .target = {TargetKind::kWebsite, website_pk},
                                       .role = Role::kViewer,
                                       .created_at = kNow,
                                       .expires_at = kNow + 86400});
  };

  std::vector<domain::WriteWork> units = {
      // 0: commits.
      [](domain::WriteTx& tx) -> domain::Status {
        insert_user(tx, "a@example.com");
        return {};
      },
      // 1: writes, then answers an Error: its write must vanish.
      [](domain::WriteTx& tx) -> domain::Status {
        insert_user(tx, "b@example.com");
        return domain::Error{domain::ErrorCode::kConflict, "changed its mind"};
      },
      // 2: commits.
      [](domain::WriteTx& tx) -> domain::Status {
        insert_user(tx, "c@example.com");
        return {};
      },
      // 3: writes, then throws: kInternal, its write must vanish.
      [](domain::WriteTx& tx) -> domain::Status {
        insert_user(tx, "d@example.com");
        throw std::runtime_error("boom");
      },
      // 4: writes, then breaks a constraint (a second pending invite): its writes must vanish.
      [&](domain::WriteTx& tx) -> domain::Status {
        insert_user(tx, "e@example.com");
        make_invite(tx, "e@example.com");
        make_invite(tx, "e@example.com");
        return {};
      },
      // 5: commits, after all of the above in the same transaction.
      [&](domain::WriteTx& tx) -> domain::Status {
        insert_user(tx, "f@example.com");
        make_invite(tx, "f@example.com");
        return {};
      },
  };
  std::vector<std::promise<domain::Status>> done(units.size());
  for (std::size_t i = 0; i < units.size(); ++i) {
    store.write(units[i], [&done, i](domain::Status status) { done[i].set_value(status); });
  }
  gate.release();
  EXPECT_TRUE(gate_done.get_future().get().ok());
  std::vector<domain::Status> statuses;
  for (auto& promise : done) statuses.push_back(promise.get_future().get());

  EXPECT_TRUE(statuses[0].ok());
  ASSERT_FALSE(statuses[1].ok());
  EXPECT_EQ(statuses[1].error().code, domain::ErrorCode::kConflict);
  EXPECT_TRUE(statuses[2].ok());
  ASSERT_FALSE(statuses[3].ok());
  EXPECT_EQ(statuses[3].error().code, domain::ErrorCode::kInternal);
  ASSERT_FALSE(statuses[4].ok());
  EXPECT_EQ(statuses[4].error().code, domain::ErrorCode::kInternal);
  EXPECT_TRUE(statuses[5].ok());

  auto after = store.writer_stats();
  EXPECT_EQ(after.commits - before.commits, 2u);  // the gate, then all six together

  std::vector<std::int64_t> counts;
  std::int64_t total = -1;
  bool f_pending = false;
  bool e_pending = true;
  ASSERT_TRUE(store
                  .read_and_wait([&](domain::ReadTx& tx) -> domain::Status {
                    auto& db = static_cast<Transaction&>(tx).connection();
                    for (const char* key : {"a@example.com", "b@example.com", "c@example.com",
                                            "d@example.com", "e@example.com", "f@example.com"}) {
                      counts.push_back(count_users_with_key(db, key));
                    }
                    total = count_users(db);
                    auto& writer = static_cast<Transaction&>(tx);
                    f_pending = writer.has_pending_invites(org_pk, "f@example.com");
                    e_pending = writer.has_pending_invites(org_pk, "e@example.com");
                    return {};
                  })
                  .ok());
  EXPECT_EQ(counts, (std::vector<std::int64_t>{1, 0, 1, 0, 0, 1}));
  EXPECT_EQ(total, 3);
  EXPECT_TRUE(f_pending);
  EXPECT_FALSE(e_pending);
}

TEST(SqliteStore, RefusesUnitsBeyondMaxQueuedAsUnavailable) {
  TempDatabase file;
  auto options = options_for(file);
  options.max_queued = 5;
  SqliteStore store(options, run_inline());
  WriterGate gate;
  std::promise<domain::Status> gate_done;
  store.write(gate.unit(), [&](domain::Status status) { gate_done.set_value(status); });
  gate.wait_entered();

  constexpr int kUnits = 8;
  std::vector<std::promise<domain::Status>> done(kUnits);
  std::vector<std::future<domain::Status>> outcomes;
  for (auto& promise : done) outcomes.push_back(promise.get_future());
  for (int i = 0; i < kUnits; ++i) {
    std::string email = numbered_email("q", i);
    store.write(
        [email](domain::WriteTx& tx) -> domain::Status {
          insert_user(tx, email);
          return {};
        },
        [&done, i](domain::Status status) { done[i].set_value(status); });
  }
  // The refusals are answered at once, while the writer is still held.
  for (int i = 5; i < kUnits; ++i) {
    ASSERT_EQ(outcomes[i].wait_for(std::chrono::seconds(5)), std::future_status::ready) << i;
    auto status = outcomes[i].get();
    ASSERT_FALSE(status.ok()) << i;
    EXPECT_EQ(status.error().code, domain::ErrorCode::kUnavailable) << i;
  }
  gate.release();
  EXPECT_TRUE(gate_done.get_future().get().ok());
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(outcomes[i].get().ok()) << i;
  EXPECT_EQ(count_users_in(store), 5);
}

TEST(SqliteStore, DestructorFinishesQueuedUnits) {
  TempDatabase file;
  constexpr int kUnits = 50;
  std::vector<std::promise<domain::Status>> done(kUnits);
  std::vector<std::future<domain::Status>> outcomes;
  for (auto& promise : done) outcomes.push_back(promise.get_future());
  std::thread releaser;
  {
    SqliteStore store(options_for(file), run_inline());
    auto gate = std::make_shared<WriterGate>();
    store.write(gate->unit(), [](domain::Status) {});
    gate->wait_entered();
    for (int i = 0; i < kUnits; ++i) {
      std::string email = numbered_email("d", i);
      store.write(
          [email](domain::WriteTx& tx) -> domain::Status {
            insert_user(tx, email);
            return {};
          },
          [&done, i](domain::Status status) { done[i].set_value(status); });
    }
    // Let the writer go only once the destructor has (most likely) begun.
    releaser = std::thread([gate] {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      gate->release();
    });
  }
  releaser.join();
  for (int i = 0; i < kUnits; ++i) {
    ASSERT_EQ(outcomes[i].wait_for(std::chrono::seconds(0)), std::future_status::ready) << i;
    EXPECT_TRUE(outcomes[i].get().ok()) << i;
  }
  Connection reopened(file.path(), Connection::Mode::kReadOnly);
  EXPECT_EQ(count_users(reopened), kUnits);
}

TEST(SqliteStore, NotReadyWhenSchemaVersionDiffers) {
  TempDatabase file;
  SqliteStore store(options_for(file), run_inline());
  {
    Connection other(file.path(), Connection::Mode::kReadWrite);
    other.exec("PRAGMA user_version = " + std::to_string(latest_schema_version() + 1));
  }
  std::promise<domain::Status> ready;
  store.check_ready([&](domain::Status status) { ready.set_value(status); });
  auto status = ready.get_future().get();
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, domain::ErrorCode::kUnavailable);
}

TEST(SqliteStore, ReadyWhenSchemaIsCurrent) {
  TempDatabase file;
  SqliteStore store(options_for(file), run_inline());
  std::promise<domain::Status> ready;
  store.check_ready([&](domain::Status status) { ready.set_value(status); });
  EXPECT_TRUE(ready.get_future().get().ok());
}

TEST(SqliteStore, CompletionsRunThroughPost) {
  TempDatabase file;
  std::atomic<int> posted{0};
  SqliteStore store(options_for(file), [&](std::function<void()> task) {
    ++posted;
    task();
  });
  std::promise<domain::Status> done;
  store.write([](domain::WriteTx&) -> domain::Status { return {}; },
              [&](domain::Status status) { done.set_value(status); });
  EXPECT_TRUE(done.get_future().get().ok());
  EXPECT_EQ(posted.load(), 1);
  // The waiting forms complete on the store's own thread, not through Post.
  EXPECT_TRUE(store.write_and_wait([](domain::WriteTx&) -> domain::Status { return {}; }).ok());
  EXPECT_EQ(posted.load(), 1);
}

// Holds the database's write lock from a connection of its own, as another process would.
class ForeignWriteLock {
 public:
  explicit ForeignWriteLock(const std::string& path) : db_(path, Connection::Mode::kReadWrite) {
    db_.exec("BEGIN EXCLUSIVE");
  }
  ~ForeignWriteLock() {
    try {
      release();
    } catch (const StoreError&) {
      // The test already failed; nothing more to undo.
    }
  }
  void release() {
    if (!held_) return;
    db_.exec("COMMIT");
    held_ = false;
  }

 private:
  Connection db_;
  bool held_ = true;
};

domain::Status readiness(SqliteStore& store) {
  std::promise<domain::Status> ready;
  store.check_ready([&](domain::Status status) { ready.set_value(status); });
  return ready.get_future().get();
}

domain::WriteWork insert_user_unit(std::string email) {
  return [email = std::move(email)](domain::WriteTx& tx) -> domain::Status {
    insert_user(tx, email);
    return {};
  };
}

TEST(SqliteStore, WriteThatCannotGetTheLockFailsAsUnavailableAfterTheLockTimeout) {
  TempDatabase file;
  auto options = options_for(file);
  options.lock_timeout = std::chrono::milliseconds(300);
  options.probe_interval = std::chrono::milliseconds(0);
  SqliteStore store(options, run_inline());
  ForeignWriteLock lock(file.path());
  auto started = std::chrono::steady_clock::now();
  auto status = store.write_and_wait(insert_user_unit("locked@example.com"));
  auto waited = std::chrono::steady_clock::now() - started;
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, domain::ErrorCode::kUnavailable);
  EXPECT_NE(status.error().message.find("locked"), std::string::npos) << status.error().message;
  EXPECT_GE(waited, std::chrono::milliseconds(250));
  EXPECT_LT(waited, std::chrono::seconds(3));
  auto ready = readiness(store);
  ASSERT_FALSE(ready.ok());
  EXPECT_EQ(ready.error().code, domain::ErrorCode::kUnavailable);

  lock.release();
  EXPECT_TRUE(store.write_and_wait(insert_user_unit("free@example.com")).ok());
  EXPECT_TRUE(readiness(store).ok());
  EXPECT_EQ(count_users_in(store), 1);
}

// Three units in one group behind a gate; the middle one meets `failure` after its insert.
std::vector<domain::Status> run_group_with_failing_middle(SqliteStore& store, int failure) {
  WriterGate gate;
  std::promise<domain::Status> gate_done;
  store.write(gate.unit(), [&](domain::Status status) { gate_done.set_value(status); });
  gate.wait_entered();
  std::vector<std::promise<domain::Status>> done(3);
  store.write(insert_user_unit("first@example.com"),
              [&](domain::Status status) { done[0].set_value(status); });
  store.write(
      [failure](domain::WriteTx& tx) -> domain::Status {
        insert_user(tx, "middle@example.com");
        throw StoreError(failure, "injected");
      },
      [&](domain::Status status) { done[1].set_value(status); });
  store.write(insert_user_unit("last@example.com"),
              [&](domain::Status status) { done[2].set_value(status); });
  gate.release();
  EXPECT_TRUE(gate_done.get_future().get().ok());
  std::vector<domain::Status> statuses;
  for (auto& promise : done) statuses.push_back(promise.get_future().get());
  return statuses;
}

TEST(SqliteStore, TransientFailureInsideAUnitRollsBackItsWholeGroup) {
  TempDatabase file;
  SqliteStore store(options_for(file), run_inline());
  auto statuses = run_group_with_failing_middle(store, SQLITE_FULL);
  for (const auto& status : statuses) {
    ASSERT_FALSE(status.ok());
    EXPECT_EQ(status.error().code, domain::ErrorCode::kUnavailable);
  }
  EXPECT_EQ(count_users_in(store), 0);
  EXPECT_FALSE(readiness(store).ok());
  EXPECT_TRUE(store.write_and_wait(insert_user_unit("after@example.com")).ok());
  EXPECT_TRUE(readiness(store).ok());
}

TEST(SqliteStore, BugInsideAUnitFailsThatUnitAloneAsInternal) {
  TempDatabase file;
  SqliteStore store(options_for(file), run_inline());
  auto statuses = run_group_with_failing_middle(store, SQLITE_CONSTRAINT_UNIQUE);
  EXPECT_TRUE(statuses[0].ok());
  ASSERT_FALSE(statuses[1].ok());
  EXPECT_EQ(statuses[1].error().code, domain::ErrorCode::kInternal);
  EXPECT_TRUE(statuses[2].ok());
  EXPECT_EQ(count_users_in(store), 2);
  EXPECT_TRUE(readiness(store).ok());
}

// Polls `ready` (true: wants ok) until it holds or `limit` passes; returns how long it took.
std::chrono::milliseconds wait_readiness(SqliteStore& store, bool ready,
                                         std::chrono::milliseconds limit) {
  auto started = std::chrono::steady_clock::now();
  for (;;) {
    auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - started);
    if (readiness(store).ok() == ready || waited > limit) return waited;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

TEST(SqliteStore, IdleProbeWritesMakeReadinessFollowTheLock) {
  TempDatabase file;
  auto options = options_for(file);
  options.probe_interval = std::chrono::milliseconds(100);
  SqliteStore store(options, run_inline());
  EXPECT_TRUE(readiness(store).ok());
  {
    ForeignWriteLock lock(file.path());
    // No write of our own: only the probe can notice.
    EXPECT_LT(wait_readiness(store, false, std::chrono::seconds(3)), std::chrono::seconds(2));
    lock.release();
    EXPECT_LT(wait_readiness(store, true, std::chrono::seconds(3)), std::chrono::seconds(2));
  }
  Connection db(file.path(), Connection::Mode::kReadOnly);
  static constexpr const char* kProbes = "SELECT probes FROM write_probe";
  auto row = db.query(kProbes);
  ASSERT_TRUE(row.step());
  EXPECT_GE(row.int64(0), 1);
}

// With and without the copier thread (PASSIVE checkpoints between the writer's restarts).
class SqliteStoreWal : public ::testing::TestWithParam<bool> {};

INSTANTIATE_TEST_SUITE_P(Copier, SqliteStoreWal, ::testing::Bool());

TEST_P(SqliteStoreWal, IsCheckpointedAndRestartedPastItsThreshold) {
  TempDatabase file;
  constexpr std::int64_t kThreshold = 256 * 1024;
  auto options = options_for(file);
  options.wal_restart_bytes = kThreshold;
  options.wal_copier = GetParam();
  SqliteStore store(options, run_inline());
  const std::string wal = file.path() + "-wal";
  std::uintmax_t peak = 0;
  for (int unit = 0; unit < 200; ++unit) {
    ASSERT_TRUE(store
                    .write_and_wait([unit](domain::WriteTx& tx) -> domain::Status {
                      for (int i = 0; i < 20; ++i) {
                        insert_user(
                            tx, numbered_email(
                                    std::string("w").append(std::to_string(unit)).append("n"), i));
                      }
                      return {};
                    })
                    .ok());
    auto size = std::filesystem::file_size(wal);
    peak = std::max(peak, size);
  }
  // 4,000 users with two indexes write megabytes to the log; it never holds more than the
  // threshold plus the one commit that passed it (twice the threshold when the copier was busy
  // copying), because it restarted again and again (the header's checkpoint sequence number
  // counts the restarts).
  const std::int64_t bound = (GetParam() ? 2 * kThreshold : kThreshold) + 128 * 1024;
  EXPECT_LE(peak, static_cast<std::uintmax_t>(bound)) << "WAL peak " << peak;
  std::ifstream header(wal, std::ios::binary);
  unsigned char bytes[16] = {};
  ASSERT_TRUE(header.read(reinterpret_cast<char*>(bytes), sizeof bytes));
  std::uint32_t restarts = (std::uint32_t{bytes[12]} << 24) | (std::uint32_t{bytes[13]} << 16) |
                           (std::uint32_t{bytes[14]} << 8) | std::uint32_t{bytes[15]};
  EXPECT_GE(restarts, 5u);
  EXPECT_EQ(count_users_in(store), 4000);
}

}  // namespace
}  // namespace invited::store::sqlite
