#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <utility>

#include "api/organization_budgets.hpp"
#include "domain/budget_store.hpp"

namespace invited::api {

// The organization budgets kept in the database (domain::BudgetStore), so that every instance
// serving one PostgreSQL database enforces one budget per organization together: with N
// instances the organization gets its limit, not N times it. Buckets refill on the database's
// clock; this process's clock never decides how much budget there is.
//
// A take draws from the shared bucket with one statement on its own (no transaction around it),
// except while this process holds a lease: a draw may take up to `capacity / lease_share` tokens
// more than it needs (never when another draw of this process for the same bucket is under way),
// and the surplus serves the next takes here without a round trip, for at most `lease_for`
// (measured as a duration on a steady clock); then, or when it does not cover a take, it goes
// back to the bucket with the next draw. Budgets below `lease_share` tokens per period lease
// nothing: every take is a draw, exact. Tokens are only ever used after the database gave them,
// so all instances together never admit more than the bucket allows; the slack is in the
// headers: `remaining` counts the shared bucket at this process's last draw plus its own lease.
// Without a lease that is exact at the draw; with one it is at most `lease_for` old (other
// instances' draws and the refill since are not in it) and leaves out what other instances
// hold (at most (N-1) x capacity / lease_share).
//
// Thread-safe. Draws complete on the store's executor; takes served from a lease complete
// before the call returns.
class SharedBudgets final : public OrganizationBudgets {
 public:
  struct Options {
    std::int64_t requests_per_minute = 60;  // 0: off
    std::int64_t targets_per_hour = 1000;   // 0: off
    std::int64_t lease_share = 100;         // a lease is at most capacity / lease_share tokens
    std::chrono::milliseconds lease_for{1000};
  };

  SharedBudgets(domain::BudgetStore& store, Options options);

  void take_request(domain::Pk org_pk, Decided decided) override;
  void take_targets(domain::Pk org_pk, std::int64_t count, Decided decided) override;

 private:
  using Clock = std::chrono::steady_clock;
  using Key = std::pair<domain::Pk, domain::Budget>;

  // What this process knows of one bucket.
  struct Lease {
    std::int64_t held = 0;  // tokens drawn and not used yet
    Clock::time_point held_since;
    bool drawing = false;           // a draw that may lease is under way
    double shared = 0;              // tokens left in the shared bucket at the last draw
    std::int64_t shared_at_ms = 0;  // the database's clock at that draw
    Clock::time_point seen_at;      // this process's steady clock when the answer came
  };

  // Shared with draws in flight, which may complete after this object is gone.
  struct State {
    std::mutex mutex;
    std::map<Key, Lease> leases;
    std::size_t sweep_at = 1024;
    void forget_idle(Clock::time_point now, Clock::duration lease_for);  // requires mutex
  };

  void take(domain::Budget budget, std::int64_t capacity, std::int64_t period_seconds,
            domain::Pk org_pk, std::int64_t count, Decided decided);

  domain::BudgetStore& store_;
  Options options_;
  std::shared_ptr<State> state_ = std::make_shared<State>();
};

}  // namespace invited::api
