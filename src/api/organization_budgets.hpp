#pragma once

#include <cstdint>
#include <functional>

#include "api/rate_limiter.hpp"
#include "domain/result.hpp"
#include "domain/types.hpp"

namespace invited::api {

// The two budgets of SPEC §6 that belong to an organization, shared by its keys, as the
// endpoints take from them: one request token per authenticated API request, and one token per
// invited target of a bulk or single invite. Each is a token bucket (RateLimiter::decide says
// the rule); a limit of 0 switches that budget off (the Decision then has limit 0).
// Implementations: LocalBudgets (this process; SQLite) and SharedBudgets (every instance on one
// PostgreSQL database, api/shared_budgets.hpp). Thread-safe.
class OrganizationBudgets {
 public:
  // Runs once, on the caller's thread or on the store's executor, with the decision, or with
  // kUnavailable when the budget could not be read in time (the request then answers 503).
  using Decided = std::function<void(domain::Result<RateLimiter::Decision>)>;

  virtual ~OrganizationBudgets() = default;

  virtual void take_request(domain::Pk org_pk, Decided decided) = 0;
  virtual void take_targets(domain::Pk org_pk, std::int64_t count, Decided decided) = 0;
};

// The budgets in this process's RateLimiter, on this machine's clock: right for a store that
// one process serves (SQLite). `decided` runs before the call returns.
class LocalBudgets final : public OrganizationBudgets {
 public:
  explicit LocalBudgets(RateLimiter& limiter) : limiter_(limiter) {}

  void take_request(domain::Pk org_pk, Decided decided) override;
  void take_targets(domain::Pk org_pk, std::int64_t count, Decided decided) override;

 private:
  RateLimiter& limiter_;
};

}  // namespace invited::api
