#include "api/shared_budgets.hpp"

#include <iterator>

namespace invited::api {

SharedBudgets::SharedBudgets(domain::BudgetStore& store, Options options)
    : store_(store), options_(options) {}

void SharedBudgets::take_request(domain::Pk org_pk, Decided decided) {
  take(domain::Budget::kRequests, options_.requests_per_minute, 60, org_pk, 1, std::move(decided));
}

void SharedBudgets::take_targets(domain::Pk org_pk, std::int64_t count, Decided decided) {
  take(domain::Budget::kTargets, options_.targets_per_hour, 3600, org_pk, count,
       std::move(decided));
}

void SharedBudgets::State::forget_idle(Clock::time_point now, Clock::duration lease_for) {
  // A lease that ran out is worth no more than a new one, and an idle bucket's figures are
  // refreshed by the next draw anyway; what it held stays drawn until the bucket refills.
  std::erase_if(leases, [&](const auto& entry) {
    const Lease& lease = entry.second;
    return !lease.drawing && (lease.held == 0 || now - lease.held_since >= lease_for);
  });
  sweep_at = std::max<std::size_t>(1024, leases.size() * 2);
}

void SharedBudgets::take(domain::Budget budget, std::int64_t capacity, std::int64_t period_seconds,
                         domain::Pk org_pk, std::int64_t count, Decided decided) {
  if (capacity <= 0) return decided(RateLimiter::Decision{});
  const std::int64_t period_ms = period_seconds * 1000;
  const Key key{org_pk, budget};
  std::int64_t give_back = 0;
  std::int64_t surplus = 0;
  {
    std::unique_lock lock(state_->mutex);
    Clock::time_point now = Clock::now();
    if (state_->leases.size() >= state_->sweep_at) state_->forget_idle(now, options_.lease_for);
    Lease& lease = state_->leases[key];
    bool current = now - lease.held_since < options_.lease_for;
    if (current && lease.held >= count) {
      lease.held -= count;
      auto since_ms =
          std::chrono::duration_cast<std::chrono::milliseconds>(now - lease.seen_at).count();
      auto decision =
          RateLimiter::decide(capacity, period_ms, lease.shared + static_cast<double>(lease.held),
                              lease.shared_at_ms + since_ms, true, count);
      lock.unlock();
      return decided(decision);
    }
    give_back = lease.held;
    lease.held = 0;
    if (!lease.drawing) {
      surplus = capacity / options_.lease_share;
      lease.drawing = surplus > 0;
    }
  }
  domain::BucketDraw draw{.org_pk = org_pk,
                          .budget = budget,
                          .capacity = capacity,
                          .period_seconds = period_seconds,
                          .give_back = give_back,
                          .at_least = count,
                          .at_most = count + surplus};
  store_.draw(draw, [state = state_, key, capacity, period_ms, count, surplus,
                     decided = std::move(decided)](domain::Result<domain::BucketDrawn> drawn) {
    std::unique_lock lock(state->mutex);
    Lease& lease = state->leases[key];
    if (surplus > 0) lease.drawing = false;
    if (!drawn) {
      lock.unlock();
      return decided(drawn.error());
    }
    const bool allowed = drawn->granted >= count;
    if (allowed && drawn->granted > count) {
      lease.held += drawn->granted - count;
      lease.held_since = Clock::now();
    }
    lease.shared = static_cast<double>(drawn->milli_tokens_left) / 1000.0;
    lease.shared_at_ms = drawn->now_ms;
    lease.seen_at = Clock::now();
    auto decision =
        RateLimiter::decide(capacity, period_ms, lease.shared + static_cast<double>(lease.held),
                            drawn->now_ms, allowed, count);
    lock.unlock();
    decided(decision);
  });
}

}  // namespace invited::api
