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
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "../store_support/list_walk.hpp"
#include "domain/email.hpp"
#include "domain/outbox.hpp"
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
using testing_support::numbered_email;
using testing_support::walk_cursor;

// The one email due longest, claimed as the mail worker claims (domain::claim_next_emails);
// nullopt when nothing is due.
std::optional<domain::ClaimedEmail> claim_next_email(domain::WriteTx& tx, domain::Instant now) {
  std::vector<domain::ClaimedEmail> claimed = domain::claim_next_emails(tx, now, 1);
  if (claimed.empty()) return std::nullopt;
  return std::move(claimed.front());
}

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

// The ids of `items`, in order.
template <typename T, typename IdOf>
std::vector<Uuid> ids_of(const std::vector<T>& items, IdOf id_of) {
  std::vector<Uuid> ids;
  for (const auto& item : items) ids.push_back(id_of(item));
  return ids;
}

// How much work SQLite does for `work`: the virtual machine's progress checks (one per loop
// step of every statement), counted by a progress handler. Deterministic, unlike a timing, so a
// cost that grows with a list shows.
template <typename Work>
std::int64_t sqlite_work(Connection& db, Work work) {
  std::int64_t steps = 0;
  sqlite3_progress_handler(
      db.handle(), 1,
      [](void* counter) {
        ++*static_cast<std::int64_t*>(counter);
        return 0;
      },
      &steps);
  work();
  sqlite3_progress_handler(db.handle(), 0, nullptr, nullptr);
  return steps;
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
    // Every migration once (versions may have gaps while tracks merge).
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

// The outbox: claim, act, record (domain/outbox.hpp), and tokens minted by the claim.
// Ids made so that row-key order and id order disagree: each later row gets a smaller id.
Uuid descending_id(int n) {
  Uuid::Bytes bytes{};
  bytes[0] = static_cast<std::uint8_t>(0xf0 - n);
  bytes[15] = 1;
  return Uuid(bytes);
}

class SqliteOutbox : public SqliteTransaction {
 protected:
  // A batch with one pending invite and its queued email, due from `at`; returns the batch.
  // Emails queued at the same second are claimed in the order they were queued: their message
  // ids (UUIDv7) are made a millisecond apart.
  Pk queue_email(std::string_view address, domain::UnixSeconds at = kNow) {
    Pk batch = insert_batch();
    insert_invite(batch, address, {TargetKind::kWebsite, website.pk});
    tx->enqueue_email(domain::NewEmail{.message_id = Uuid::v7(at * 1000 + queued_++),
                                       .batch_pk = batch,
                                       .to_address = std::string(address),
                                       .created_at = at,
                                       .queued_ms = at * 1000});
    return batch;
  }
  std::optional<Pk> batch_of(const std::string& token) {
    auto batch = tx->find_batch_by_token(domain::hash_secret(token));
    return batch ? std::optional(batch->pk) : std::nullopt;
  }
  int outbox_status(Pk email_pk) {
    auto row = db->query(kOutboxStatus);
    row.bind(1, email_pk);
    return row.step() ? static_cast<int>(row.int64(0)) : -1;
  }
  int batch_delivery(Pk batch_pk) {
    auto row = db->query(kBatchDelivery);
    row.bind(1, batch_pk);
    return row.step() ? static_cast<int>(row.int64(0)) : -1;
  }
  static constexpr const char* kOutboxStatus = "SELECT status FROM outbox_emails WHERE pk = ?1";
  static constexpr const char* kBatchDelivery = "SELECT delivery FROM invite_batches WHERE pk = ?1";
  static constexpr std::int64_t kNowMs = kNow * 1000;

 private:
  std::int64_t queued_ = 0;
};

TEST_F(SqliteOutbox, AClaimCountsTheAttemptAndKeepsOthersAwayUntilItsLeaseEnds) {
  queue_email("ann@example.com", kNow - 2);
  queue_email("bob@example.com", kNow - 1);
  auto first = tx->claim_due_email(kNowMs, kNowMs + 1000);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->to_address, "ann@example.com");  // due longest
  EXPECT_EQ(first->attempts, 1);
  auto second = tx->claim_due_email(kNowMs, kNowMs + 1000);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->to_address, "bob@example.com");
  EXPECT_FALSE(tx->claim_due_email(kNowMs, kNowMs + 1000)) << "both are held";
  EXPECT_EQ(tx->next_email_due_ms(), kNowMs + 1000) << "due again when the leases end";

  auto again = tx->claim_due_email(kNowMs + 1000, kNowMs + 2000);
  ASSERT_TRUE(again) << "a lease that ended is taken over";
  EXPECT_EQ(again->pk, first->pk);
  EXPECT_EQ(again->attempts, 2);
}

TEST_F(SqliteOutbox, EmailsDueAtOneMomentAreClaimedInQueueOrderNotRowKeyOrder) {
  // With several writers, row keys are not in commit order: here the email queued first (the
  // smaller UUIDv7 message id) has the larger row key.
  const Uuid queued_first = descending_id(2);
  const Uuid queued_second = descending_id(1);
  for (const auto& [id, address] :
       {std::pair{queued_second, "bob@example.com"}, std::pair{queued_first, "ann@example.com"}}) {
    Pk batch = insert_batch();
    insert_invite(batch, address, {TargetKind::kWebsite, website.pk});
    tx->enqueue_email(domain::NewEmail{.message_id = id,
                                       .batch_pk = batch,
                                       .to_address = address,
                                       .created_at = kNow,
                                       .queued_ms = kNowMs});
  }
  auto first = tx->claim_due_email(kNowMs, kNowMs + 1000);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->message_id, queued_first);
  auto second = tx->claim_due_email(kNowMs, kNowMs + 1000);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->message_id, queued_second);
}

TEST_F(SqliteOutbox, OutcomesEndTheClaim) {
  Pk sent_batch = queue_email("ann@example.com");
  queue_email("bob@example.com");
  auto sent = tx->claim_due_email(kNowMs, kNowMs + 60000);
  auto retried = tx->claim_due_email(kNowMs, kNowMs + 60000);
  ASSERT_TRUE(sent && retried);
  tx->mark_email_sent(sent->pk, kNow);
  tx->mark_email_retry(retried->pk, kNowMs + 500, "451 busy");
  EXPECT_EQ(outbox_status(sent->pk), 1);
  EXPECT_EQ(batch_delivery(sent_batch), 1);
  EXPECT_EQ(tx->next_email_due_ms(), kNowMs + 500);
  EXPECT_FALSE(tx->claim_due_email(kNowMs + 499, kNowMs + 60000));
  auto retry = tx->claim_due_email(kNowMs + 500, kNowMs + 60000);
  ASSERT_TRUE(retry);
  EXPECT_EQ(retry->pk, retried->pk);
  EXPECT_EQ(retry->attempts, 2);
}

TEST_F(SqliteOutbox, AReleasedClaimGivesItsAttemptBack) {
  queue_email("ann@example.com");
  auto claimed = tx->claim_due_email(kNowMs, kNowMs + 60000);
  ASSERT_TRUE(claimed);
  tx->release_email_claim(claimed->pk);
  auto again = tx->claim_due_email(kNowMs, kNowMs + 60000);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->attempts, 1);
}

