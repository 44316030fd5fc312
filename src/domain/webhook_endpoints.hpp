#pragma once

#include <cstdint>
#include <string>

#include "domain/clock.hpp"
#include "domain/result.hpp"
#include "domain/webhook_store.hpp"

namespace invited::domain {

// The operations of /api/v1/webhook-endpoints (SPEC §9), each inside the caller's unit of work.
// An endpoint of another organization is not found.

// An endpoint and the secret the API shows once.
struct IssuedWebhookEndpoint {
  WebhookEndpoint endpoint;
  std::string secret;
};

// Creates an endpoint (enabled unless `change.enabled` says otherwise) with a fresh secret;
// kConflict when the organization already holds kMaxWebhookEndpoints.
Result<IssuedWebhookEndpoint> create_webhook_endpoint(WebhookWriteTx& tx, Pk org_pk,
                                                      const WebhookEndpointChange& change,
                                                      Instant now);
// Applies a PATCH; kNotFound for an unknown id.
Result<WebhookEndpoint> update_webhook_endpoint(WebhookWriteTx& tx, Pk org_pk, const Uuid& id,
                                                const WebhookEndpointChange& change, Instant now);
// Deletes an endpoint with its deliveries; returns it as it was. kNotFound for an unknown id.
Result<WebhookEndpoint> delete_webhook_endpoint(WebhookWriteTx& tx, Pk org_pk, const Uuid& id);
// A new secret; the old one keeps signing for kPreviousSecretMs. kNotFound for an unknown id.
Result<IssuedWebhookEndpoint> rotate_webhook_secret(WebhookWriteTx& tx, Pk org_pk,
                                                    const Uuid& id, Instant now);
// Makes the delivery of one attempt due now (the same webhook-id). kNotFound for an unknown
// endpoint or attempt, kConflict while the endpoint is disabled.
Status retry_webhook_delivery(WebhookWriteTx& tx, Pk org_pk, const Uuid& endpoint_id,
                              const Uuid& attempt_id, Instant now);

}  // namespace invited::domain
