#include "api/organization_budgets.hpp"

#include "domain/clock.hpp"

namespace invited::api {

void LocalBudgets::take_request(domain::Pk org_pk, Decided decided) {
  decided(limiter_.take_request(org_pk, domain::now().unix_ms));
}

void LocalBudgets::take_targets(domain::Pk org_pk, std::int64_t count, Decided decided) {
  decided(limiter_.take_targets(org_pk, count, domain::now().unix_ms));
}

}  // namespace invited::api
