// The set-based operations of the bulk plan on PostgreSQL (one statement each): answers in the
// order of the request, whatever order the rows come back in.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "store/postgres/connection.hpp"
#include "store/postgres/postgres_store.hpp"
#include "test_cluster.hpp"

namespace invited::store::postgres {
namespace {

using domain::Pk;
using domain::TargetKind;
using domain::Uuid;
using testing::TestCluster;
using namespace std::chrono_literals;

class SetBasedOperationsTest : public ::testing::Test {
 protected:
  void SetUp() override { url_ = TestCluster::get().tcp_url(TestCluster::get().fresh_schema()); }

  std::string url_;
};

TEST_F(SetBasedOperationsTest, TargetsMembershipsAndInvitesAnswerInRequestOrder) {
  PostgresStore store(PostgresStore::Options{.url = url_, .pool_size = 2, .timeout = 5000ms},
                      [](std::function<void()> task) { task(); });
  domain::Status status = store.write_and_wait([&](domain::WriteTx& tx) -> domain::Status {
    Pk org = tx.insert_organization(Uuid::v4(), "Acme", 100).pk;
    Pk other_org = tx.insert_organization(Uuid::v4(), "Other", 100).pk;
    std::vector<Uuid> ids;
    std::vector<Pk> pks;
    for (int i = 0; i < 4; ++i) {
      ids.push_back(Uuid::v4());
      pks.push_back(tx.insert_website(org, ids.back(), "https://a.example", "A", 100 + i).pk);
    }
    tx.set_website_deleted(pks[2], 150);
    Uuid foreign = Uuid::v4();
    tx.insert_website(other_org, foreign, "https://b.example", "B", 100);
    Uuid group_id = Uuid::v4();
    Pk group = tx.insert_group(org, group_id, "G", {pks[0]}, 100);

    // Unknown, another organization's and deleted ids are empty; the others keep their place.
    std::vector<Uuid> asked = {ids[3], Uuid::v4(), ids[0], foreign, ids[2], ids[1]};
    auto found = tx.find_live_target_pks(org, TargetKind::kWebsite, asked);
    EXPECT_EQ(found, (std::vector<std::optional<Pk>>{pks[3], std::nullopt, pks[0], std::nullopt,
                                                     std::nullopt, pks[1]}));
    EXPECT_EQ(tx.find_live_target_pks(org, TargetKind::kGroup, std::vector<Uuid>{ids[0], group_id}),
              (std::vector<std::optional<Pk>>{std::nullopt, group}));

    auto user = tx.insert_user_if_absent(domain::NewUser{.id = Uuid::v4(),
                                                         .email_address = "ann@example.com",
                                                         .email_key = "ann@example.com",
                                                         .first_name = std::nullopt,
                                                         .last_name = std::nullopt,
                                                         .created_at = 100});
    EXPECT_TRUE(tx.add_membership_if_absent({TargetKind::kWebsite, pks[1]}, user.pk,
                                            domain::Role::kViewer, 100));
    std::vector<Pk> targets = {pks[3], pks[1], pks[0]};
    EXPECT_EQ(tx.find_memberships(TargetKind::kWebsite, targets, user.pk),
              (std::vector<bool>{false, true, false}));
    EXPECT_EQ(tx.add_memberships_if_absent(TargetKind::kWebsite, targets, user,
                                           domain::Role::kAdmin, 200),
              (std::vector<bool>{true, false, true}));
    EXPECT_EQ(tx.find_memberships(TargetKind::kWebsite, targets, user.pk),
              (std::vector<bool>{true, true, true}));
    // The membership that was there keeps its role.
    EXPECT_EQ(tx.membership_role({TargetKind::kWebsite, pks[1]}, user.pk), domain::Role::kViewer);
    EXPECT_EQ(tx.membership_role({TargetKind::kWebsite, pks[3]}, user.pk), domain::Role::kAdmin);

    // Invites go in in the given order (their row keys follow it) and close together.
    Pk batch = tx.insert_batch(domain::NewBatch{.id = Uuid::v4(),
                                                .org_pk = org,
                                                .email_address = "bob@example.com",
                                                .first_name = std::nullopt,
                                                .last_name = std::nullopt,
                                                .created_at = 100,
                                                .expires_at = 1000});
    std::vector<domain::NewInvite> invites;
    for (Pk target : {pks[3], pks[0], pks[1]}) {
      invites.push_back(domain::NewInvite{.id = Uuid::v4(),
                                          .org_pk = org,
                                          .batch_pk = batch,
                                          .email_key = "bob@example.com",
                                          .target = {TargetKind::kWebsite, target},
                                          .role = domain::Role::kViewer,
                                          .created_at = 100,
                                          .expires_at = 1000});
    }
    tx.insert_invites(invites);
    auto stored = tx.batch_invites(batch);
    EXPECT_EQ(stored.size(), 3u);
    for (std::size_t i = 0; i < stored.size() && i < invites.size(); ++i) {
      EXPECT_EQ(stored[i].target_pk, invites[i].target.pk) << i;
    }
    EXPECT_TRUE(tx.has_pending_invites(org, "bob@example.com"));
    tx.close_pending_invites_to(TargetKind::kWebsite, std::vector<Pk>{pks[0], pks[3]},
                                "bob@example.com", domain::InviteStatus::kRevoked, 200);
    EXPECT_TRUE(tx.has_pending_invites(org, "bob@example.com"));  // pks[1]'s is left alone
    tx.close_pending_invites_to(TargetKind::kWebsite, std::vector<Pk>{pks[1]}, "bob@example.com",
                                domain::InviteStatus::kRevoked, 200);
    EXPECT_FALSE(tx.has_pending_invites(org, "bob@example.com"));
    return {};
  });
  EXPECT_TRUE(status.ok()) << (status.ok() ? "" : status.error().message);
}

// Invitations to two addresses at once, each unit first asking whether its address has a pending
// invite, then writing its own, both before either commits: under SERIALIZABLE neither may cancel
// the other. Each pair of addresses sorts next to
// each other, so a btree led by the address holds both on one page and each unit's read of that
// page would conflict with the other's insert (one unit would run again). Their hashes differ in
// the lowest bit, which separates them in a hash index of any size.
TEST_F(SetBasedOperationsTest, InvitesToNeighbouringAddressesAtOnceDoNotCancelEachOther) {
  PostgresStore store(PostgresStore::Options{.url = url_, .pool_size = 2, .timeout = 5000ms},
                      [](std::function<void()> task) { task(); });
  auto address = [](int n) { return std::to_string(n).append("@example.com"); };
  Pk org = 0;
  Pk site = 0;
  auto invite = [&](domain::WriteTx& tx, const std::string& email) {
    Pk batch = tx.insert_batch(domain::NewBatch{.id = Uuid::v4(),
                                                .org_pk = org,
                                                .email_address = email,
                                                .first_name = std::nullopt,
                                                .last_name = std::nullopt,
                                                .created_at = 100,
                                                .expires_at = 1000});
    std::vector<domain::NewInvite> invites = {
        domain::NewInvite{.id = Uuid::v4(),
                          .org_pk = org,
                          .batch_pk = batch,
                          .email_key = email,
                          .target = {TargetKind::kWebsite, site},
                          .role = domain::Role::kViewer,
                          .created_at = 100,
                          .expires_at = 1000}};
    tx.insert_invites(invites);
  };
  // Other addresses' pending invites, so that the indexes have pages to share.
  domain::Status setup = store.write_and_wait([&](domain::WriteTx& tx) -> domain::Status {
    org = tx.insert_organization(Uuid::v4(), "Acme", 100).pk;
    site = tx.insert_website(org, Uuid::v4(), "https://a.example", "A", 100).pk;
    for (int n = 1000; n < 1200; ++n) invite(tx, address(n));
    return {};
  });
  ASSERT_TRUE(setup.ok()) << setup.error().message;

  Connection db(Connection::Options{.url = url_}, Clock::time_point::max());
  auto lowest_hash_bit = [&](const std::string& email) {
    return db.query_once("SELECT (hashtext($1) & 1)::int8", Params().add(email)).int64(0, 0);
  };
  int n = 1300;
  for (int round = 0; round < 5; ++round) {
    std::string first;
    std::string second;
    for (; second.empty(); ++n) {
      if (lowest_hash_bit(address(n)) != lowest_hash_bit(address(n + 1))) {
        first = address(n);
        second = address(n + 1);
      }
    }
    std::mutex mutex;
    std::condition_variable step_done;
    int read = 0;
    int written = 0;
    std::atomic<int> runs{0};
    auto unit = [&](const std::string& email) {
      return [&, email](domain::WriteTx& tx) -> domain::Status {
        const bool first_run = runs.fetch_add(1) < 2;
        EXPECT_FALSE(tx.has_pending_invites(org, email));
        if (first_run) {  // both units read before either writes
          std::unique_lock lock(mutex);
          ++read;
          step_done.notify_all();
          step_done.wait_for(lock, 10s, [&] { return read == 2; });
        }
        invite(tx, email);
        if (first_run) {  // and both write before either commits
          std::unique_lock lock(mutex);
          ++written;
          step_done.notify_all();
          step_done.wait_for(lock, 10s, [&] { return written == 2; });
        }
        return {};
      };
    };
    domain::Status a_status;
    domain::Status b_status;
    std::thread a([&] { a_status = store.write_and_wait(unit(first)); });
    std::thread b([&] { b_status = store.write_and_wait(unit(second)); });
    a.join();
    b.join();
    EXPECT_EQ(written, 2) << "the two units did not run at once";
    EXPECT_TRUE(a_status.ok() && b_status.ok());
    EXPECT_EQ(runs.load(), 2) << first << " and " << second
                              << ": a unit ran again after a serialization failure";
  }
}

}  // namespace
}  // namespace invited::store::postgres
