#include "domain/webhook_endpoints.hpp"

namespace invited::domain {
namespace {

Error endpoint_not_found() { return {ErrorCode::kNotFound, "webhook endpoint not found"}; }

void apply(WebhookEndpoint& endpoint, const WebhookEndpointChange& change) {
  if (change.url) endpoint.url = *change.url;
  if (change.event_types) endpoint.event_types = *change.event_types;
  if (change.enabled) endpoint.enabled = *change.enabled;
  if (change.description) {
    endpoint.description =
        change.description->empty() ? std::nullopt : std::optional(*change.description);
  }
}

}  // namespace

Result<IssuedWebhookEndpoint> create_webhook_endpoint(WriteTx& tx, Pk org_pk,
                                                      const WebhookEndpointChange& change,
                                                      Instant now, const Actor& actor) {
  if (tx.count_webhook_endpoints(org_pk) >= kMaxWebhookEndpoints) {
    return Error{ErrorCode::kConflict,
                 "this organization already has 16 webhook endpoints, the most it may have; "
                 "delete one first"};
  }
  WebhookEndpoint endpoint;
  endpoint.id = Uuid::v7(now.unix_ms);
  endpoint.org_pk = org_pk;
  apply(endpoint, change);
  endpoint.secret = issue_webhook_secret();
  endpoint.created_at = now.seconds();
  endpoint.updated_at = now.seconds();
  IssuedWebhookEndpoint issued{tx.insert_webhook_endpoint(endpoint), endpoint.secret};
  tx.record_event(webhook_endpoint_event(EventType::kWebhookEndpointCreated, org_pk,
                                         issued.endpoint, actor, now.seconds()));
  return issued;
}

Result<WebhookEndpoint> update_webhook_endpoint(WriteTx& tx, Pk org_pk, const Uuid& id,
                                                const WebhookEndpointChange& change, Instant now,
                                                const Actor& actor) {
  auto endpoint = tx.find_webhook_endpoint(org_pk, id);
  if (!endpoint) return endpoint_not_found();
  apply(*endpoint, change);
  endpoint->updated_at = now.seconds();
  tx.update_webhook_endpoint(*endpoint);
  tx.record_event(webhook_endpoint_event(EventType::kWebhookEndpointUpdated, org_pk, *endpoint,
                                         actor, now.seconds()));
  return std::move(*endpoint);
}

Result<WebhookEndpoint> delete_webhook_endpoint(WriteTx& tx, Pk org_pk, const Uuid& id, Instant now,
                                                const Actor& actor) {
  auto endpoint = tx.find_webhook_endpoint(org_pk, id);
  if (!endpoint) return endpoint_not_found();
  tx.delete_webhook_endpoint(endpoint->pk);
  tx.record_event(webhook_endpoint_event(EventType::kWebhookEndpointDeleted, org_pk, *endpoint,
                                         actor, now.seconds()));
  return std::move(*endpoint);
}

Result<IssuedWebhookEndpoint> rotate_webhook_secret(WriteTx& tx, Pk org_pk, const Uuid& id,
                                                    Instant now, const Actor& actor) {
  auto endpoint = tx.find_webhook_endpoint(org_pk, id);
  if (!endpoint) return endpoint_not_found();
  endpoint->previous_secret = endpoint->secret;
  endpoint->previous_until_ms = now.unix_ms + kPreviousSecretMs;
  endpoint->secret = issue_webhook_secret();
  endpoint->updated_at = now.seconds();
  tx.update_webhook_endpoint(*endpoint);
  tx.record_event(webhook_endpoint_event(EventType::kWebhookEndpointSecretRotated, org_pk,
                                         *endpoint, actor, now.seconds()));
  IssuedWebhookEndpoint issued{*endpoint, endpoint->secret};
  return issued;
}

Status retry_webhook_delivery(WriteTx& tx, Pk org_pk, const Uuid& endpoint_id,
                              const Uuid& attempt_id, Instant now) {
  auto endpoint = tx.find_webhook_endpoint(org_pk, endpoint_id);
  if (!endpoint) return endpoint_not_found();
  if (!endpoint->enabled) {
    return Error{ErrorCode::kConflict,
                 "the webhook endpoint is disabled; enable it (PATCH enabled: true) first"};
  }
  if (!tx.retry_webhook_delivery(endpoint->pk, attempt_id, now.unix_ms)) {
    return Error{ErrorCode::kNotFound, "delivery not found"};
  }
  return {};
}

void record_webhook_outcome(WriteTx& tx, const WebhookAttemptRecord& record) {
  tx.record_webhook_attempt(record);
  if (!record.disable_endpoint) return;
  auto endpoint = tx.find_webhook_endpoint(record.org_pk, record.endpoint_id);
  if (!endpoint) return;
  tx.record_event(webhook_endpoint_event(EventType::kWebhookEndpointUpdated, record.org_pk,
                                         *endpoint, Actor::system(), record.now_ms / 1000));
}

}  // namespace invited::domain
