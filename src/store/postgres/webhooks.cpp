// Webhook endpoints, their deliveries and attempts (domain/webhook_store.hpp).
#include <string>

#include "domain/events.hpp"
#include "store/postgres/list_page.hpp"
#include "store/postgres/transaction.hpp"

namespace invited::store::postgres {

using domain::Pk;
using domain::Uuid;

namespace {

#define INVITED_ENDPOINT_COLUMNS                                                     \
  "e.pk, e.id, e.org_pk, e.url, e.description, e.event_types, e.enabled, e.secret, " \
  "e.previous_secret, e.previous_until_ms, e.created_at, e.updated_at "

domain::WebhookEndpoint read_endpoint(const Result& rows, int row, int first = 0) {
  domain::WebhookEndpoint endpoint;
  endpoint.pk = rows.int64(row, first + 0);
  endpoint.id = rows.uuid(row, first + 1);
  endpoint.org_pk = rows.int64(row, first + 2);
  endpoint.url = rows.text(row, first + 3);
  endpoint.description = rows.optional_text(row, first + 4);
  endpoint.event_types = domain::parse_stored_event_types(rows.text(row, first + 5));
  endpoint.enabled = rows.boolean(row, first + 6);
  endpoint.secret = rows.text(row, first + 7);
  endpoint.previous_secret = rows.optional_text(row, first + 8);
  endpoint.previous_until_ms = rows.optional_int64(row, first + 9);
  endpoint.created_at = rows.int64(row, first + 10);
  endpoint.updated_at = rows.int64(row, first + 11);
  return endpoint;
}

domain::WebhookAttempt read_attempt(const Result& rows, int row) {
  domain::WebhookAttempt attempt;
  attempt.id = rows.uuid(row, 0);
  attempt.event_id = rows.uuid(row, 1);
  attempt.event_type = rows.text(row, 2);
  attempt.attempt = static_cast<int>(rows.int64(row, 3));
  if (auto code = rows.optional_int64(row, 4)) attempt.status_code = static_cast<int>(*code);
  attempt.error = rows.optional_text(row, 5);
  attempt.duration_ms = rows.int64(row, 6);
  attempt.created_at = rows.int64(row, 7);
  return attempt;
}

}  // namespace

std::optional<domain::WebhookEndpoint> Transaction::find_webhook_endpoint(Pk org_pk,
                                                                          const Uuid& id) {
  static constexpr Statement kFind{"webhooks_find_endpoint",
                                   "SELECT " INVITED_ENDPOINT_COLUMNS
                                   "FROM webhook_endpoints e WHERE e.id = $1 AND e.org_pk = $2"};
  Result rows = db_.query(kFind, Params().add(id).add(org_pk));
  if (rows.rows() == 0) return std::nullopt;
  return read_endpoint(rows, 0);
}

domain::Page<domain::WebhookEndpoint> Transaction::list_webhook_endpoints(
    Pk org_pk, const domain::ListRequest& request) {
  static constexpr Statement kList{
      "webhooks_list_endpoints",
      "SELECT " INVITED_ENDPOINT_COLUMNS
      "FROM webhook_endpoints e WHERE e.org_pk = $1 AND (e.created_at, e.id) > ($2, $3) "
      "ORDER BY e.created_at, e.id LIMIT $4 OFFSET $5"};
  static constexpr Statement kCount{"webhooks_count_endpoints_list",
                                    "SELECT count(*) FROM webhook_endpoints WHERE org_pk = $1"};
  static constexpr Statement kLocate{
      "webhooks_locate_endpoint",
      "SELECT created_at, id FROM webhook_endpoints WHERE id = $1 AND org_pk = $2"};
  return read_list<domain::WebhookEndpoint>(
      request, ListPosition::before_first(),
      [&](const Uuid& id) { return position_of(db_.query(kLocate, Params().add(id).add(org_pk))); },
      [&](const ListPosition& after, std::int64_t limit, std::int64_t offset,
          std::vector<domain::WebhookEndpoint>& items) {
        Result rows = db_.query(
            kList, Params().add(org_pk).add(after.time).add(after.id).add(limit).add(offset));
        for (int row = 0; row < rows.rows(); ++row) items.push_back(read_endpoint(rows, row));
      },
      [&] { return db_.query(kCount, Params().add(org_pk)).int64(0, 0); });
}

int Transaction::count_webhook_endpoints(Pk org_pk) {
  static constexpr Statement kCount{"webhooks_count_endpoints",
                                    "SELECT count(*) FROM webhook_endpoints WHERE org_pk = $1"};
  return static_cast<int>(db_.query(kCount, Params().add(org_pk)).int64(0, 0));
}

domain::Page<domain::WebhookAttempt> Transaction::list_webhook_attempts(
    Pk endpoint_pk, const domain::ListRequest& request) {
  static constexpr Statement kList{
      "webhooks_list_attempts",
      "SELECT id, event_id, event_type, attempt, status_code, error, duration_ms, created_at "
      "FROM webhook_attempts WHERE endpoint_pk = $1 AND (created_at, id) > ($2, $3) "
      "ORDER BY created_at, id LIMIT $4 OFFSET $5"};
  static constexpr Statement kCount{"webhooks_count_attempts",
                                    "SELECT count(*) FROM webhook_attempts WHERE endpoint_pk = $1"};
  static constexpr Statement kLocate{
      "webhooks_locate_attempt",
      "SELECT created_at, id FROM webhook_attempts WHERE id = $1 AND endpoint_pk = $2"};
  return read_list<domain::WebhookAttempt>(
      request, ListPosition::before_first(),
      [&](const Uuid& id) {
        return position_of(db_.query(kLocate, Params().add(id).add(endpoint_pk)));
      },
      [&](const ListPosition& after, std::int64_t limit, std::int64_t offset,
          std::vector<domain::WebhookAttempt>& items) {
        Result rows = db_.query(
            kList, Params().add(endpoint_pk).add(after.time).add(after.id).add(limit).add(offset));
        for (int row = 0; row < rows.rows(); ++row) items.push_back(read_attempt(rows, row));
      },
      [&] { return db_.query(kCount, Params().add(endpoint_pk)).int64(0, 0); });
}

domain::WebhookBacklog Transaction::webhook_backlog(std::int64_t now_ms) {
  static constexpr Statement kBacklog{
      "webhooks_backlog",
      "SELECT count(*), min(d.next_attempt_ms) FROM webhook_deliveries d "
      "JOIN webhook_endpoints e ON e.pk = d.endpoint_pk "
      "WHERE d.state = 0 AND d.next_attempt_ms <= $1 AND e.enabled"};
  Result rows = db_.query(kBacklog, Params().add(now_ms));
  return {.due = rows.int64(0, 0), .oldest_due_ms = rows.optional_int64(0, 1)};
}

std::optional<std::int64_t> Transaction::next_webhook_due_ms() {
  static constexpr Statement kNext{
      "webhooks_next_due",
      "SELECT min(d.next_attempt_ms) FROM webhook_deliveries d "
      "JOIN webhook_endpoints e ON e.pk = d.endpoint_pk WHERE d.state = 0 AND e.enabled"};
  return db_.query(kNext).optional_int64(0, 0);
}

domain::WebhookEndpoint Transaction::insert_webhook_endpoint(
    const domain::WebhookEndpoint& endpoint) {
  static constexpr Statement kInsert{
      "webhooks_insert_endpoint",
      "INSERT INTO webhook_endpoints(id, org_pk, url, description, event_types, enabled, secret, "
      "created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING pk"};
  domain::WebhookEndpoint stored = endpoint;
  stored.pk = db_.query(kInsert, Params()
                                     .add(endpoint.id)
                                     .add(endpoint.org_pk)
                                     .add(endpoint.url)
                                     .add(endpoint.description)
                                     .add(domain::stored_event_types(endpoint.event_types))
                                     .add(endpoint.enabled)
                                     .add(endpoint.secret)
                                     .add(endpoint.created_at)
                                     .add(endpoint.updated_at))
                  .int64(0, 0);
  return stored;
}

void Transaction::update_webhook_endpoint(const domain::WebhookEndpoint& endpoint) {
  static constexpr Statement kUpdate{
      "webhooks_update_endpoint",
      "UPDATE webhook_endpoints SET url = $2, description = $3, event_types = $4, enabled = $5, "
      "secret = $6, previous_secret = $7, previous_until_ms = $8, updated_at = $9 WHERE pk = $1"};
  db_.query(kUpdate, Params()
                         .add(endpoint.pk)
                         .add(endpoint.url)
                         .add(endpoint.description)
                         .add(domain::stored_event_types(endpoint.event_types))
                         .add(endpoint.enabled)
                         .add(endpoint.secret)
                         .add(endpoint.previous_secret)
                         .add(endpoint.previous_until_ms)
                         .add(endpoint.updated_at));
}

void Transaction::delete_webhook_endpoint(Pk endpoint_pk) {
  static constexpr Statement kDelete{
      "webhooks_delete_endpoint",
      "WITH a AS (DELETE FROM webhook_attempts WHERE endpoint_pk = $1), "
      "d AS (DELETE FROM webhook_deliveries WHERE endpoint_pk = $1) "
      "DELETE FROM webhook_endpoints WHERE pk = $1"};
  db_.query(kDelete, Params().add(endpoint_pk));
}

bool Transaction::retry_webhook_delivery(Pk endpoint_pk, const Uuid& attempt_id,
                                         std::int64_t now_ms) {
  static constexpr Statement kRetry{
      "webhooks_retry_delivery",
      "UPDATE webhook_deliveries SET state = 0, next_attempt_ms = $3 WHERE pk = "
      "(SELECT delivery_pk FROM webhook_attempts WHERE id = $2 AND endpoint_pk = $1)"};
  return db_.query(kRetry, Params().add(endpoint_pk).add(attempt_id).add(now_ms)).affected() > 0;
}

std::optional<domain::ClaimedWebhook> Transaction::claim_webhook_delivery(std::int64_t now_ms,
                                                                          std::int64_t lease_now_ms,
                                                                          std::int64_t lease_ms,
                                                                          std::int64_t claimant) {
  (void)lease_now_ms;  // leases here are on the database's clock, shared by every instance
  // One statement picks the delivery due longest whose endpoint is enabled and held by nobody,
  // holds that endpoint (row locked, SKIP LOCKED: another instance claiming at the same moment
  // takes another endpoint) and counts the attempt. A hold is a lease on the database's clock:
  // a crashed instance's endpoint is free again once its lease ends, and only the delivery in
  // hand is made again.
  static constexpr Statement kClaim{
      "webhooks_claim",
      "WITH clock AS MATERIALIZED ("
      "  SELECT (extract(epoch FROM clock_timestamp()) * 1000)::int8 AS now_ms), "
      "picked AS ("
      "  SELECT d.pk AS delivery_pk, e.pk AS endpoint_pk FROM webhook_deliveries d "
      "  JOIN webhook_endpoints e ON e.pk = d.endpoint_pk "
      "  WHERE d.state = 0 AND d.next_attempt_ms <= $1 AND e.enabled "
      "    AND (e.claimed_until_ms IS NULL OR e.claimed_until_ms <= (SELECT now_ms FROM clock)) "
      "  ORDER BY d.next_attempt_ms, d.pk LIMIT 1 FOR UPDATE OF e SKIP LOCKED), "
      "held AS ("
      "  UPDATE webhook_endpoints e SET claimed_by = $3, "
      "    claimed_until_ms = (SELECT now_ms FROM clock) + $2 "
      "  FROM picked WHERE e.pk = picked.endpoint_pk RETURNING e.pk), "
      "counted AS ("
      "  UPDATE webhook_deliveries d SET attempts = d.attempts + 1 "
      "  FROM picked WHERE d.pk = picked.delivery_pk RETURNING d.pk, d.attempts, d.event_pk) "
      "SELECT counted.pk, counted.attempts, ev.id, ev.type, ev.occurred_at, ev.data, "
      "  e.last_success_ms, " INVITED_ENDPOINT_COLUMNS
      "FROM counted JOIN picked ON picked.delivery_pk = counted.pk "
      "JOIN webhook_endpoints e ON e.pk = picked.endpoint_pk "
      "LEFT JOIN events ev ON ev.pk = counted.event_pk"};
  static constexpr Statement kDrop{"webhooks_drop_delivery",
                                   "UPDATE webhook_deliveries SET state = 2 WHERE pk = $1"};
  for (;;) {
    Result rows = db_.query(kClaim, Params().add(now_ms).add(lease_ms).add(claimant));
    if (rows.rows() == 0) return std::nullopt;
    domain::ClaimedWebhook claimed;
    claimed.delivery_pk = rows.int64(0, 0);
    claimed.attempt = static_cast<int>(rows.int64(0, 1));
    if (rows.is_null(0, 2)) {
      // Retention pruned the event before it could be delivered: nothing left to send.
      db_.query(kDrop, Params().add(claimed.delivery_pk));
      continue;
    }
    claimed.event_id = rows.uuid(0, 2);
    claimed.event_type =
        std::string(domain::event_type_name(static_cast<domain::EventType>(rows.int64(0, 3))));
    claimed.occurred_at = rows.int64(0, 4);
    claimed.event_data = rows.text(0, 5);
    claimed.last_success_ms = rows.optional_int64(0, 6);
    claimed.endpoint = read_endpoint(rows, 0, 7);
    return claimed;
  }
}

void Transaction::record_webhook_attempt(const domain::WebhookAttemptRecord& record) {
  static constexpr Statement kRecord{
      "webhooks_record_attempt",
      "WITH a AS (INSERT INTO webhook_attempts(id, delivery_pk, endpoint_pk, event_id, "
      "  event_type, attempt, status_code, error, duration_ms, created_at) "
      "  SELECT $1, $2, $3, $4, $5, $6, $7::int4, $8, $9, $10 / 1000 "
      "  WHERE EXISTS (SELECT 1 FROM webhook_deliveries WHERE pk = $2)), "
      "d AS (UPDATE webhook_deliveries SET state = $11, "
      "  next_attempt_ms = coalesce($12, next_attempt_ms) WHERE pk = $2) "
      "UPDATE webhook_endpoints SET claimed_by = NULL, claimed_until_ms = NULL, "
      "  last_success_ms = CASE WHEN $13 THEN $10 ELSE last_success_ms END, "
      "  enabled = enabled AND NOT $14, "
      "  updated_at = CASE WHEN $14 THEN $10 / 1000 ELSE updated_at END WHERE pk = $3"};
  std::optional<std::int64_t> status;
  if (record.status_code) status = *record.status_code;
  const int state = record.succeeded ? 1 : record.next_attempt_ms ? 0 : 2;
  db_.query(kRecord, Params()
                         .add(record.id)
                         .add(record.delivery_pk)
                         .add(record.endpoint_pk)
                         .add(record.event_id)
                         .add(record.event_type)
                         .add(record.attempt)
                         .add(status)
                         .add(record.error)
                         .add(record.duration_ms)
                         .add(record.now_ms)
                         .add(state)
                         .add(record.next_attempt_ms)
                         .add(record.succeeded)
                         .add(record.disable_endpoint));
}

void Transaction::release_webhook_claims() {
  // Several instances share this database: holds simply run out (their leases are short).
}

}  // namespace invited::store::postgres
