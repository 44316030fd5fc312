#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "store/fair_queue.hpp"

namespace invited::store::sqlite {
namespace {

using Queue = FairQueue<std::string>;

// "<prefix><n>". (Built by appending: GCC 12 at -O3 warns falsely about "literal" + std::string.)
std::string unit(std::string_view prefix, int n) {
  std::string name(prefix);
  name += std::to_string(n);
  return name;
}

// Pops until nothing may run, without finishing anything; returns "tenant:unit" in pop order.
std::vector<std::string> drain(Queue& queue, std::vector<Queue::Tenant>* popped = nullptr) {
  std::vector<std::string> out;
  while (auto next = queue.pop()) {
    out.push_back(next->second);
    if (popped) popped->push_back(next->first);
  }
  return out;
}

TEST(FairQueue, TenantsTakeTurnsWhateverTheyQueued) {
  Queue queue(100);
  for (int i = 0; i < 5; ++i) queue.push(1, unit("a", i));
  queue.push(2, "b0");
  queue.push(Queue::kShared, "s0");
  queue.push(2, "b1");
  EXPECT_EQ(queue.size(), 8u);
  // b0 waits for one unit of tenant 1, not five.
  EXPECT_EQ(drain(queue),
            (std::vector<std::string>{"a0", "b0", "s0", "a1", "b1", "a2", "a3", "a4"}));
  EXPECT_TRUE(queue.empty());
}

TEST(FairQueue, ATenantRunsAtMostItsLimitAtOnce) {
  Queue queue(1);
  for (int i = 0; i < 3; ++i) queue.push(1, unit("a", i));
  queue.push(2, "b0");
  std::vector<Queue::Tenant> tenants;
  // One unit of tenant 1 runs; its others wait, tenant 2 is not held up by them.
  EXPECT_EQ(drain(queue, &tenants), (std::vector<std::string>{"a0", "b0"}));
  EXPECT_EQ(queue.size(), 2u);
  EXPECT_FALSE(queue.pop());
  queue.finished(1);
  EXPECT_EQ(drain(queue), (std::vector<std::string>{"a1"}));
  queue.finished(2);
  EXPECT_FALSE(queue.pop());
  queue.finished(1);
  EXPECT_EQ(drain(queue), (std::vector<std::string>{"a2"}));
}

TEST(FairQueue, HasRunnableSaysWhetherPopWouldHandOutAUnit) {
  Queue queue(1);
  EXPECT_FALSE(queue.has_runnable());
  queue.push(1, "a0");
  queue.push(1, "a1");
  EXPECT_TRUE(queue.has_runnable());
  ASSERT_TRUE(queue.pop());
  EXPECT_FALSE(queue.has_runnable());  // a1 waits for a0
  queue.push(Queue::kShared, "s0");
  EXPECT_TRUE(queue.has_runnable());
  ASSERT_TRUE(queue.pop());
  EXPECT_FALSE(queue.has_runnable());
  queue.finished(1);
  EXPECT_TRUE(queue.has_runnable());
}

TEST(FairQueue, SharedReadsAreNotLimited) {
  Queue queue(1);
  for (int i = 0; i < 3; ++i) queue.push(Queue::kShared, unit("s", i));
  EXPECT_EQ(drain(queue), (std::vector<std::string>{"s0", "s1", "s2"}));
}

}  // namespace
}  // namespace invited::store::sqlite
