// The outbox's claims with several instances on one PostgreSQL database (store/postgres/
// instance_lock.hpp, outbox.cpp): a claim is held while its instance lives and its lease runs.
// Each PostgresStore is one instance, with its own lock on its own connection.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "domain/clock.hpp"
#include "domain/outbox.hpp"
#include "store/postgres/postgres_store.hpp"
#include "test_cluster.hpp"

namespace invited::store::postgres {
namespace {

using testing::connect;
using testing::TestCluster;
using namespace std::chrono_literals;

// Calls `condition` until it holds or `limit` passes; returns whether it held.
template <typename Condition>
bool eventually(Condition condition, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
}

class OutboxClaimsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    url_ = TestCluster::get().tcp_url(TestCluster::get().fresh_schema());
    db_ = connect(url_);
  }

  // One instance serving the test's database.
  std::unique_ptr<PostgresStore> instance(std::chrono::milliseconds check_every = 1000ms,
                                          std::chrono::milliseconds renew_claims_for = 120000ms) {
    return std::make_unique<PostgresStore>(
        PostgresStore::Options{.url = url_,
                               .pool_size = 2,
                               .timeout = 5000ms,
                               .instance_check_every = check_every,
                               .renew_claims_for = renew_claims_for},
        [](std::function<void()> task) { task(); });
  }

  // Queues one email, due since `queued_ms` (by default 1970).
  static void queue_email(PostgresStore& store, std::int64_t queued_ms = 0) {
    EXPECT_TRUE(store
                    .write_and_wait([&](domain::WriteTx& tx) -> domain::Status {
                      auto org = tx.insert_organization(domain::Uuid::v4(), "Acme", 1);
                      domain::Pk batch =
                          tx.insert_batch(domain::NewBatch{.id = domain::Uuid::v4(),
                                                           .org_pk = org.pk,
                                                           .email_address = "a@x.io",
                                                           .first_name = std::nullopt,
                                                           .last_name = std::nullopt,
                                                           .created_at = 1,
                                                           .expires_at = 100});
                      tx.enqueue_email(
                          domain::NewEmail{.message_id = domain::Uuid::v7(domain::now().unix_ms),
                                           .batch_pk = batch,
                                           .to_address = "a@x.io",
                                           .created_at = 1,
                                           .queued_ms = queued_ms});
                      return {};
                    })
                    .ok());
  }

  // What one claim by `store` takes, leased for `lease_ms`.
  static std::optional<domain::OutboxEmail> claim(PostgresStore& store,
                                                  std::int64_t lease_ms = domain::kEmailLeaseMs) {
    std::optional<domain::OutboxEmail> claimed;
    EXPECT_TRUE(store
                    .write_and_wait([&](domain::WriteTx& tx) {
                      std::int64_t now = domain::now().unix_ms;
                      claimed = tx.claim_due_email(now, now + lease_ms);
                      return domain::Status();
                    })
                    .ok());
    return claimed;
  }

  // When `store`'s worker should next ask, after a claim in the same unit.
  static std::optional<std::int64_t> next_due_after_claim(PostgresStore& store) {
    std::optional<std::int64_t> due;
    EXPECT_TRUE(store
                    .write_and_wait([&](domain::WriteTx& tx) {
                      std::int64_t now = domain::now().unix_ms;
                      EXPECT_FALSE(tx.claim_due_email(now, now + domain::kEmailLeaseMs));
                      due = tx.next_email_due_ms();
                      return domain::Status();
                    })
                    .ok());
    return due;
  }

  // The claim columns of email `pk`, and the database's clock (Unix milliseconds).
  struct ClaimRow {
    std::optional<std::int64_t> claimed_by;
    std::optional<std::int64_t> claimed_until;
    std::int64_t db_now_ms = 0;
  };
  ClaimRow claim_row(domain::Pk pk) {
    Result row = db_->query_once(
        "SELECT claimed_by, claimed_until, "
        "(extract(epoch FROM clock_timestamp()) * 1000)::int8 FROM outbox_emails WHERE pk = $1",
        Params().add(pk));
    return {row.optional_int64(0, 0), row.optional_int64(0, 1), row.int64(0, 2)};
  }