TEST_F(SqliteOutbox, ReleasingEveryClaimAtStartKeepsTheAttemptsCounted) {
  queue_email("ann@example.com");
  queue_email("bob@example.com");
  ASSERT_TRUE(tx->claim_due_email(kNowMs, kNowMs + 60000));
  EXPECT_EQ(tx->release_all_email_claims(), 1);
  EXPECT_EQ(tx->release_all_email_claims(), 0);
  auto first = tx->claim_due_email(kNowMs, kNowMs + 60000);
  auto second = tx->claim_due_email(kNowMs, kNowMs + 60000);
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->attempts, 2) << "the claim of the stopped run counted";
  EXPECT_EQ(second->attempts, 1);
}

TEST_F(SqliteOutbox, EachClaimMintsATokenThatOpensItsBatchAndAResendRetiresThem) {
  Pk batch = queue_email("ann@example.com");
  auto claim = [&](std::int64_t at_ms) {
    auto claimed = claim_next_email(*tx, domain::Instant{at_ms});
    if (!claimed || claimed->cancelled) throw std::logic_error("nothing claimed");
    return *claimed;
  };
  auto first = claim(kNowMs);
  EXPECT_GE(first.token.size(), 43u);  // 256 random bits in base64url
  EXPECT_EQ(first.invitation.targets.size(), 1u);
  EXPECT_EQ(batch_of(first.token), batch);

  // The lease ended (the worker died): the next claim mints another token. The first one's
  // message may have arrived, so its link keeps working; one claim later it stops.
  auto second = claim(kNowMs + domain::kEmailLeaseMs);
  EXPECT_EQ(second.email.pk, first.email.pk);
  EXPECT_NE(second.token, first.token);
  EXPECT_EQ(batch_of(second.token), batch);
  EXPECT_EQ(batch_of(first.token), batch);
  auto third = claim(kNowMs + 2 * domain::kEmailLeaseMs);
  EXPECT_EQ(batch_of(third.token), batch);
  EXPECT_EQ(batch_of(second.token), batch);
  EXPECT_FALSE(batch_of(first.token));
  EXPECT_FALSE(tx->retired_token_batch(domain::hash_secret(first.token)));

  // A resend retires the batch's tokens at once and cancels the queued email; the outcome of
  // the send in hand changes nothing any more.
  tx->retire_batch_tokens(batch, kNow + 86400, kNow);
  for (const auto& token : {second.token, third.token}) {
    EXPECT_FALSE(batch_of(token));
    EXPECT_EQ(tx->retired_token_batch(domain::hash_secret(token)), batch);
  }
  EXPECT_EQ(outbox_status(third.email.pk), 3);
  tx->mark_email_sent(third.email.pk, kNow);
  EXPECT_EQ(outbox_status(third.email.pk), 3);
  EXPECT_EQ(batch_delivery(batch), 0) << "the delivery state belongs to the next email";
}

TEST_F(SqliteOutbox, AnEmailWithNothingPendingIsCancelledWithoutAToken) {
  Pk batch = queue_email("ann@example.com");
  tx->close_pending_invites({TargetKind::kWebsite, website.pk}, "ann@example.com",
                            InviteStatus::kRevoked, kNow);
  auto claimed = claim_next_email(*tx, domain::Instant{kNowMs});
  ASSERT_TRUE(claimed);
  EXPECT_TRUE(claimed->cancelled);
  EXPECT_TRUE(claimed->token.empty());
  EXPECT_EQ(outbox_status(claimed->email.pk), 3);
  EXPECT_EQ(batch_delivery(batch), 0);
  EXPECT_FALSE(claim_next_email(*tx, domain::Instant{kNowMs}));
}

TEST_F(SqliteOutbox, TheBacklogCountsQueuedEmailsAndAgesTheOneDueLongest) {
  EXPECT_EQ(tx->outbox_backlog(kNowMs).queued, 0);
  EXPECT_FALSE(tx->outbox_backlog(kNowMs).oldest_due_ms);
  EXPECT_EQ(domain::oldest_queued_age_seconds(tx->outbox_backlog(kNowMs), domain::Instant{kNowMs}),
            0);

  queue_email("ann@example.com", kNow - 3);  // queued first: due longest
  queue_email("bob@example.com", kNow - 2);
  queue_email("cid@example.com", kNow - 1);
  auto held = tx->claim_due_email(kNowMs, kNowMs + 60000);     // ann: in flight, still queued
  auto retried = tx->claim_due_email(kNowMs, kNowMs + 60000);  // bob: waits for a retry
  auto sent = tx->claim_due_email(kNowMs, kNowMs + 60000);     // cid: sent
  ASSERT_TRUE(held && retried && sent);
  tx->mark_email_retry(retried->pk, kNowMs + 60000, "451 busy");
  tx->mark_email_sent(sent->pk, kNow);

  domain::OutboxBacklog backlog = tx->outbox_backlog(kNowMs + 250);
  EXPECT_EQ(backlog.queued, 2);
  // ann was queued at (kNow - 3) s + 0 ms, and is being sent: still waiting.
  EXPECT_EQ(backlog.oldest_due_ms, kNowMs - 3000);
  EXPECT_DOUBLE_EQ(domain::oldest_queued_age_seconds(backlog, domain::Instant{kNowMs + 250}), 3.25);

  // Only bob is left, queued before any email still waiting but not due before his retry: he
  // counts in the depth, not in the age.
  tx->mark_email_sent(held->pk, kNow);
  backlog = tx->outbox_backlog(kNowMs + 250);
  EXPECT_EQ(backlog.queued, 1);
  EXPECT_FALSE(backlog.oldest_due_ms);
  EXPECT_EQ(domain::oldest_queued_age_seconds(backlog, domain::Instant{kNowMs + 250}), 0);
  // Once the retry falls due, he waits from then on.
  backlog = tx->outbox_backlog(kNowMs + 60500);
  EXPECT_EQ(backlog.oldest_due_ms, kNowMs + 60000);
  EXPECT_DOUBLE_EQ(domain::oldest_queued_age_seconds(backlog, domain::Instant{kNowMs + 60500}),
                   0.5);

  tx->mark_email_failed(retried->pk, "550 no", kNow);
  EXPECT_EQ(tx->outbox_backlog(kNowMs + 60500).queued, 0);
  EXPECT_FALSE(tx->outbox_backlog(kNowMs + 60500).oldest_due_ms);
}

