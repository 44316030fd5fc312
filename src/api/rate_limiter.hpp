#pragma once

#include <cstdint>
#include <mutex>
#include <unordered_map>

#include "domain/types.hpp"

namespace invited::api {

// Per-organization budgets of SPEC §6, shared by all keys of an organization: requests per
// minute and invited targets per hour, each a token bucket that refills continuously. A limit of
// 0 switches that budget off. Thread-safe. Budgets live in this process: with several instances
// behind a balancer each enforces its own share.
class RateLimiter {
 public:
  RateLimiter(std::int64_t requests_per_minute, std::int64_t targets_per_hour)
      : requests_(requests_per_minute, 60), targets_(targets_per_hour, 3600) {}

  struct Decision {
    bool allowed = true;
    std::int64_t limit = 0;        // 0: budget switched off, send no headers
    std::int64_t remaining = 0;    // whole tokens left after this request
    std::int64_t reset_at = 0;     // Unix seconds when the bucket is full again
    std::int64_t retry_after = 0;  // seconds until enough tokens, when refused
  };

  // Takes one request token for `org_pk` at `now_ms`.
  Decision take_request(domain::Pk org_pk, std::int64_t now_ms) {
    return requests_.take(org_pk, 1, now_ms);
  }
  // Takes `count` invited-target tokens.
  Decision take_targets(domain::Pk org_pk, std::int64_t count, std::int64_t now_ms) {
    return targets_.take(org_pk, count, now_ms);
  }

 private:
  class Buckets {
   public:
    Buckets(std::int64_t capacity, std::int64_t period_seconds)
        : capacity_(capacity), period_ms_(period_seconds * 1000) {}
    Decision take(domain::Pk org_pk, std::int64_t count, std::int64_t now_ms);

   private:
    struct Bucket {
      double tokens;
      std::int64_t updated_ms;
    };
    std::int64_t capacity_;
    std::int64_t period_ms_;
    std::mutex mutex_;
    std::unordered_map<domain::Pk, Bucket> buckets_;
  };

  Buckets requests_;
  Buckets targets_;
};

}  // namespace invited::api
