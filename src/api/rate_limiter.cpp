#include "api/rate_limiter.hpp"

#include <algorithm>
#include <cmath>

namespace invited::api {

RateLimiter::Decision RateLimiter::Buckets::take(domain::Pk org_pk, std::int64_t count,
                                                 std::int64_t now_ms) {
  Decision decision;
  if (capacity_ <= 0) return decision;
  const double per_ms = static_cast<double>(capacity_) / static_cast<double>(period_ms_);
  std::lock_guard lock(mutex_);
  auto [it, inserted] =
      buckets_.try_emplace(org_pk, Bucket{static_cast<double>(capacity_), now_ms});
  Bucket& bucket = it->second;
  if (!inserted && now_ms > bucket.updated_ms) {
    bucket.tokens = std::min<double>(static_cast<double>(capacity_),
                                     bucket.tokens + (now_ms - bucket.updated_ms) * per_ms);
    bucket.updated_ms = now_ms;
  }
  decision.limit = capacity_;
  if (bucket.tokens >= static_cast<double>(count)) {
    bucket.tokens -= static_cast<double>(count);
  } else {
    decision.allowed = false;
    double missing = static_cast<double>(count) - bucket.tokens;
    decision.retry_after =
        std::max<std::int64_t>(1, static_cast<std::int64_t>(std::ceil(missing / per_ms / 1000.0)));
  }
  decision.remaining = static_cast<std::int64_t>(std::floor(bucket.tokens));
  double to_full_ms = (static_cast<double>(capacity_) - bucket.tokens) / per_ms;
  decision.reset_at = static_cast<std::int64_t>(std::ceil((now_ms + to_full_ms) / 1000.0));
  return decision;
}

}  // namespace invited::api