TEST_F(SqliteOutbox, AClaimTakesUpToItsLimitInDueOrderAndMintsATokenForEach) {
  const Pk ann = queue_email("ann@example.com", kNow - 3);
  const Pk bob = queue_email("bob@example.com", kNow - 2);
  queue_email("cid@example.com", kNow - 1);
  queue_email("dan@example.com", kNow + 60);  // not due yet

  std::vector<domain::ClaimedEmail> claimed =
      domain::claim_next_emails(*tx, domain::Instant{kNowMs}, 2);
  ASSERT_EQ(claimed.size(), 2U);
  EXPECT_EQ(claimed[0].email.to_address, "ann@example.com");
  EXPECT_EQ(claimed[1].email.to_address, "bob@example.com");
  EXPECT_EQ(batch_of(claimed[0].token), ann);
  EXPECT_EQ(batch_of(claimed[1].token), bob);
  for (const auto& one : claimed) EXPECT_EQ(one.email.attempts, 1);

  // The rest of what is due, however large the limit; the email not due stays.
  claimed = domain::claim_next_emails(*tx, domain::Instant{kNowMs}, 8);
  ASSERT_EQ(claimed.size(), 1U);
  EXPECT_EQ(claimed[0].email.to_address, "cid@example.com");
  EXPECT_TRUE(domain::claim_next_emails(*tx, domain::Instant{kNowMs}, 8).empty());
}

TEST(OutboxRetryPolicy, DoublesTheDelayAndFailsAfterTheLastAttemptOrAPermanentRefusal) {
  const domain::RetryPolicy policy{.max_attempts = 4, .retry_seconds = 0.5};
  const domain::Instant now{kNow * 1000};
  domain::OutboxEmail email;
  email.pk = 7;
  for (int attempt = 1; attempt <= 3; ++attempt) {
    email.attempts = attempt;
    auto outcome = domain::failed_send(email, false, "451", policy, now);
    EXPECT_EQ(outcome.kind, domain::DeliveryOutcome::Kind::kRetry) << attempt;
    EXPECT_EQ(outcome.next_attempt_ms - now.unix_ms, 500 << (attempt - 1)) << attempt;
    EXPECT_EQ(outcome.email_pk, 7);
    EXPECT_EQ(outcome.error, "451");
  }
  email.attempts = 4;
  EXPECT_EQ(domain::failed_send(email, false, "451", policy, now).kind,
            domain::DeliveryOutcome::Kind::kFailed);
  email.attempts = 1;
  EXPECT_EQ(domain::failed_send(email, true, "550", policy, now).kind,
            domain::DeliveryOutcome::Kind::kFailed);
}

// list_website_members: SPEC §1 access rules.
domain::IdempotentResponse kept_response(std::string_view body, domain::UnixSeconds at) {
  return domain::IdempotentResponse{.request_hash = domain::hash_secret(body),
                                    .status = 200,
                                    .body = std::string(body),
                                    .created_at = at};
}

TEST_F(SqliteTransaction, SaveIdempotentResponseNeverOverwritesALiveOne) {
  const auto not_before = kNow - 86400;
  EXPECT_TRUE(tx->save_idempotent_response(org.pk, "k", kept_response("first", kNow), not_before));
  EXPECT_FALSE(
      tx->save_idempotent_response(org.pk, "k", kept_response("second", kNow + 1), not_before));
  auto kept = tx->find_idempotent_response(org.pk, "k", not_before);
  ASSERT_TRUE(kept);
  EXPECT_EQ(kept->body, "first");
  // Another organization's key of the same name is another key.
  auto other = tx->insert_organization(Uuid::v4(), "Other", kNow);
  EXPECT_TRUE(
      tx->save_idempotent_response(other.pk, "k", kept_response("theirs", kNow), not_before));
}

TEST_F(SqliteTransaction, SaveIdempotentResponseReplacesAnExpiredOne) {
  EXPECT_TRUE(tx->save_idempotent_response(org.pk, "k", kept_response("old", kNow - 90000),
                                           kNow - 90000 - 86400));
  EXPECT_FALSE(tx->find_idempotent_response(org.pk, "k", kNow - 86400));
  EXPECT_TRUE(tx->save_idempotent_response(org.pk, "k", kept_response("new", kNow), kNow - 86400));
  auto kept = tx->find_idempotent_response(org.pk, "k", kNow - 86400);
  ASSERT_TRUE(kept);
  EXPECT_EQ(kept->body, "new");
  EXPECT_EQ(kept->created_at, kNow);
}

TEST_F(SqliteTransaction, PruneIdempotentResponsesDeletesOnlyExpiredOnesInBoundedPasses) {
  for (int i = 0; i < 5; ++i) {
    std::string key = "old";
    key += std::to_string(i);
    ASSERT_TRUE(
        tx->save_idempotent_response(org.pk, key, kept_response("old", kNow - 90000 + i), 0));
  }
  ASSERT_TRUE(tx->save_idempotent_response(org.pk, "live", kept_response("live", kNow), 0));
  EXPECT_EQ(tx->prune_idempotent_responses(kNow - 86400, 3), 3);
  EXPECT_EQ(tx->prune_idempotent_responses(kNow - 86400, 3), 2);
  EXPECT_EQ(tx->prune_idempotent_responses(kNow - 86400, 3), 0);
  EXPECT_TRUE(tx->find_idempotent_response(org.pk, "live", kNow - 86400));
  EXPECT_FALSE(tx->find_idempotent_response(org.pk, "old4", 0));
}

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

  auto page = tx->list_website_members(org.pk, website.pk, domain::PageRequest{0, 100});
  EXPECT_EQ(page.total, 6);
  ASSERT_EQ(page.items.size(), 6u);

  struct Expected {
    Uuid user_id;
    std::string email;
    Role role;
    domain::AccessType access;
    domain::UnixSeconds created_at;
  };
  // Ordered by when each first gained access (through any path): that is their created_at.
  std::vector<Expected> expected = {
      {owner.id, "owner@example.com", Role::kOwner, domain::AccessType::kOrganization, 100},
      {grouped.id, "grouped@example.com", Role::kViewer, domain::AccessType::kGroup, 101},
      {direct.id, "direct@example.com", Role::kAdmin, domain::AccessType::kWebsite, 102},
      {both.id, "both@example.com", Role::kAdmin, domain::AccessType::kGroup, 103},
      {org_admin.id, "orgadmin@example.com", Role::kAdmin, domain::AccessType::kOrganization, 105},
      {tie.id, "tie@example.com", Role::kAdmin, domain::AccessType::kWebsite, 107},
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

  auto second_page = tx->list_website_members(org.pk, website.pk, domain::PageRequest{1, 4});
  EXPECT_EQ(second_page.total, 6);
  ASSERT_EQ(second_page.items.size(), 2u);
  EXPECT_EQ(second_page.items[0].user_id, org_admin.id);
  EXPECT_EQ(second_page.items[1].user_id, tie.id);

  // The cursor form walks the indexes instead of ranking everyone, and gives the same rows.
  for (std::int64_t limit : {1, 4, 100}) {
    auto walked = walk_cursor<domain::Member>(
        [&](const domain::ListRequest& request) {
          return tx->list_website_members(org.pk, website.pk, request);
        },
        [](const domain::Member& member) { return member.user_id; }, limit);
    ASSERT_EQ(walked.size(), page.items.size()) << "limit " << limit;
    for (std::size_t i = 0; i < walked.size(); ++i) {
      EXPECT_EQ(walked[i].user_id, page.items[i].user_id) << i;
      EXPECT_EQ(walked[i].role, page.items[i].role) << i;
      EXPECT_EQ(walked[i].access_type, page.items[i].access_type) << i;
      EXPECT_EQ(walked[i].created_at, page.items[i].created_at) << i;
      EXPECT_EQ(walked[i].email, page.items[i].email) << i;
    }
  }
}

