#pragma once

#include <functional>

#include "api/endpoint.hpp"
#include "domain/bulk_invite.hpp"

namespace invited::api {

// The shared tail of POST /api/v1/invites/bulk and POST /api/v1/invites, once the fields are
// valid: the scope rule (403), the organization's per-target budget (429), then one write unit
// (ApiCall::write) running domain::run_bulk_invite. `verdict` decides whether the unit commits
// (ok) or rolls back with an error that answers the request; `answer` builds the success
// response of a committed unit (inside the unit for a request with an Idempotency-Key).
using InviteVerdict = std::function<domain::Status(const domain::BulkInviteRequest&,
                                                   const domain::BulkInviteOutcome&)>;
using InviteAnswer = std::function<http::Response(const domain::BulkInviteRequest&,
                                                  const domain::BulkInviteOutcome&)>;

void submit_invite(Services& services, const CallPtr& call, domain::BulkInviteRequest request,
                   InviteVerdict verdict, InviteAnswer answer);

}  // namespace invited::api
