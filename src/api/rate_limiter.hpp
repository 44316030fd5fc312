#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "domain/types.hpp"

namespace invited::api {

// The budgets of SPEC §6, each a token bucket that refills continuously; a limit of 0 switches
// that budget off. Per organization, shared by all keys of an organization: requests per minute
// and invited targets per hour. Per client address (http::Request::client_address): attempts
// at the token endpoints (accept and decline pages, JSON accept) per minute. Thread-safe.
// Budgets live in this process, on this machine's clock: the organization budgets of a service
// on SQLite (one process per database) and everyone's token-endpoint budget. On PostgreSQL the
// organization budgets are shared by every instance instead (api/shared_budgets.hpp).
class RateLimiter {
 public:
  RateLimiter(std::int64_t requests_per_minute, std::int64_t targets_per_hour,
              std::int64_t token_attempts_per_minute = 0)
      : requests_(requests_per_minute, 60),
        targets_(targets_per_hour, 3600),
        token_attempts_(token_attempts_per_minute, 60) {}

  struct Decision {
    bool allowed = true;
    std::int64_t limit = 0;        // 0: budget switched off, send no headers
    std::int64_t remaining = 0;    // whole tokens left after this request
    std::int64_t reset_at = 0;     // Unix seconds when the bucket is full again
    std::int64_t retry_after = 0;  // seconds until enough tokens, when refused
  };

  // The rule every budget follows, wherever its bucket is kept: a bucket of `capacity` tokens
  // that refills continuously at `capacity` per `period_ms`, holding `tokens` at `now_ms` after
  // a take of `count` tokens was allowed (and taken) or refused.
  static Decision decide(std::int64_t capacity, std::int64_t period_ms, double tokens,
                         std::int64_t now_ms, bool allowed, std::int64_t count);

  // Takes one request token for `org_pk` at `now_ms`.
  Decision take_request(domain::Pk org_pk, std::int64_t now_ms) {
    return requests_.take(org_pk, 1, now_ms);
  }
  // Takes `count` invited-target tokens.
  Decision take_targets(domain::Pk org_pk, std::int64_t count, std::int64_t now_ms) {
    return targets_.take(org_pk, count, now_ms);
  }
  // Takes one token-endpoint attempt for the client address `client`.
  Decision take_token_attempt(std::string_view client, std::int64_t now_ms) {
    return token_attempts_.take(std::string(client), 1, now_ms);
  }

 private:
  // One bucket per key. Full buckets are forgotten now and then (a full bucket is what a new
  // key gets anyway), so the map holds only keys active within one period.
  template <typename Key>
  class Buckets {
   public:
    Buckets(std::int64_t capacity, std::int64_t period_seconds)
        : capacity_(capacity), period_ms_(period_seconds * 1000) {}
    Decision take(const Key& key, std::int64_t count, std::int64_t now_ms);

   private:
    struct Bucket {
      double tokens;
      std::int64_t updated_ms;
    };
    void forget_full_buckets(std::int64_t now_ms);  // requires mutex_

    std::int64_t capacity_;
    std::int64_t period_ms_;
    std::mutex mutex_;
    std::unordered_map<Key, Bucket> buckets_;
    std::size_t sweep_at_ = 1024;  // map size that triggers the next sweep
  };

  Buckets<domain::Pk> requests_;
  Buckets<domain::Pk> targets_;
  Buckets<std::string> token_attempts_;
};

}  // namespace invited::api