// Lists, both forms (SPEC §5): one order per list, a stored time then an id (never the row
// key), the same in both forms; cursor pages of any size cover the list once.

TEST_F(SqliteTransaction, GroupAndKeyWebsitesAreInWebsiteOrderNotRowKeyOrder) {
  // The website made later (by time) has the smaller row key, as a concurrent writer may leave it.
  auto later = tx->insert_website(org.pk, descending_id(1), "https://later.example", "L", kNow + 5);
  auto earlier =
      tx->insert_website(org.pk, descending_id(2), "https://earlier.example", "E", kNow - 5);
  const std::vector<Uuid> website_order{earlier.id, website.id, later.id};

  Uuid group_id = Uuid::v4();
  tx->insert_group(org.pk, group_id, "G", {later.pk, earlier.pk, website.pk}, kNow);
  EXPECT_EQ(tx->find_group(org.pk, group_id)->website_ids, website_order);

  auto key = tx->insert_api_key(domain::NewApiKey{.id = Uuid::v4(),
                                                  .org_pk = org.pk,
                                                  .name = "scoped",
                                                  .hash = domain::hash_secret("secret"),
                                                  .scoped = true,
                                                  .website_pks = {later.pk, earlier.pk, website.pk},
                                                  .created_at = kNow});
  auto found = tx->find_api_key_by_id(org.pk, key.id);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->website_ids, website_order);
  EXPECT_TRUE(std::is_sorted(found->website_pks.begin(), found->website_pks.end()))
      << "row keys stay sorted for Principal's lookup";
  EXPECT_EQ(found->website_pks.size(), 3u);
}

TEST_F(SqliteTransaction, ListsOrderByTimeThenIdInBothForms) {
  // Websites: three in the same second whose ids fall as their row keys rise, one a second
  // earlier (inserted last), one deleted.
  std::vector<domain::Website> sites;
  for (int i = 0; i < 3; ++i) {
    sites.push_back(tx->insert_website(org.pk, descending_id(i), "https://s.example", "S", kNow));
  }
  auto earlier = tx->insert_website(org.pk, descending_id(9), "https://e.example", "E", kNow - 1);
  auto deleted = tx->insert_website(org.pk, descending_id(8), "https://d.example", "D", kNow);
  tx->set_website_deleted(deleted.pk, kNow);
  // Expected: earlier, then the second kNow by id: setup's website has a random v4 id.
  std::vector<std::pair<domain::UnixSeconds, Uuid>> keys = {{kNow - 1, earlier.id},
                                                            {kNow, website.id}};
  for (const auto& site : sites) keys.emplace_back(kNow, site.id);
  std::sort(keys.begin(), keys.end());
  std::vector<Uuid> expected;
  for (const auto& key : keys) expected.push_back(key.second);

  auto website_id = [](const domain::Website& w) { return w.id; };
  auto page = tx->list_websites(org.pk, std::nullopt, domain::PageRequest{0, 100});
  EXPECT_EQ(page.total, 5);
  EXPECT_EQ(ids_of(page.items, website_id), expected);
  for (std::int64_t limit : {1, 2, 40}) {
    auto walked = walk_cursor<domain::Website>(
        [&](const domain::ListRequest& r) { return tx->list_websites(org.pk, std::nullopt, r); },
        website_id, limit);
    EXPECT_EQ(ids_of(walked, website_id), expected) << "limit " << limit;
  }
  // Pages by number agree with the cursor order.
  auto second = tx->list_websites(org.pk, std::nullopt, domain::PageRequest{1, 2});
  EXPECT_EQ(ids_of(second.items, website_id),
            std::vector<Uuid>(expected.begin() + 2, expected.begin() + 4));

  // Groups, in the same second, ids against row keys.
  std::vector<Uuid> groups;
  for (int i = 0; i < 3; ++i) {
    tx->insert_group(org.pk, descending_id(i), "G", {website.pk}, kNow);
    groups.push_back(descending_id(i));
  }
  std::sort(groups.begin(), groups.end());
  auto group_id = [](const domain::Group& g) { return g.id; };
  EXPECT_EQ(ids_of(tx->list_groups(org.pk, domain::PageRequest{0, 100}).items, group_id), groups);
  EXPECT_EQ(ids_of(walk_cursor<domain::Group>(
                       [&](const domain::ListRequest& r) { return tx->list_groups(org.pk, r); },
                       group_id, 1),
                   group_id),
            groups);

  // API keys.
  std::vector<Uuid> keys_expected;
  for (int i = 0; i < 3; ++i) {
    tx->insert_api_key(domain::NewApiKey{.id = descending_id(i),
                                         .org_pk = org.pk,
                                         .name = "k",
                                         .hash = domain::issue_secret("ik_").hash,
                                         .scoped = false,
                                         .website_pks = {},
                                         .created_at = kNow});
    keys_expected.push_back(descending_id(i));
  }
  std::sort(keys_expected.begin(), keys_expected.end());
  auto key_id = [](const domain::ApiKey& k) { return k.id; };
  EXPECT_EQ(ids_of(tx->list_api_keys(org.pk, domain::PageRequest{0, 100}).items, key_id),
            keys_expected);
  EXPECT_EQ(ids_of(walk_cursor<domain::ApiKey>(
                       [&](const domain::ListRequest& r) { return tx->list_api_keys(org.pk, r); },
                       key_id, 2),
                   key_id),
            keys_expected);
}

