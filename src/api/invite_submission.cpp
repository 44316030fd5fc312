#include "api/invite_submission.hpp"

#include "api/json_io.hpp"
#include "domain/clock.hpp"

namespace invited::api {
namespace {

// The invite's one write unit, once the organization's target budget allowed it.
void write_invite(Services& services, const CallPtr& call, domain::BulkInviteRequest request,
                  InviteVerdict verdict, InviteAnswer answer) {
  auto now = domain::now();
  auto shared_request = std::make_shared<domain::BulkInviteRequest>(std::move(request));
  auto outcome = std::make_shared<domain::BulkInviteOutcome>();
  call->write(
      [&services, principal = call->principal, shared_request, outcome, now,
       verdict = std::move(verdict)](domain::WriteTx& tx) -> domain::Status {
        *outcome =
            domain::run_bulk_invite(tx, *principal, *shared_request, services.invite_policy, now);
        return verdict(*shared_request, *outcome);
      },
      [shared_request, outcome, answer = std::move(answer)](const domain::Status& status) {
        if (!status) return error_response(status.error());
        return answer(*shared_request, *outcome);
      });
}

}  // namespace

void submit_invite(Services& services, const CallPtr& call, domain::BulkInviteRequest request,
                   InviteVerdict verdict, InviteAnswer answer) {
  if (auto scope = domain::check_bulk_invite_scope(*call->principal, request); !scope) {
    return call->fail(scope.error());
  }
  auto count = static_cast<std::int64_t>(request.target_ids.size());
  services.budgets.take_targets(
      call->principal->org_pk, count,
      [&services, call, request = std::move(request), verdict = std::move(verdict),
       answer = std::move(answer)](domain::Result<RateLimiter::Decision> budget) mutable {
        if (!budget) return call->fail(budget.error());
        if (!budget->allowed) return call->reply(rate_limited_response(*budget, "hourly invite"));
        write_invite(services, call, std::move(request), std::move(verdict), std::move(answer));
      });
}

}  // namespace invited::api