  std::string url_;
  std::unique_ptr<Connection> db_;
};

TEST_F(OutboxClaimsTest, ClaimNamesItsInstanceAndIsLeasedOnTheDatabasesClock) {
  auto a = instance();
  queue_email(*a);
  auto claimed = claim(*a);
  ASSERT_TRUE(claimed);
  EXPECT_EQ(claimed->attempts, 1);
  ClaimRow row = claim_row(claimed->pk);
  EXPECT_EQ(row.claimed_by, a->instance_lock().id());
  ASSERT_TRUE(row.claimed_until);
  EXPECT_GT(*row.claimed_until, row.db_now_ms + domain::kEmailLeaseMs - 10000);
  EXPECT_LE(*row.claimed_until, row.db_now_ms + domain::kEmailLeaseMs);
  // The lock behind it is held by a connection of the instance's own.
  EXPECT_TRUE(db_->query_once("SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' "
                              "AND granted AND pid = $1 AND mode = 'ExclusiveLock')",
                              Params().add(a->instance_lock().backend_pid()))
                  .boolean(0, 0));
}

TEST_F(OutboxClaimsTest, ClaimOfALiveInstanceIsNotTaken) {
  auto a = instance();
  auto b = instance();
  queue_email(*a);
  auto claimed = claim(*a);
  ASSERT_TRUE(claimed);
  EXPECT_NE(a->instance_lock().id(), b->instance_lock().id());
  EXPECT_FALSE(claim(*b)) << "took the email of a live instance";
  EXPECT_FALSE(claim(*a)) << "claimed its own email twice";
  // The email is due again for b when its lease ends.
  auto due = next_due_after_claim(*b);
  ASSERT_TRUE(due);
  EXPECT_EQ(*due, claim_row(claimed->pk).claimed_until);
}

TEST_F(OutboxClaimsTest, ClaimOfAnInstanceThatDiedIsTakenAtOnce) {
  auto a = instance();
  auto b = instance();
  queue_email(*a);
  auto claimed = claim(*a);
  ASSERT_TRUE(claimed);
  ASSERT_FALSE(claim(*b));
  // a goes away: its lock's connection closes, as the kernel closes it when a process dies.
  a.reset();
  std::optional<domain::OutboxEmail> taken;
  auto started = std::chrono::steady_clock::now();
  ASSERT_TRUE(eventually([&] { return (taken = claim(*b)).has_value(); }, 5000ms))
      << "the email of a dead instance stayed claimed";
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5000ms);
  EXPECT_EQ(taken->pk, claimed->pk);
  EXPECT_EQ(taken->attempts, 2);
  EXPECT_EQ(claim_row(taken->pk).claimed_by, b->instance_lock().id());
}

TEST_F(OutboxClaimsTest, ClaimWhoseLeaseEndedIsTakenFromALiveInstance) {
  // a never renews: it stands for an instance that hangs with its connection open.
  auto a = instance(1000ms, 0ms);
  auto b = instance();
  queue_email(*a);
  auto claimed = claim(*a, 1500);
  ASSERT_TRUE(claimed);
  ClaimRow row = claim_row(claimed->pk);
  ASSERT_TRUE(row.claimed_until);
  if (row.db_now_ms + 500 < *row.claimed_until) {
    EXPECT_FALSE(claim(*b)) << "taken before its lease ended";
  }
  ASSERT_TRUE(
      eventually([&] { return claim_row(claimed->pk).db_now_ms > *row.claimed_until; }, 5000ms));
  auto taken = claim(*b);
  ASSERT_TRUE(taken) << "an ended lease kept its email";
  EXPECT_EQ(taken->pk, claimed->pk);
  EXPECT_EQ(taken->attempts, 2);
}