TEST_F(SqliteTransaction, MemberListsOrderByAccessTimeThenUserId) {
  Pk group = tx->insert_group(org.pk, Uuid::v4(), "G", {website.pk}, kNow);
  // Five users granted in the same second, their ids in random order; one a second earlier.
  std::vector<std::pair<domain::UnixSeconds, Uuid>> keys;
  for (int i = 0; i < 5; ++i) {
    auto user = insert_user(*tx, numbered_email("m", i));
    tx->add_membership_if_absent({TargetKind::kGroup, group}, user.pk, Role::kViewer, kNow);
    tx->add_membership_if_absent({TargetKind::kOrganization, org.pk}, user.pk, Role::kViewer, kNow);
    keys.emplace_back(kNow, user.id);
  }
  auto first = insert_user(*tx, "first@example.com");
  tx->add_membership_if_absent({TargetKind::kGroup, group}, first.pk, Role::kAdmin, kNow - 1);
  tx->add_membership_if_absent({TargetKind::kOrganization, org.pk}, first.pk, Role::kAdmin,
                               kNow - 1);
  keys.emplace_back(kNow - 1, first.id);
  std::sort(keys.begin(), keys.end());
  std::vector<Uuid> expected;
  for (const auto& key : keys) expected.push_back(key.second);

  auto user_id = [](const domain::Member& m) { return m.user_id; };
  auto group_page = tx->list_group_members(group, domain::PageRequest{0, 100});
  EXPECT_EQ(group_page.total, 6);
  EXPECT_EQ(ids_of(group_page.items, user_id), expected);
  auto organization_page = tx->list_organization_members(org.pk, domain::PageRequest{0, 100});
  EXPECT_EQ(ids_of(organization_page.items, user_id), expected);
  // The website list merges the group and organization streams: each user once.
  auto website_page = tx->list_website_members(org.pk, website.pk, domain::PageRequest{0, 100});
  EXPECT_EQ(ids_of(website_page.items, user_id), expected);
  for (std::int64_t limit : {1, 4}) {
    EXPECT_EQ(
        ids_of(walk_cursor<domain::Member>(
                   [&](const domain::ListRequest& r) { return tx->list_group_members(group, r); },
                   user_id, limit),
               user_id),
        expected);
    EXPECT_EQ(ids_of(walk_cursor<domain::Member>(
                         [&](const domain::ListRequest& r) {
                           return tx->list_organization_members(org.pk, r);
                         },
                         user_id, limit),
                     user_id),
              expected);
    EXPECT_EQ(ids_of(walk_cursor<domain::Member>(
                         [&](const domain::ListRequest& r) {
                           return tx->list_website_members(org.pk, website.pk, r);
                         },
                         user_id, limit),
                     user_id),
              expected);
  }
  auto walked = walk_cursor<domain::Member>(
      [&](const domain::ListRequest& r) { return tx->list_website_members(org.pk, website.pk, r); },
      user_id, 2);
  ASSERT_FALSE(walked.empty());
  EXPECT_EQ(walked[0].role, Role::kAdmin);
  EXPECT_EQ(walked[0].access_type, domain::AccessType::kGroup);  // a tie goes to the group
  EXPECT_EQ(walked[0].created_at, kNow - 1);
}

TEST_F(SqliteTransaction, WebsiteMembersListEachUserOnceAtTheirEarliestAccess) {
  Pk group = tx->insert_group(org.pk, Uuid::v4(), "G", {website.pk}, kNow);
  Pk second_group = tx->insert_group(org.pk, Uuid::v4(), "G2", {website.pk}, kNow);
  // Each user reaches the website several ways, granted at different times; the list shows
  // them once, at their earliest grant, with the strongest role.
  struct Case {
    std::vector<std::tuple<TargetKind, Pk, Role, domain::UnixSeconds>> grants;
    domain::UnixSeconds since;
    Role role;
    domain::AccessType access;
  };
  std::vector<Case> cases = {
      {{{TargetKind::kWebsite, website.pk, Role::kViewer, 50},
        {TargetKind::kOrganization, org.pk, Role::kAdmin, 10}},
       10,
       Role::kAdmin,
       domain::AccessType::kOrganization},
      {{{TargetKind::kGroup, second_group, Role::kViewer, 40},
        {TargetKind::kGroup, group, Role::kAdmin, 20},
        {TargetKind::kWebsite, website.pk, Role::kAdmin, 30}},
       20,
       Role::kAdmin,
       domain::AccessType::kWebsite},
      {{{TargetKind::kWebsite, website.pk, Role::kViewer, 15},
        {TargetKind::kOrganization, org.pk, Role::kViewer, 15}},
       15,
       Role::kViewer,
       domain::AccessType::kWebsite},
      {{{TargetKind::kGroup, group, Role::kViewer, 25}},
       25,
       Role::kViewer,
       domain::AccessType::kGroup},
  };
  std::vector<std::pair<domain::UnixSeconds, std::size_t>> order;
  std::vector<domain::UserRef> users;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    users.push_back(insert_user(*tx, numbered_email("w", static_cast<int>(i))));
    for (const auto& [kind, pk, role, at] : cases[i].grants) {
      EXPECT_TRUE(tx->add_membership_if_absent({kind, pk}, users[i].pk, role, at));
    }
    order.emplace_back(cases[i].since, i);
  }
  std::sort(order.begin(), order.end());
  for (std::int64_t limit : {1, 3, 10}) {
    auto walked = walk_cursor<domain::Member>(
        [&](const domain::ListRequest& r) {
          return tx->list_website_members(org.pk, website.pk, r);
        },
        [](const domain::Member& m) { return m.user_id; }, limit);
    ASSERT_EQ(walked.size(), cases.size()) << "limit " << limit;
    for (std::size_t i = 0; i < order.size(); ++i) {
      const auto& want = cases[order[i].second];
      EXPECT_EQ(walked[i].user_id, users[order[i].second].id) << i;
      EXPECT_EQ(walked[i].created_at, want.since) << i;
      EXPECT_EQ(walked[i].role, want.role) << i;
      EXPECT_EQ(walked[i].access_type, want.access) << i;
    }
  }
  auto page = tx->list_website_members(org.pk, website.pk, domain::PageRequest{0, 100});
  EXPECT_EQ(page.total, static_cast<std::int64_t>(cases.size()));
  for (std::size_t i = 0; i < order.size(); ++i) {
    EXPECT_EQ(page.items[i].user_id, users[order[i].second].id) << i;
    EXPECT_EQ(page.items[i].created_at, cases[order[i].second].since) << i;
  }
}

TEST_F(SqliteTransaction, UserWebsitesFollowWebsiteOrderForMembersAndOthers) {
  std::vector<domain::Website> sites = {website};
  for (int i = 0; i < 4; ++i) {
    sites.push_back(tx->insert_website(org.pk, descending_id(i), "https://u.example", "U", kNow));
  }
  Pk group = tx->insert_group(org.pk, Uuid::v4(), "G", {sites[1].pk, sites[2].pk}, kNow);
  auto member = insert_user(*tx, "member@example.com");
  tx->add_membership_if_absent({TargetKind::kOrganization, org.pk}, member.pk, Role::kViewer, kNow);
  tx->add_membership_if_absent({TargetKind::kWebsite, sites[3].pk}, member.pk, Role::kAdmin, kNow);
  auto outsider = insert_user(*tx, "outsider@example.com");
  tx->add_membership_if_absent({TargetKind::kGroup, group}, outsider.pk, Role::kViewer, kNow);
  tx->add_membership_if_absent({TargetKind::kWebsite, sites[2].pk}, outsider.pk, Role::kAdmin,
                               kNow);
  tx->add_membership_if_absent({TargetKind::kWebsite, sites[4].pk}, outsider.pk, Role::kViewer,
                               kNow);
  auto in_order = [](std::vector<domain::Website> list) {
    std::sort(list.begin(), list.end(), [](const auto& a, const auto& b) {
      return std::pair(a.created_at, a.id) < std::pair(b.created_at, b.id);
    });
    std::vector<Uuid> ids;
    for (const auto& w : list) ids.push_back(w.id);
    return ids;
  };
  auto website_id = [](const domain::UserWebsite& w) { return w.website_id; };

  // An organization member reaches every website; the direct admin role shows where it wins.
  auto expected = in_order(sites);
  auto page = tx->list_user_websites(org.pk, member.pk, domain::PageRequest{0, 100});
  EXPECT_EQ(page.total, 5);
  EXPECT_EQ(ids_of(page.items, website_id), expected);
  auto walked = walk_cursor<domain::UserWebsite>(
      [&](const domain::ListRequest& r) { return tx->list_user_websites(org.pk, member.pk, r); },
      website_id, 2);
  EXPECT_EQ(ids_of(walked, website_id), expected);
  for (const auto& w : walked) {
    bool direct = w.website_id == sites[3].id;
    EXPECT_EQ(w.role, direct ? Role::kAdmin : Role::kViewer);
    EXPECT_EQ(w.access_type,
              direct ? domain::AccessType::kWebsite : domain::AccessType::kOrganization);
  }

  // Anyone else: their direct and group websites, once each, strongest role.
  expected = in_order({sites[1], sites[2], sites[4]});
  page = tx->list_user_websites(org.pk, outsider.pk, domain::PageRequest{0, 100});
  EXPECT_EQ(page.total, 3);
  EXPECT_EQ(ids_of(page.items, website_id), expected);
  walked = walk_cursor<domain::UserWebsite>(
      [&](const domain::ListRequest& r) { return tx->list_user_websites(org.pk, outsider.pk, r); },
      website_id, 1);
  EXPECT_EQ(ids_of(walked, website_id), expected);
  for (const auto& w : walked) {
    if (w.website_id == sites[2].id) {
      EXPECT_EQ(w.role, Role::kAdmin);
      EXPECT_EQ(w.access_type, domain::AccessType::kWebsite);
    } else if (w.website_id == sites[1].id) {
      EXPECT_EQ(w.access_type, domain::AccessType::kGroup);
    }
  }
  // A website the user does not reach still places a cursor (it keeps its place in the order).
  auto after = tx->list_user_websites(org.pk, outsider.pk, domain::CursorRequest{10, sites[3].id});
  EXPECT_FALSE(after.unknown_cursor);
}

