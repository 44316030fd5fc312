#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "domain/records.hpp"
#include "domain/webhooks.hpp"

namespace invited::domain {

// Storage of webhook endpoints, the deliveries owed to them and the attempts made (SPEC §9).
// Delivery rows are written by the event log's store entry point in the event's own unit
// (domain/event_store.hpp); the delivery worker claims them here. Part of a unit of work
// (domain/store.hpp).

// One attempt, as GET /api/v1/webhook-endpoints/{id}/deliveries shows it.
struct WebhookAttempt {
  Uuid id;
  Uuid event_id;
  std::string event_type;
  int attempt = 0;
  std::optional<int> status_code;
  std::optional<std::string> error;
  std::int64_t duration_ms = 0;
  UnixSeconds created_at = 0;
};

// A delivery the worker claimed: what it must send and where. The endpoint is held for the
// claimant until the outcome is recorded or the lease ends.
struct ClaimedWebhook {
  Pk delivery_pk = 0;
  int attempt = 0;  // this attempt's number, counted by the claim
  WebhookEndpoint endpoint;
  std::optional<std::int64_t> last_success_ms;
  Uuid event_id;
  std::string event_type;
  UnixSeconds occurred_at = 0;
  std::string event_data;  // the event's `data`, as JSON text
};

// The outcome of a claimed attempt.
struct WebhookAttemptRecord {
  Uuid id;  // the attempt's id (UUIDv7)
  Pk delivery_pk = 0;
  Pk endpoint_pk = 0;
  Pk org_pk = 0;     // the endpoint's organization
  Uuid endpoint_id;  // and its public id (for the event of a disabling)
  Uuid event_id;
  std::string event_type;
  int attempt = 0;
  std::optional<int> status_code;
  std::optional<std::string> error;
  std::int64_t duration_ms = 0;
  std::int64_t now_ms = 0;  // the service's clock when the attempt ended
  bool succeeded = false;
  std::optional<std::int64_t> next_attempt_ms;  // a retry, when not succeeded
  bool disable_endpoint = false;                // failed finally, no success for 5 days
};

// Deliveries due and waiting (for /metrics).
struct WebhookBacklog {
  std::int64_t due = 0;
  std::optional<std::int64_t> oldest_due_ms;  // when the longest-waiting due one fell due
};

class WebhookReadTx {
 public:
  virtual ~WebhookReadTx() = default;

  virtual std::optional<WebhookEndpoint> find_webhook_endpoint(Pk org_pk, const Uuid& id) = 0;
  // Oldest first (created_at, then id).
  virtual Page<WebhookEndpoint> list_webhook_endpoints(Pk org_pk, const ListRequest& request) = 0;
  virtual int count_webhook_endpoints(Pk org_pk) = 0;
  // The attempts made to one endpoint, oldest first (created_at, then id).
  virtual Page<WebhookAttempt> list_webhook_attempts(Pk endpoint_pk,
                                                     const ListRequest& request) = 0;
  // Deliveries due at `now_ms` (service clock) that wait for an enabled endpoint.
  virtual WebhookBacklog webhook_backlog(std::int64_t now_ms) = 0;
  // When the next pending delivery of an enabled endpoint is due (service clock), if any.
  virtual std::optional<std::int64_t> next_webhook_due_ms() = 0;
};

class WebhookWriteTx : public virtual WebhookReadTx {
 public:
  // Stores a new endpoint; returns it with its row key.
  virtual WebhookEndpoint insert_webhook_endpoint(const WebhookEndpoint& endpoint) = 0;
  // Writes url, description, event_types, enabled, the secrets and updated_at of `endpoint`.
  virtual void update_webhook_endpoint(const WebhookEndpoint& endpoint) = 0;
  // Deletes the endpoint with its deliveries and attempts.
  virtual void delete_webhook_endpoint(Pk endpoint_pk) = 0;
  // Makes the delivery of attempt `attempt_id` (an attempt to `endpoint_pk`) pending and due at
  // `now_ms`; false when the endpoint has no such attempt.
  virtual bool retry_webhook_delivery(Pk endpoint_pk, const Uuid& attempt_id,
                                      std::int64_t now_ms) = 0;
  // Claims the delivery due longest at `now_ms` (service clock) whose endpoint is enabled and
  // held by nobody, holds its endpoint for `claimant` during `lease_ms` (measured on the
  // database's clock where several processes share it; `lease_now_ms` is the real clock for a
  // store one process serves) and counts the attempt. nullopt when none is due. Safe with
  // several workers and processes: one delivery in flight per endpoint.
  virtual std::optional<ClaimedWebhook> claim_webhook_delivery(std::int64_t now_ms,
                                                               std::int64_t lease_now_ms,
                                                               std::int64_t lease_ms,
                                                               std::int64_t claimant) = 0;
  // Records an attempt's outcome and ends the hold on its endpoint. An attempt whose endpoint
  // (and with it the delivery) was deleted while it was in flight is not recorded: nothing is
  // left to attach it to.
  virtual void record_webhook_attempt(const WebhookAttemptRecord& record) = 0;
  // Ends every hold: for a store whose only worker is starting.
  virtual void release_webhook_claims() = 0;
};

}  // namespace invited::domain
