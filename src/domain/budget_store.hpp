#pragma once

#include <cstdint>
#include <functional>

#include "domain/result.hpp"
#include "domain/types.hpp"

namespace invited::domain {

// The organization budgets of SPEC §6 that a store keeps for every process serving its
// database, so that several instances enforce one budget together.
enum class Budget : std::int16_t {
  kRequests = 1,  // API requests per minute
  kTargets = 2,   // invited targets per hour
};

// One draw on a token bucket: `capacity` tokens, refilled continuously at `capacity` per
// `period_seconds` (api/rate_limiter.hpp says what the budgets are). `give_back` tokens drawn
// earlier and not used go back first (never above capacity); then the draw takes as many whole
// tokens as it can up to `at_most`, provided that is at least `at_least`, else none.
struct BucketDraw {
  Pk org_pk = 0;
  Budget budget = Budget::kRequests;
  std::int64_t capacity = 0;        // > 0
  std::int64_t period_seconds = 0;  // > 0
  std::int64_t give_back = 0;       // >= 0
  std::int64_t at_least = 1;        // >= 0
  std::int64_t at_most = 1;         // >= at_least
};

// What the draw left, read in the same atomic step.
struct BucketDrawn {
  std::int64_t granted = 0;            // 0, or between at_least and at_most
  std::int64_t milli_tokens_left = 0;  // the bucket after the draw, in thousandths of a token
  std::int64_t now_ms = 0;             // the database's clock at the draw, Unix milliseconds
};

using DrawDone = std::function<void(Result<BucketDrawn>)>;

// Token buckets kept in the database, one per (organization, budget), shared by every process
// on it. A draw is one atomic step on the database's clock (never the caller's): refill for the
// time since the bucket's last draw, give back, take. A bucket never drawn from is full.
// Thread-safe; never blocks the caller: `done` runs once, on the store's executor, with the
// outcome or kUnavailable when the database did not answer in time.
class BudgetStore {
 public:
  virtual ~BudgetStore() = default;

  virtual void draw(const BucketDraw& draw, DrawDone done) = 0;
};

}  // namespace invited::domain