TEST_F(OutboxClaimsTest, LeaseIsRenewedWhileTheInstanceLivesAndTheSendLasts) {
  auto a = instance(50ms);
  auto b = instance();
  queue_email(*a);
  auto claimed = claim(*a, 1500);
  ASSERT_TRUE(claimed);
  const std::int64_t first_until = *claim_row(claimed->pk).claimed_until;
  // Renewed (every lease / 3) past its first end, and not taken after that end.
  ASSERT_TRUE(eventually(
      [&] {
        ClaimRow row = claim_row(claimed->pk);
        return row.db_now_ms > first_until && *row.claimed_until > row.db_now_ms;
      },
      5000ms))
      << "the lease was not renewed";
  EXPECT_FALSE(claim(*b)) << "took a renewed claim";
  // Once its outcome is recorded, the claim ends and is renewed no more.
  ASSERT_TRUE(a->write_and_wait([&](domain::WriteTx& tx) {
                 tx.mark_email_retry(claimed->pk, 1000, "try again");
                 return domain::Status();
               }).ok());
  ClaimRow ended = claim_row(claimed->pk);
  EXPECT_EQ(ended.claimed_by, std::nullopt);
  EXPECT_EQ(ended.claimed_until, std::nullopt);
  auto taken = claim(*b);
  ASSERT_TRUE(taken);
  EXPECT_EQ(taken->pk, claimed->pk);
}

TEST_F(OutboxClaimsTest, InstanceThatLostItsLockClaimsNothingAndItsClaimsAreFree) {
  // a checks its lock's connection once an hour: it does not notice the loss by itself.
  auto a = instance(3600000ms);
  auto b = instance();
  queue_email(*a);
  auto claimed = claim(*a);
  ASSERT_TRUE(claimed);
  const int lock_pid = a->instance_lock().backend_pid();
  ASSERT_NE(lock_pid, 0);
  auto admin = connect(TestCluster::get().admin_url());
  ASSERT_TRUE(admin->query_once("SELECT pg_terminate_backend($1::int4)", Params().add(lock_pid))
                  .boolean(0, 0));
  ASSERT_TRUE(eventually(
      [&] {
        return !admin
                    ->query_once("SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1)",
                                 Params().add(lock_pid))
                    .boolean(0, 0);
      },
      5000ms));
  // Its claim is free at once for another instance.
  auto taken = claim(*b);
  ASSERT_TRUE(taken) << "the claim of an instance without its lock was kept";
  EXPECT_EQ(taken->pk, claimed->pk);
  // And it claims nothing itself, not even a free email (another instance may be sending what
  // it holds), ...
  queue_email(*a);
  EXPECT_FALSE(claim(*a)) << "claimed without holding its lock";
  // ... and asks again soon, not when the next email is due (b's leases, 30 s from now).
  ASSERT_TRUE(claim(*b));
  auto due = next_due_after_claim(*a);
  ASSERT_TRUE(due);
  EXPECT_LE(*due, domain::now().unix_ms + 1000);
  EXPECT_GT(*next_due_after_claim(*b), domain::now().unix_ms + 10000);
}

TEST_F(OutboxClaimsTest, InstanceThatLostItsLockTakesALockAgainAndClaims) {
  auto a = instance(50ms);
  const std::int64_t first_id = [&] {
    queue_email(*a);
    auto claimed = claim(*a);
    EXPECT_TRUE(claimed);
    return a->instance_lock().id();
  }();
  const int lock_pid = a->instance_lock().backend_pid();
  auto admin = connect(TestCluster::get().admin_url());
  admin->query_once("SELECT pg_terminate_backend($1::int4)", Params().add(lock_pid));
  ASSERT_TRUE(eventually(
      [&] {
        int pid = a->instance_lock().backend_pid();
        return pid != 0 && pid != lock_pid;
      },
      5000ms))
      << "the lock was not taken again";
  EXPECT_NE(a->instance_lock().id(), first_id) << "a lock comes back under a new id";
  queue_email(*a);
  // Both emails: the one claimed under the lost lock is free too.
  EXPECT_TRUE(claim(*a));
  EXPECT_TRUE(claim(*a));
}

