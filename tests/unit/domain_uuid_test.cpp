#include <gtest/gtest.h>

#include "domain/uuid.hpp"

namespace invited::domain {
namespace {

TEST(Uuid, ParsesAndFormatsCanonicalLowerCase) {
  auto id = Uuid::parse("123E4567-E89B-12D3-A456-426614174000");
  ASSERT_TRUE(id);
  EXPECT_EQ(id->str(), "123e4567-e89b-12d3-a456-426614174000");
}

TEST(Uuid, RejectsOtherForms) {
  EXPECT_FALSE(Uuid::parse(""));
  EXPECT_FALSE(Uuid::parse("123e4567e89b12d3a456426614174000"));
  EXPECT_FALSE(Uuid::parse("{123e4567-e89b-12d3-a456-426614174000}"));
  EXPECT_FALSE(Uuid::parse("123e4567-e89b-12d3-a456-42661417400g"));
  EXPECT_FALSE(Uuid::parse("123e4567-e89b-12d3-a456_426614174000"));
}

TEST(Uuid, Version7IsTimeOrderedAndVersioned) {
  auto earlier = Uuid::v7(1'764'115'200'000);
  auto later = Uuid::v7(1'764'115'200'001);
  EXPECT_LT(earlier, later);
  EXPECT_EQ(earlier.str()[14], '7');
  EXPECT_NE(Uuid::v7(5), Uuid::v7(5));
}

TEST(Uuid, Version7GivesBackItsMilliseconds) {
  // A millisecond later than any this thread asked for, so the id carries it unchanged.
  constexpr std::int64_t kMs = 3'000'000'000'123;
  EXPECT_EQ(Uuid::v7(kMs).v7_unix_ms(), kMs);
  EXPECT_EQ(Uuid::parse("0190f5a3-1b2c-7d4e-8f00-000000000000")->v7_unix_ms(), 0x0190f5a31b2c);
}

// Lists order by (time, id): ids made within one millisecond keep the order they were made in.
TEST(Uuid, V7IdsOfOneMillisecondIncreaseInTheOrderTheyAreMade) {
  // Later than any millisecond other tests ask for on this thread (an earlier one gets random
  // bits), and than this test's own last run: --gtest_repeat runs it again on the same thread,
  // whose last id was made at kMs + 10.
  static std::int64_t runs = 0;
  const std::int64_t kMs = 4'000'000'000'000 + 1'000 * runs++;
  auto previous = Uuid::v7(kMs);
  for (int i = 0; i < 5000; ++i) {  // past the 12-bit counter: it moves on to the next ms
    auto next = Uuid::v7(kMs);
    ASSERT_LT(previous, next) << i;
    EXPECT_EQ(next.str()[14], '7');
    EXPECT_EQ(next.bytes()[8] & 0xc0, 0x80);
    previous = next;
  }
  EXPECT_LT(previous, Uuid::v7(kMs + 10));
}

}  // namespace
}  // namespace invited::domain
