#pragma once

#include <cstdint>
#include <string>

#include "domain/clock.hpp"
#include "domain/events.hpp"
#include "domain/result.hpp"
#include "domain/store.hpp"
#include "domain/webhook_store.hpp"

namespace invited::domain {

// The operations of /api/v1/webhook-endpoints (SPEC §9), each inside the caller's unit of work,
// each recording its webhook_endpoint.* event there (by `actor`). An endpoint of another
// organization is not found.

// An endpoint and the secret the API shows once.
struct IssuedWebhookEndpoint {
  WebhookEndpoint endpoint;
  std::string secret;
};

// Creates an endpoint (enabled unless `change.enabled` says otherwise) with a fresh secret;
// kConflict when the organization already holds kMaxWebhookEndpoints.
Result<IssuedWebhookEndpoint> create_webhook_endpoint(WriteTx& tx, Pk org_pk,
                                                      const WebhookEndpointChange& change,
                                                      Instant now, const Actor& actor);
// Applies a PATCH; kNotFound for an unknown id.
Result<WebhookEndpoint> update_webhook_endpoint(WriteTx& tx, Pk org_pk, const Uuid& id,
                                                const WebhookEndpointChange& change, Instant now,
                                                const Actor& actor);
// Deletes an endpoint with its deliveries; returns it as it was. kNotFound for an unknown id.
Result<WebhookEndpoint> delete_webhook_endpoint(WriteTx& tx, Pk org_pk, const Uuid& id, Instant now,
                                                const Actor& actor);
// A new secret; the old one keeps signing for kPreviousSecretMs. kNotFound for an unknown id.
Result<IssuedWebhookEndpoint> rotate_webhook_secret(WriteTx& tx, Pk org_pk, const Uuid& id,
                                                    Instant now, const Actor& actor);
// Makes the delivery of one attempt due now (the same webhook-id). kNotFound for an unknown
// endpoint or attempt, kConflict while the endpoint is disabled.
Status retry_webhook_delivery(WriteTx& tx, Pk org_pk, const Uuid& endpoint_id,
                              const Uuid& attempt_id, Instant now);

// Records a delivery attempt's outcome (the delivery worker's unit); an endpoint it disables gets
// its webhook_endpoint.updated event (actor system).
void record_webhook_outcome(WriteTx& tx, const WebhookAttemptRecord& record);

}  // namespace invited::domain
