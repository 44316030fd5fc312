// The shared rate-limit buckets (store/postgres/rate_budgets.cpp): what one draw takes and gives
// back, refill on the database's clock, and that concurrent draws from many connections never
// hand out more than the bucket holds.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "store/postgres/postgres_store.hpp"
#include "test_cluster.hpp"

namespace invited::store::postgres {
namespace {

using testing::connect;
using testing::TestCluster;
using namespace std::chrono_literals;

class RateBudgetsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    url_ = TestCluster::get().tcp_url(TestCluster::get().fresh_schema());
    store_ = std::make_unique<PostgresStore>(
        PostgresStore::Options{.url = url_, .pool_size = 8, .timeout = 5000ms},
        [](std::function<void()> task) { std::thread(std::move(task)).detach(); });
  }

  domain::BucketDrawn draw(domain::BucketDraw request) {
    std::promise<domain::Result<domain::BucketDrawn>> outcome;
    store_->draw(request,
                 [&](domain::Result<domain::BucketDrawn> drawn) { outcome.set_value(drawn); });
    auto drawn = outcome.get_future().get();
    EXPECT_TRUE(drawn.ok());
    return drawn.ok() ? *drawn : domain::BucketDrawn{};
  }

  // 60 tokens a minute for organization 7's request budget.
  static domain::BucketDraw per_minute(std::int64_t at_least, std::int64_t at_most,
                                       std::int64_t give_back = 0) {
    return {.org_pk = 7,
            .budget = domain::Budget::kRequests,
            .capacity = 60,
            .period_seconds = 60,
            .give_back = give_back,
            .at_least = at_least,
            .at_most = at_most};
  }

  std::string url_;
  std::unique_ptr<PostgresStore> store_;
};

TEST_F(RateBudgetsTest, ANewBucketIsFullAndGivesWholeTokensBetweenAtLeastAndAtMost) {
  auto first = draw(per_minute(1, 1));
  EXPECT_EQ(first.granted, 1);
  EXPECT_NEAR(first.milli_tokens_left, 59'000, 50);
  auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  EXPECT_NEAR(first.now_ms, now_ms, 60'000) << "the database's clock, in Unix milliseconds";

  // Up to 10 when there are 10; all that is left (whole tokens) when fewer than at_most.
  EXPECT_EQ(draw(per_minute(1, 10)).granted, 10);
  auto rest = draw(per_minute(40, 100));
  // 49, and one more per second the draws took (refill: one a second).
  EXPECT_GE(rest.granted, 49);
  EXPECT_LE(rest.granted, 51);
  EXPECT_LT(rest.milli_tokens_left, 1'000);
  // Fewer than at_least: nothing taken.
  auto refused = draw(per_minute(5, 5));
  EXPECT_EQ(refused.granted, 0);
  EXPECT_LT(refused.milli_tokens_left, 5'000);

  // Another organization's bucket, and another budget of the same organization, are full.
  auto other = per_minute(60, 60);
  other.org_pk = 8;
  EXPECT_EQ(draw(other).granted, 60);
  auto targets = per_minute(60, 60);
  targets.budget = domain::Budget::kTargets;
  EXPECT_EQ(draw(targets).granted, 60);
}

TEST_F(RateBudgetsTest, GivenBackTokensReturnNeverAboveCapacity) {
  EXPECT_EQ(draw(per_minute(50, 50)).granted, 50);
  EXPECT_EQ(draw(per_minute(20, 20)).granted, 0);
  // 10 given back: 20 fit now.
  EXPECT_EQ(draw(per_minute(20, 20, 10)).granted, 20);
  // Giving back more than was ever taken fills the bucket, no more.
  auto filled = draw(per_minute(0, 0, 1000));
  EXPECT_EQ(filled.granted, 0);
  EXPECT_EQ(filled.milli_tokens_left, 60'000);
}

TEST_F(RateBudgetsTest, RefillsForTheTimeOnTheDatabasesClock) {
  EXPECT_EQ(draw(per_minute(60, 60)).granted, 60);
  // Thirty seconds ago, by the database's clock: 30 tokens back at one a second.
  connect(url_)->exec("UPDATE rate_budgets SET updated_at = updated_at - interval '30 seconds'");
  auto drawn = draw(per_minute(1, 100));
  // 30, and one more per second between the two draws.
  EXPECT_GE(drawn.granted, 30);
  EXPECT_LE(drawn.granted, 32);
  EXPECT_LT(drawn.milli_tokens_left, 1'000);
  // An hour ago: full, not more.
  connect(url_)->exec("UPDATE rate_budgets SET updated_at = updated_at - interval '1 hour'");
  EXPECT_EQ(draw(per_minute(1, 100)).granted, 60);
}

TEST_F(RateBudgetsTest, ConcurrentDrawsNeverGiveMoreThanTheBucketHolds) {
  // 400 draws of one token from 8 connections at once on a bucket of 100 per hour (a refill of
  // one token every 36 s, none during the test): exactly 100 are granted.
  domain::BucketDraw one{.org_pk = 9,
                         .budget = domain::Budget::kTargets,
                         .capacity = 100,
                         .period_seconds = 3600,
                         .give_back = 0,
                         .at_least = 1,
                         .at_most = 1};
  std::atomic<int> granted{0};
  std::atomic<int> done{0};
  std::promise<void> all_done;
  constexpr int kDraws = 400;
  for (int i = 0; i < kDraws; ++i) {
    store_->draw(one, [&](domain::Result<domain::BucketDrawn> drawn) {
      if (drawn.ok()) granted.fetch_add(static_cast<int>(drawn->granted));
      if (done.fetch_add(1) + 1 == kDraws) all_done.set_value();
    });
  }
  all_done.get_future().get();
  EXPECT_EQ(granted.load(), 100);
}

}  // namespace
}  // namespace invited::store::postgres