TEST_F(OutboxClaimsTest, ABatchClaimTakesUpToItsLimitInDueOrderAndTwoInstancesNeverShareAnEmail) {
  auto a = instance();
  auto b = instance();
  for (std::int64_t queued_ms : {5000, 3000, 4000, 1000, 2000}) queue_email(*a, queued_ms);
  auto claim_batch = [](PostgresStore& store, int limit) {
    std::vector<domain::OutboxEmail> claimed;
    EXPECT_TRUE(store
                    .write_and_wait([&](domain::WriteTx& tx) {
                      std::int64_t now = domain::now().unix_ms;
                      claimed = tx.claim_due_emails(now, now + domain::kEmailLeaseMs, limit);
                      return domain::Status();
                    })
                    .ok());
    return claimed;
  };
  auto pks = [](const std::vector<domain::OutboxEmail>& emails) {
    std::vector<domain::Pk> out;
    for (const auto& email : emails) out.push_back(email.pk);
    return out;
  };
  // Row keys follow the order of queueing above: 1 (due at 5 s), 2 (3 s), 3 (4 s), 4 (1 s),
  // 5 (2 s).
  std::vector<domain::OutboxEmail> first = claim_batch(*a, 3);
  EXPECT_EQ(pks(first), (std::vector<domain::Pk>{4, 5, 2})) << "due longest first";
  for (const auto& email : first) {
    EXPECT_EQ(email.attempts, 1);
    EXPECT_EQ(claim_row(email.pk).claimed_by, a->instance_lock().id());
  }
  std::vector<domain::OutboxEmail> second = claim_batch(*b, 3);
  EXPECT_EQ(pks(second), (std::vector<domain::Pk>{3, 1})) << "the rest, none of a's";
  EXPECT_TRUE(claim_batch(*a, 3).empty());
}

TEST_F(OutboxClaimsTest, TheBacklogAgesTheEmailDueLongestNotOneWaitingForALaterRetry) {
  auto a = instance();
  const std::int64_t now = domain::now().unix_ms;
  queue_email(*a, now - 3000);  // queued first
  queue_email(*a, now - 2000);
  auto backlog = [&](std::int64_t at_ms) {
    domain::OutboxBacklog read;
    EXPECT_TRUE(a->read_and_wait([&](domain::ReadTx& tx) {
                   read = tx.outbox_backlog(at_ms);
                   return domain::Status();
                 }).ok());
    return read;
  };
  EXPECT_EQ(backlog(now).queued, 2);
  EXPECT_EQ(backlog(now).oldest_due_ms, now - 3000);

  // The email queued first fails and waits for a retry a minute away: it stays queued, but the
  // one waiting longest is now the second.
  auto claimed = claim(*a);
  ASSERT_TRUE(claimed);
  ASSERT_TRUE(a->write_and_wait([&](domain::WriteTx& tx) {
                 tx.mark_email_retry(claimed->pk, now + 60000, "451 busy");
                 return domain::Status();
               }).ok());
  domain::OutboxBacklog read = backlog(now + 250);
  EXPECT_EQ(read.queued, 2);
  EXPECT_EQ(read.oldest_due_ms, now - 2000);
  EXPECT_DOUBLE_EQ(domain::oldest_queued_age_seconds(read, domain::Instant{now + 250}), 2.25);
  // Once its retry falls due, it waits from then on.
  EXPECT_EQ(backlog(now + 60000).oldest_due_ms, now - 2000);
  auto second = claim(*a);  // the second email, sent
  ASSERT_TRUE(second);
  EXPECT_NE(second->pk, claimed->pk);
  ASSERT_TRUE(a->write_and_wait([&](domain::WriteTx& tx) {
                 tx.mark_email_sent(second->pk, 1);
                 return domain::Status();
               }).ok());
  EXPECT_FALSE(backlog(now + 250).oldest_due_ms) << "only a retry that is not due is left";
  EXPECT_EQ(backlog(now + 60500).oldest_due_ms, now + 60000);
}

}  // namespace
}  // namespace invited::store::postgres
