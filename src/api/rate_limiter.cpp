#include "api/rate_limiter.hpp"

#include <algorithm>
#include <cmath>

namespace invited::api {

template <typename Key>
RateLimiter::Decision RateLimiter::Buckets<Key>::take(const Key& key, std::int64_t count,
                                                      std::int64_t now_ms) {
  if (capacity_ <= 0) return Decision{};
  const double per_ms = static_cast<double>(capacity_) / static_cast<double>(period_ms_);
  std::lock_guard lock(mutex_);
  if (buckets_.size() >= sweep_at_) forget_full_buckets(now_ms);
  auto [it, inserted] = buckets_.try_emplace(key, Bucket{static_cast<double>(capacity_), now_ms});
  Bucket& bucket = it->second;
  if (!inserted && now_ms > bucket.updated_ms) {
    bucket.tokens = std::min<double>(static_cast<double>(capacity_),
                                     bucket.tokens + (now_ms - bucket.updated_ms) * per_ms);
    bucket.updated_ms = now_ms;
  }
  bool allowed = bucket.tokens >= static_cast<double>(count);
  if (allowed) bucket.tokens -= static_cast<double>(count);
  return decide(capacity_, period_ms_, bucket.tokens, now_ms, allowed, count);
}

RateLimiter::Decision RateLimiter::decide(std::int64_t capacity, std::int64_t period_ms,
                                          double tokens, std::int64_t now_ms, bool allowed,
                                          std::int64_t count) {
  Decision decision;
  const double per_ms = static_cast<double>(capacity) / static_cast<double>(period_ms);
  tokens = std::clamp(tokens, 0.0, static_cast<double>(capacity));
  decision.limit = capacity;
  decision.allowed = allowed;
  if (!allowed) {
    double missing = std::max(0.0, static_cast<double>(count) - tokens);
    decision.retry_after =
        std::max<std::int64_t>(1, static_cast<std::int64_t>(std::ceil(missing / per_ms / 1000.0)));
  }
  decision.remaining = static_cast<std::int64_t>(std::floor(tokens));
  double to_full_ms = (static_cast<double>(capacity) - tokens) / per_ms;
  decision.reset_at = static_cast<std::int64_t>(std::ceil((now_ms + to_full_ms) / 1000.0));
  return decision;
}

template <typename Key>
void RateLimiter::Buckets<Key>::forget_full_buckets(std::int64_t now_ms) {
  const double per_ms = static_cast<double>(capacity_) / static_cast<double>(period_ms_);
  std::erase_if(buckets_, [&](const auto& entry) {
    const Bucket& bucket = entry.second;
    return bucket.tokens + static_cast<double>(now_ms - bucket.updated_ms) * per_ms >=
           static_cast<double>(capacity_);
  });
  // Sweep again once the map has doubled, so the cost per take stays constant.
  sweep_at_ = std::max<std::size_t>(1024, buckets_.size() * 2);
}

template class RateLimiter::Buckets<domain::Pk>;
template class RateLimiter::Buckets<std::string>;

}  // namespace invited::api