TEST_F(SqliteTransaction, InvitesListNewestFirstByTimeBatchAndId) {
  // Two batches in the same second (ids against row keys), one a second later.
  auto batch = [&](const Uuid& id, domain::UnixSeconds at) {
    return tx->insert_batch(domain::NewBatch{.id = id,
                                             .org_pk = org.pk,
                                             .email_address = "ann@example.com",
                                             .first_name = std::nullopt,
                                             .last_name = std::nullopt,
                                             .created_at = at,
                                             .expires_at = at + 86400});
  };
  struct Row {
    domain::UnixSeconds at;
    Uuid batch;
    Uuid id;
  };
  std::vector<Row> rows;
  int n = 0;
  for (auto [batch_id, at] : {std::pair{descending_id(0), kNow},
                              {descending_id(1), kNow},
                              {descending_id(2), kNow + 1}}) {
    Pk pk = batch(batch_id, at);
    for (int i = 0; i < 3; ++i) {
      Uuid id = Uuid::v4();
      tx->insert_invite(domain::NewInvite{.id = id,
                                          .org_pk = org.pk,
                                          .batch_pk = pk,
                                          .email_key = numbered_email("i", n++),
                                          .target = {TargetKind::kWebsite, website.pk},
                                          .role = Role::kViewer,
                                          .created_at = at,
                                          .expires_at = at + 86400});
      rows.push_back({at, batch_id, id});
    }
  }
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
    return std::tie(a.at, a.batch, a.id) > std::tie(b.at, b.batch, b.id);
  });
  std::vector<Uuid> expected;
  for (const auto& row : rows) expected.push_back(row.id);
  auto invite_id = [](const domain::InviteRecord& i) { return i.id; };
  domain::InviteFilter all;
  all.now = kNow;
  auto page = tx->list_invites(org.pk, all, domain::PageRequest{0, 100});
  EXPECT_EQ(page.total, 9);
  EXPECT_EQ(ids_of(page.items, invite_id), expected);
  for (std::int64_t limit : {1, 2, 4}) {
    EXPECT_EQ(
        ids_of(walk_cursor<domain::InviteRecord>(
                   [&](const domain::ListRequest& r) { return tx->list_invites(org.pk, all, r); },
                   invite_id, limit),
               invite_id),
        expected)
        << "limit " << limit;
  }
  // A filter keeps the order; an invite that does not match it still places a cursor.
  domain::InviteFilter one_email = all;
  one_email.email_key = numbered_email("i", 4);
  auto filtered = tx->list_invites(org.pk, one_email, domain::CursorRequest{10, expected[0]});
  EXPECT_FALSE(filtered.unknown_cursor);
  ASSERT_EQ(filtered.items.size(), 1u);
}

TEST_F(SqliteTransaction, CursorsMustNameAnItemTheListCanHold) {
  auto other_org = tx->insert_organization(Uuid::v4(), "Other", kNow);
  auto foreign = tx->insert_website(other_org.pk, Uuid::v4(), "https://f.example", "F", kNow);
  auto later =
      tx->insert_website(org.pk, Uuid::v7((kNow + 5) * 1000), "https://l.example", "L", kNow + 5);
  auto unknown = [](const auto& page) { return page.unknown_cursor; };
  EXPECT_TRUE(
      unknown(tx->list_websites(org.pk, std::nullopt, domain::CursorRequest{5, Uuid::v4()})));
  EXPECT_TRUE(
      unknown(tx->list_websites(org.pk, std::nullopt, domain::CursorRequest{5, foreign.id})));

  // A website deleted since it was seen keeps its place.
  tx->set_website_deleted(website.pk, kNow);
  auto after_deleted =
      tx->list_websites(org.pk, std::nullopt, domain::CursorRequest{5, website.id});
  EXPECT_FALSE(after_deleted.unknown_cursor);
  ASSERT_EQ(after_deleted.items.size(), 1u);
  EXPECT_EQ(after_deleted.items[0].id, later.id);
  EXPECT_FALSE(after_deleted.has_more);
  tx->set_website_deleted(website.pk, std::nullopt);

  // A scoped key places cursors only on its allowlist.
  auto key = tx->insert_api_key(domain::NewApiKey{.id = Uuid::v4(),
                                                  .org_pk = org.pk,
                                                  .name = "scoped",
                                                  .hash = domain::issue_secret("ik_").hash,
                                                  .scoped = true,
                                                  .website_pks = {later.pk},
                                                  .created_at = kNow});
  EXPECT_TRUE(unknown(tx->list_websites(org.pk, key.pk, domain::CursorRequest{5, website.id})));
  auto scoped = tx->list_websites(org.pk, key.pk, domain::CursorRequest{5, std::nullopt});
  ASSERT_EQ(scoped.items.size(), 1u);
  EXPECT_EQ(scoped.items[0].id, later.id);

  // Members: a user id that is not in the list, or was never.
  auto user = insert_user(*tx, "member@example.com");
  EXPECT_TRUE(tx->add_membership_if_absent({TargetKind::kWebsite, website.pk}, user.pk,
                                           Role::kViewer, kNow));
  EXPECT_FALSE(
      unknown(tx->list_website_members(org.pk, website.pk, domain::CursorRequest{5, user.id})));
  EXPECT_TRUE(unknown(tx->list_organization_members(org.pk, domain::CursorRequest{5, user.id})));
  EXPECT_TRUE(
      unknown(tx->list_website_members(org.pk, website.pk, domain::CursorRequest{5, Uuid::v4()})));
  auto stranger = insert_user(*tx, "stranger@example.com");
  EXPECT_TRUE(
      unknown(tx->list_website_members(org.pk, website.pk, domain::CursorRequest{5, stranger.id})));
}

