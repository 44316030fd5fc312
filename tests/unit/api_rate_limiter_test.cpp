#include <gtest/gtest.h>

#include <cstdint>

#include "api/rate_limiter.hpp"

namespace invited::api {
namespace {

constexpr domain::Pk kOrg = 1;
constexpr domain::Pk kOtherOrg = 2;
// A whole second, so reset times are easy to state.
constexpr std::int64_t kStartMs = 1'795'692'627'000;
constexpr std::int64_t kStart = kStartMs / 1000;

TEST(RateLimiter, FirstRequestSeesFullBucket) {
  RateLimiter limiter(60, 0);
  auto decision = limiter.take_request(kOrg, kStartMs);
  EXPECT_TRUE(decision.allowed);
  EXPECT_EQ(decision.limit, 60);
  EXPECT_EQ(decision.remaining, 59);
  EXPECT_EQ(decision.retry_after, 0);
  // One token used; at 60 per minute it is back a second later.
  EXPECT_EQ(decision.reset_at, kStart + 1);
}

TEST(RateLimiter, AllowsCapacityThenRefuses) {
  RateLimiter limiter(3, 0);
  for (std::int64_t remaining : {2, 1, 0}) {
    auto decision = limiter.take_request(kOrg, kStartMs);
    EXPECT_TRUE(decision.allowed);
    EXPECT_EQ(decision.limit, 3);
    EXPECT_EQ(decision.remaining, remaining);
  }
  auto refused = limiter.take_request(kOrg, kStartMs);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.limit, 3);
  EXPECT_EQ(refused.remaining, 0);
  // 3 per minute: one token every 20 seconds; the bucket is full again in a minute.
  EXPECT_EQ(refused.retry_after, 20);
  EXPECT_EQ(refused.reset_at, kStart + 60);
}

TEST(RateLimiter, RefillsContinuously) {
  RateLimiter limiter(3, 0);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(limiter.take_request(kOrg, kStartMs).allowed);
  EXPECT_FALSE(limiter.take_request(kOrg, kStartMs + 19'999).allowed);
  auto after = limiter.take_request(kOrg, kStartMs + 20'000);
  EXPECT_TRUE(after.allowed);
  EXPECT_EQ(after.remaining, 0);
  EXPECT_FALSE(limiter.take_request(kOrg, kStartMs + 20'001).allowed);
  // Two more tokens after another 40 seconds.
  EXPECT_TRUE(limiter.take_request(kOrg, kStartMs + 60'000).allowed);
  EXPECT_TRUE(limiter.take_request(kOrg, kStartMs + 60'000).allowed);
  EXPECT_FALSE(limiter.take_request(kOrg, kStartMs + 60'000).allowed);
}

TEST(RateLimiter, RetryAfterIsEnoughToSucceed) {
  RateLimiter limiter(7, 0);
  std::int64_t now = kStartMs;
  for (int i = 0; i < 7; ++i) ASSERT_TRUE(limiter.take_request(kOrg, now).allowed);
  now += 3'333;
  auto refused = limiter.take_request(kOrg, now);
  ASSERT_FALSE(refused.allowed);
  EXPECT_GE(refused.retry_after, 1);
  // 7 per minute is one token per 8.571 s; 3.333 s have passed, so 5.238 s remain: 6 seconds.
  EXPECT_EQ(refused.retry_after, 6);
  EXPECT_FALSE(limiter.take_request(kOrg, now + (refused.retry_after - 1) * 1000).allowed);
  EXPECT_TRUE(limiter.take_request(kOrg, now + refused.retry_after * 1000).allowed);
}

TEST(RateLimiter, NeverFillsBeyondCapacity) {
  RateLimiter limiter(5, 0);
  ASSERT_TRUE(limiter.take_request(kOrg, kStartMs).allowed);
  auto later = limiter.take_request(kOrg, kStartMs + 3'600'000);
  EXPECT_TRUE(later.allowed);
  EXPECT_EQ(later.remaining, 4);
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(limiter.take_request(kOrg, kStartMs + 3'600'000).allowed);
  EXPECT_FALSE(limiter.take_request(kOrg, kStartMs + 3'600'000).allowed);
}

TEST(RateLimiter, RemainingCountsWholeTokens) {
  RateLimiter limiter(60, 0);  // one token per second
  for (int i = 0; i < 60; ++i) ASSERT_TRUE(limiter.take_request(kOrg, kStartMs).allowed);
  // 2.5 tokens back: one is taken, 1.5 left, shown as 1.
  auto decision = limiter.take_request(kOrg, kStartMs + 2'500);
  EXPECT_TRUE(decision.allowed);
  EXPECT_EQ(decision.remaining, 1);
  // 58.5 tokens missing at 1 per second: full at +61 s, rounded up to a whole second.
  EXPECT_EQ(decision.reset_at, kStart + 61);
}

TEST(RateLimiter, ResetIsWhenBucketIsFullAgain) {
  RateLimiter limiter(60, 0);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(limiter.take_request(kOrg, kStartMs).allowed);
  auto decision = limiter.take_request(kOrg, kStartMs);
  EXPECT_EQ(decision.remaining, 49);
  EXPECT_EQ(decision.reset_at, kStart + 11);
}

TEST(RateLimiter, RefusalTakesNoTokens) {
  RateLimiter limiter(0, 100);
  auto too_many = limiter.take_targets(kOrg, 101, kStartMs);
  EXPECT_FALSE(too_many.allowed);
  EXPECT_EQ(too_many.remaining, 100);
  auto all = limiter.take_targets(kOrg, 100, kStartMs);
  EXPECT_TRUE(all.allowed);
  EXPECT_EQ(all.remaining, 0);
}

TEST(RateLimiter, ZeroSwitchesBudgetOff) {
  RateLimiter limiter(0, 0);
  for (int i = 0; i < 1000; ++i) {
    auto request = limiter.take_request(kOrg, kStartMs);
    ASSERT_TRUE(request.allowed);
    EXPECT_EQ(request.limit, 0);
    auto targets = limiter.take_targets(kOrg, 50, kStartMs);
    ASSERT_TRUE(targets.allowed);
    EXPECT_EQ(targets.limit, 0);
  }
}

TEST(RateLimiter, BudgetsAreIndependent) {
  RateLimiter requests_only(2, 0);
  ASSERT_TRUE(requests_only.take_request(kOrg, kStartMs).allowed);
  ASSERT_TRUE(requests_only.take_request(kOrg, kStartMs).allowed);
  EXPECT_FALSE(requests_only.take_request(kOrg, kStartMs).allowed);
  EXPECT_TRUE(requests_only.take_targets(kOrg, 1'000'000, kStartMs).allowed);

  RateLimiter targets_only(0, 10);
  EXPECT_TRUE(targets_only.take_targets(kOrg, 10, kStartMs).allowed);
  EXPECT_FALSE(targets_only.take_targets(kOrg, 1, kStartMs).allowed);
  EXPECT_TRUE(targets_only.take_request(kOrg, kStartMs).allowed);
}

TEST(RateLimiter, TargetsBudgetCountsEachTarget) {
  RateLimiter limiter(60, 1000);
  auto first = limiter.take_targets(kOrg, 50, kStartMs);
  EXPECT_TRUE(first.allowed);
  EXPECT_EQ(first.limit, 1000);
  EXPECT_EQ(first.remaining, 950);
  // 1000 per hour is one per 3.6 s: 50 are back after 180 s.
  EXPECT_EQ(first.reset_at, kStart + 180);
  for (int i = 0; i < 19; ++i) ASSERT_TRUE(limiter.take_targets(kOrg, 50, kStartMs).allowed);
  auto refused = limiter.take_targets(kOrg, 1, kStartMs);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.remaining, 0);
  EXPECT_EQ(refused.retry_after, 4);  // 3.6 s, rounded up
  // Requests still flow: the other budget.
  EXPECT_TRUE(limiter.take_request(kOrg, kStartMs).allowed);
}

TEST(RateLimiter, OrganizationsHaveSeparateBuckets) {
  RateLimiter limiter(2, 10);
  ASSERT_TRUE(limiter.take_request(kOrg, kStartMs).allowed);
  ASSERT_TRUE(limiter.take_request(kOrg, kStartMs).allowed);
  ASSERT_FALSE(limiter.take_request(kOrg, kStartMs).allowed);
  ASSERT_TRUE(limiter.take_targets(kOrg, 10, kStartMs).allowed);

  auto other = limiter.take_request(kOtherOrg, kStartMs);
  EXPECT_TRUE(other.allowed);
  EXPECT_EQ(other.remaining, 1);
  auto other_targets = limiter.take_targets(kOtherOrg, 10, kStartMs);
  EXPECT_TRUE(other_targets.allowed);
  EXPECT_EQ(other_targets.remaining, 0);
  // And the first organization is still limited.
  EXPECT_FALSE(limiter.take_request(kOrg, kStartMs).allowed);
}

TEST(RateLimiter, ClockGoingBackwardsAddsNothing) {
  RateLimiter limiter(2, 0);
  ASSERT_TRUE(limiter.take_request(kOrg, kStartMs).allowed);
  ASSERT_TRUE(limiter.take_request(kOrg, kStartMs).allowed);
  EXPECT_FALSE(limiter.take_request(kOrg, kStartMs - 60'000).allowed);
  EXPECT_FALSE(limiter.take_request(kOrg, kStartMs).allowed);
}

TEST(RateLimiter, TokenAttemptsArePerClientAddress) {
  RateLimiter limiter(0, 0, 2);
  EXPECT_TRUE(limiter.take_token_attempt("203.0.113.1", kStartMs).allowed);
  EXPECT_TRUE(limiter.take_token_attempt("203.0.113.1", kStartMs).allowed);
  auto refused = limiter.take_token_attempt("203.0.113.1", kStartMs);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after, 30);  // 2 per minute: one back every 30 s
  EXPECT_TRUE(limiter.take_token_attempt("203.0.113.2", kStartMs).allowed);
  EXPECT_TRUE(limiter.take_token_attempt("203.0.113.1", kStartMs + 30'000).allowed);
  // The organization budgets are off, and unaffected.
  EXPECT_EQ(limiter.take_request(kOrg, kStartMs).limit, 0);
}

TEST(RateLimiter, TokenAttemptsOffByDefault) {
  RateLimiter limiter(60, 0);
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(limiter.take_token_attempt("a", kStartMs).allowed);
}

TEST(RateLimiter, SweepsForgetOnlyFullBuckets) {
  // Thousands of addresses make the map sweep; one that spent its budget is still refused, and
  // one whose bucket refilled (and was forgotten) starts full.
  RateLimiter limiter(0, 0, 1);
  ASSERT_TRUE(limiter.take_token_attempt("early", kStartMs).allowed);
  ASSERT_TRUE(limiter.take_token_attempt("spent", kStartMs + 60'000).allowed);
  for (int i = 0; i < 5000; ++i) {
    limiter.take_token_attempt("client-" + std::to_string(i), kStartMs + 60'000);
  }
  EXPECT_FALSE(limiter.take_token_attempt("spent", kStartMs + 60'000).allowed);
  EXPECT_TRUE(limiter.take_token_attempt("early", kStartMs + 60'000).allowed);
  EXPECT_FALSE(limiter.take_token_attempt("early", kStartMs + 60'000).allowed);
}

}  // namespace
}  // namespace invited::api