// A member removed since they were listed keeps their place as a cursor: a client that
// removes the members it walks still covers the list once.
TEST_F(SqliteTransaction, RemovedMembersStillPlaceCursors) {
  Pk group = tx->insert_group(org.pk, Uuid::v4(), "G", {website.pk}, kNow);
  std::vector<Target> targets = {{TargetKind::kWebsite, website.pk},
                                 {TargetKind::kGroup, group},
                                 {TargetKind::kOrganization, org.pk}};
  std::vector<domain::UserRef> users;
  for (int i = 0; i < 9; ++i) {
    users.push_back(insert_user(*tx, numbered_email("r", i)));
    // Website, group and organization members in turn, a second apart.
    EXPECT_TRUE(tx->add_membership_if_absent(targets[static_cast<std::size_t>(i % 3)],
                                             users.back().pk, Role::kViewer, kNow + i));
  }
  // Walk the website's list one member at a time, removing each before asking for the next.
  std::vector<Uuid> seen;
  std::optional<Uuid> after;
  for (int page = 0; page < 20; ++page) {
    auto result = tx->list_website_members(org.pk, website.pk, domain::CursorRequest{1, after});
    ASSERT_FALSE(result.unknown_cursor) << page;
    if (result.items.empty()) break;
    seen.push_back(result.items[0].user_id);
    auto it = std::find_if(users.begin(), users.end(),
                           [&](const auto& u) { return u.id == result.items[0].user_id; });
    ASSERT_NE(it, users.end());
    auto index = static_cast<std::size_t>(it - users.begin());
    EXPECT_TRUE(tx->delete_membership(targets[index % 3], it->pk));
    after = result.items[0].user_id;
    if (!result.has_more) break;
  }
  std::vector<Uuid> expected;
  for (const auto& user : users) expected.push_back(user.id);
  EXPECT_EQ(seen, expected);

  // The same for the direct lists.
  for (Target target :
       {Target{TargetKind::kGroup, group}, Target{TargetKind::kOrganization, org.pk}}) {
    std::vector<Uuid> members;
    for (int i = 0; i < 3; ++i) {
      auto user =
          insert_user(*tx, numbered_email(target.kind == TargetKind::kGroup ? "g" : "o", i));
      EXPECT_TRUE(tx->add_membership_if_absent(target, user.pk, Role::kViewer, kNow + 100 + i));
      members.push_back(user.id);
    }
    auto list = [&](const domain::ListRequest& r) {
      return target.kind == TargetKind::kGroup ? tx->list_group_members(group, r)
                                               : tx->list_organization_members(org.pk, r);
    };
    auto first = list(domain::CursorRequest{1, std::nullopt});
    ASSERT_EQ(first.items.size(), 1u);
    EXPECT_EQ(first.items[0].user_id, members[0]);
    auto user = tx->find_user_by_id(members[0]);
    ASSERT_TRUE(user);
    EXPECT_TRUE(tx->delete_membership(target, user->pk));
    auto next = list(domain::CursorRequest{5, members[0]});
    EXPECT_FALSE(next.unknown_cursor);
    std::vector<Uuid> rest;
    for (const auto& m : next.items) rest.push_back(m.user_id);
    EXPECT_EQ(rest, std::vector<Uuid>(members.begin() + 1, members.end()));
  }
}

// The cost of a first cursor page does not grow with the list; the page form's does.
TEST_F(SqliteTransaction, FirstCursorPageCostsTheSameForFiftyOrFiveThousandMembers) {
  auto big = tx->insert_website(org.pk, Uuid::v4(), "https://big.example", "Big", kNow);
  Pk big_group = tx->insert_group(org.pk, Uuid::v4(), "Big group", {big.pk}, kNow);
  Pk small_group = tx->insert_group(org.pk, Uuid::v4(), "Small group", {website.pk}, kNow);
  db->exec("BEGIN");
  // A few organization members reach both websites; the rest are direct or group members.
  for (int i = 0; i < 5; ++i) {
    auto user = insert_user(*tx, numbered_email("o", i));
    tx->add_membership_if_absent({TargetKind::kOrganization, org.pk}, user.pk, Role::kViewer,
                                 kNow + i * 7);
  }
  auto fill = [&](Pk website_pk, Pk group_pk, int count, std::string_view prefix) {
    for (int i = 0; i < count; ++i) {
      auto user = insert_user(*tx, numbered_email(prefix, i));
      Target target = i % 3 == 0 ? Target{TargetKind::kGroup, group_pk}
                                 : Target{TargetKind::kWebsite, website_pk};
      tx->add_membership_if_absent(target, user.pk, Role::kViewer, kNow + i % 97);
    }
  };
  fill(website.pk, small_group, 50, "small");
  fill(big.pk, big_group, 5000, "big");
  db->exec("COMMIT");

  auto first_page = [&](Pk website_pk, const domain::ListRequest& request) {
    return sqlite_work(*db, [&] {
      auto page = tx->list_website_members(org.pk, website_pk, request);
      EXPECT_EQ(page.items.size(), 40u);
    });
  };
  auto small_cursor = first_page(website.pk, domain::CursorRequest{40, std::nullopt});
  auto big_cursor = first_page(big.pk, domain::CursorRequest{40, std::nullopt});
  EXPECT_LE(big_cursor, small_cursor * 12 / 10) << small_cursor << " vs " << big_cursor;
  // The control: the page form ranks every member, so the same data shows its growth.
  auto small_page = first_page(website.pk, domain::PageRequest{0, 40});
  auto big_page = first_page(big.pk, domain::PageRequest{0, 40});
  EXPECT_GE(big_page, small_page * 20) << small_page << " vs " << big_page;

  // The same for the direct lists: a group with 1,667 members against one with 17.
  auto group_first = [&](Pk group_pk) {
    return sqlite_work(*db, [&] {
      auto page = tx->list_group_members(group_pk, domain::CursorRequest{10, std::nullopt});
      EXPECT_EQ(page.items.size(), 10u);
    });
  };
  EXPECT_LE(group_first(big_group), group_first(small_group) * 12 / 10);
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
  StoreStats stats;
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
    stats = store.stats();
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
  auto before = store.stats();

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

  auto after = store.stats();
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
  auto before = store.stats();

  auto make_invite = [&](domain::WriteTx& tx, std::string_view key) {
    Pk batch = tx.insert_batch(domain::NewBatch{.id = Uuid::v4(),
                                                .org_pk = org_pk,
                                                .email_address = key,
                                                .first_name = std::nullopt,
                                                .last_name = std::nullopt,
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

  auto after = store.stats();
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

// One organization's long reads never hold every reader: other organizations' reads run while
// they are all still running (readers = 2: one tenant holds at most one).
TEST(SqliteStore, OneTenantsLongReadsLeaveAReaderForOthers) {
  TempDatabase file;
  SqliteStore store(options_for(file), run_inline());
  std::promise<void> gate;
  std::shared_future<void> open = gate.get_future().share();
  std::atomic<int> long_done{0};
  for (int i = 0; i < 3; ++i) {
    store.read_for(
        1,
        [open](domain::ReadTx&) -> domain::Status {
          open.wait();
          return {};
        },
        [&](domain::Status) { ++long_done; });
  }
  // Two other tenants, one after the other: the second also finds a free reader (without the
  // limit, the reader freed by the first would take tenant 1's next unit and block).
  std::promise<void> second;
  std::promise<void> third;
  store.read_for(
      2, [](domain::ReadTx&) -> domain::Status { return {}; },
      [&](domain::Status) { second.set_value(); });
  auto second_answered = second.get_future().wait_for(std::chrono::seconds(10));
  store.read_for(
      3, [](domain::ReadTx&) -> domain::Status { return {}; },
      [&](domain::Status) { third.set_value(); });
  auto third_answered = third.get_future().wait_for(std::chrono::seconds(10));
  EXPECT_EQ(long_done.load(), 0);
  gate.set_value();
  EXPECT_EQ(second_answered, std::future_status::ready) << "tenant 2 waited for tenant 1";
  EXPECT_EQ(third_answered, std::future_status::ready) << "tenant 3 waited for tenant 1";
  // Tenant 1's reads all finish once they can.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (long_done.load() < 3 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  EXPECT_EQ(long_done.load(), 3);
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

// While a commit waits for its sync, the writer keeps its next transaction open and adds the
// units that arrive meanwhile instead of committing each on its own (the commit could not be
// durable sooner). Completions run inline here, so the first group's completion holds the
// syncer: the second group stays committed but unsynced while late units arrive one at a time,
// each after the writer has run the one before. One of them fails and must roll back alone.
// None of them completes before the syncer has synced their group.
TEST(SqliteStore, UnitsArrivingDuringASyncJoinTheOpenGroup) {
  using namespace std::chrono_literals;
  TempDatabase file;
  std::promise<void> hold;
  bool held = true;
  struct Release {
    std::promise<void>& hold;
    bool& held;
    ~Release() {
      if (held) hold.set_value();
    }
  };
  SqliteStore store(options_for(file), run_inline());
  Release release{hold, held};  // destroyed before the store: never leaves the syncer held
  std::shared_future<void> holding = hold.get_future().share();
  const auto before = store.stats();

  std::promise<void> first_completing;
  store.write(insert_user_unit("first@example.com"), [&](domain::Status status) {
    EXPECT_TRUE(status.ok());
    first_completing.set_value();
    holding.wait();
  });
  ASSERT_EQ(first_completing.get_future().wait_for(10s), std::future_status::ready);
  std::promise<domain::Status> second;
  auto second_done = second.get_future();
  store.write(insert_user_unit("second@example.com"),
              [&](domain::Status status) { second.set_value(status); });
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (store.stats().commits - before.commits < 2 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(1ms);
  }
  ASSERT_EQ(store.stats().commits - before.commits, 2u) << "the second group never committed";

  constexpr int kLate = 6;
  constexpr int kFailing = 3;
  std::vector<std::promise<void>> ran(kLate);
  std::vector<std::future<void>> ran_once;
  auto entered = std::make_unique<std::atomic<bool>[]>(kLate);
  std::vector<std::promise<domain::Status>> done(kLate);
  std::vector<std::future<domain::Status>> late_done;
  for (int i = 0; i < kLate; ++i) {
    ran_once.push_back(ran[i].get_future());
    late_done.push_back(done[i].get_future());
  }
  for (int i = 0; i < kLate; ++i) {
    store.write(
        [&, i](domain::WriteTx& tx) -> domain::Status {
          insert_user(tx, numbered_email("late", i));
          if (!entered[i].exchange(true)) ran[i].set_value();  // a unit may run twice
          if (i == kFailing) return domain::Error{domain::ErrorCode::kConflict, "changed its mind"};
          return {};
        },
        [&done, i](domain::Status status) { done[i].set_value(status); });
    ASSERT_EQ(ran_once[i].wait_for(10s), std::future_status::ready) << "late unit " << i;
  }
  for (auto& future : late_done) EXPECT_EQ(future.wait_for(0s), std::future_status::timeout);
  EXPECT_EQ(second_done.wait_for(0s), std::future_status::timeout);
  EXPECT_EQ(store.stats().commits - before.commits, 2u);

  held = false;
  hold.set_value();
  EXPECT_TRUE(second_done.get().ok());
  for (int i = 0; i < kLate; ++i) {
    auto status = late_done[i].get();
    if (i == kFailing) {
      ASSERT_FALSE(status.ok());
      EXPECT_EQ(status.error().code, domain::ErrorCode::kConflict);
    } else {
      EXPECT_TRUE(status.ok()) << "late unit " << i;
    }
  }
  EXPECT_EQ(store.stats().commits - before.commits, 3u);  // the late units: one group
  EXPECT_EQ(count_users_in(store), 2 + kLate - 1);
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
  // Opening migrated the new database in one commit, which can be larger than the threshold
  // itself (every table and index of the schema): "the one commit that passed it" for the first
  // restart.
  const std::uintmax_t migrated = std::filesystem::file_size(wal);
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
  // threshold plus the one commit that passed it (9/8 of the threshold when the copier was busy
  // copying), because it restarted again and again (the header's checkpoint sequence number
  // counts the restarts).
  const std::int64_t bound = (GetParam() ? kThreshold + kThreshold / 8 : kThreshold) + 128 * 1024;
  EXPECT_LE(peak, std::max(static_cast<std::uintmax_t>(bound), migrated + 128 * 1024))
      << "WAL peak " << peak << ", after the migration " << migrated;
  std::ifstream header(wal, std::ios::binary);
  unsigned char bytes[16] = {};
  ASSERT_TRUE(header.read(reinterpret_cast<char*>(bytes), sizeof bytes));
  std::uint32_t restarts = (std::uint32_t{bytes[12]} << 24) | (std::uint32_t{bytes[13]} << 16) |
                           (std::uint32_t{bytes[14]} << 8) | std::uint32_t{bytes[15]};
  EXPECT_GE(restarts, 5u);
  EXPECT_EQ(count_users_in(store), 4000);
  // Every restart the writer ran is counted with its stall (one it had to try again counts
  // twice), and every unit's latency. With the copier, some restarts cost the writer nothing:
  // when a copy reaches the end of the log between two groups, SQLite restarts the log at the
  // next commit by itself.
  auto stats = store.stats();
  ASSERT_TRUE(stats.wal_restart_stalls.has_value());
  EXPECT_GE(stats.wal_restart_stalls->count, GetParam() ? 1u : restarts);
  EXPECT_GT(stats.wal_restart_stalls->sum_ms, 0.0);
  EXPECT_GE(stats.write_latency.count, 200u);
}

}  // namespace
}  // namespace invited::store::sqlite
