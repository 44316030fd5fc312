// Webhook endpoints, their deliveries and attempts (domain/webhook_store.hpp).
#include <string>

#include "domain/clock.hpp"
#include "domain/events.hpp"
#include "store/sqlite/list_page.hpp"
#include "store/sqlite/transaction.hpp"

namespace invited::store::sqlite {

using domain::Pk;
using domain::Uuid;

namespace {

#define INVITED_ENDPOINT_COLUMNS                                                             \
  "SELECT pk, id, org_pk, url, description, event_types, enabled, secret, previous_secret, " \
  "previous_until_ms, created_at, updated_at FROM webhook_endpoints "

domain::WebhookEndpoint read_endpoint(const Cursor& row, int first = 0) {
  domain::WebhookEndpoint endpoint;
  endpoint.pk = row.int64(first + 0);
  endpoint.id = row.uuid(first + 1);
  endpoint.org_pk = row.int64(first + 2);
  endpoint.url = row.text(first + 3);
  endpoint.description = row.optional_text(first + 4);
  endpoint.event_types = domain::parse_stored_event_types(row.text(first + 5));
  endpoint.enabled = row.int64(first + 6) != 0;
  endpoint.secret = row.text(first + 7);
  endpoint.previous_secret = row.optional_text(first + 8);
  endpoint.previous_until_ms = row.optional_int64(first + 9);
  endpoint.created_at = row.int64(first + 10);
  endpoint.updated_at = row.int64(first + 11);
  return endpoint;
}

domain::WebhookAttempt read_attempt(const Cursor& row) {
  domain::WebhookAttempt attempt;
  attempt.id = row.uuid(0);
  attempt.event_id = row.uuid(1);
  attempt.event_type = row.text(2);
  attempt.attempt = static_cast<int>(row.int64(3));
  if (auto code = row.optional_int64(4)) attempt.status_code = static_cast<int>(*code);
  attempt.error = row.optional_text(5);
  attempt.duration_ms = row.int64(6);
  attempt.created_at = row.int64(7);
  return attempt;
}

std::optional<std::string_view> view(const std::optional<std::string>& text) {
  if (!text) return std::nullopt;
  return std::string_view(*text);
}

}  // namespace

std::optional<domain::WebhookEndpoint> Transaction::find_webhook_endpoint(Pk org_pk,
                                                                          const Uuid& id) {
  static constexpr const char* kFind = INVITED_ENDPOINT_COLUMNS "WHERE id = ?1 AND org_pk = ?2";
  auto row = db_.query(kFind);
  row.bind(1, id).bind(2, org_pk);
  if (!row.step()) return std::nullopt;
  return read_endpoint(row);
}

domain::Page<domain::WebhookEndpoint> Transaction::list_webhook_endpoints(
    Pk org_pk, const domain::ListRequest& request) {
  static constexpr const char* kList = INVITED_ENDPOINT_COLUMNS
      "WHERE org_pk = ?1 AND (created_at, id) > (?2, ?3) "
      "ORDER BY created_at, id LIMIT ?4 OFFSET ?5";
  static constexpr const char* kCount = "SELECT COUNT(*) FROM webhook_endpoints WHERE org_pk = ?1";
  static constexpr const char* kLocate =
      "SELECT created_at, id FROM webhook_endpoints WHERE id = ?1 AND org_pk = ?2";
  return read_list<domain::WebhookEndpoint>(
      request, ListPosition::before_first(),
      [&](const Uuid& id) {
        auto row = db_.query(kLocate);
        row.bind(1, id).bind(2, org_pk);
        return position_of(row);
      },
      [&](const ListPosition& after, std::int64_t limit, std::int64_t offset,
          std::vector<domain::WebhookEndpoint>& items) {
        auto rows = db_.query(kList);
        rows.bind(1, org_pk).bind(2, after.time).bind(3, after.id).bind(4, limit).bind(5, offset);
        while (rows.step()) items.push_back(read_endpoint(rows));
      },
      [&] { return count_rows(db_, kCount, org_pk); });
}

int Transaction::count_webhook_endpoints(Pk org_pk) {
  static constexpr const char* kCount = "SELECT COUNT(*) FROM webhook_endpoints WHERE org_pk = ?1";
  return static_cast<int>(count_rows(db_, kCount, org_pk));
}

domain::Page<domain::WebhookAttempt> Transaction::list_webhook_attempts(
    Pk endpoint_pk, const domain::ListRequest& request) {
  static constexpr const char* kList =
      "SELECT id, event_id, event_type, attempt, status_code, error, duration_ms, created_at "
      "FROM webhook_attempts WHERE endpoint_pk = ?1 AND (created_at, id) > (?2, ?3) "
      "ORDER BY created_at, id LIMIT ?4 OFFSET ?5";
  static constexpr const char* kCount =
      "SELECT COUNT(*) FROM webhook_attempts WHERE endpoint_pk = ?1";
  static constexpr const char* kLocate =
      "SELECT created_at, id FROM webhook_attempts WHERE id = ?1 AND endpoint_pk = ?2";
  return read_list<domain::WebhookAttempt>(
      request, ListPosition::before_first(),
      [&](const Uuid& id) {
        auto row = db_.query(kLocate);
        row.bind(1, id).bind(2, endpoint_pk);
        return position_of(row);
      },
      [&](const ListPosition& after, std::int64_t limit, std::int64_t offset,
          std::vector<domain::WebhookAttempt>& items) {
        auto rows = db_.query(kList);
        rows.bind(1, endpoint_pk)
            .bind(2, after.time)
            .bind(3, after.id)
            .bind(4, limit)
            .bind(5, offset);
        while (rows.step()) items.push_back(read_attempt(rows));
      },
      [&] { return count_rows(db_, kCount, endpoint_pk); });
}

domain::WebhookBacklog Transaction::webhook_backlog(std::int64_t now_ms) {
  static constexpr const char* kBacklog =
      "SELECT COUNT(*), MIN(d.next_attempt_ms) FROM webhook_deliveries d "
      "JOIN webhook_endpoints e ON e.pk = d.endpoint_pk "
      "WHERE d.state = 0 AND d.next_attempt_ms <= ?1 AND e.enabled = 1";
  auto row = db_.query(kBacklog);
  row.bind(1, now_ms);
  domain::WebhookBacklog backlog;
  if (row.step()) {
    backlog.due = row.int64(0);
    backlog.oldest_due_ms = row.optional_int64(1);
  }
  return backlog;
}

std::optional<std::int64_t> Transaction::next_webhook_due_ms() {
  static constexpr const char* kNext =
      "SELECT MIN(d.next_attempt_ms) FROM webhook_deliveries d "
      "JOIN webhook_endpoints e ON e.pk = d.endpoint_pk WHERE d.state = 0 AND e.enabled = 1";
  auto row = db_.query(kNext);
  if (!row.step()) return std::nullopt;
  return row.optional_int64(0);
}

domain::WebhookEndpoint Transaction::insert_webhook_endpoint(
    const domain::WebhookEndpoint& endpoint) {
  static constexpr const char* kInsert =
      "INSERT INTO webhook_endpoints(id, org_pk, url, description, event_types, enabled, secret, "
      "created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) RETURNING pk";
  const std::string types = domain::stored_event_types(endpoint.event_types);
  auto row = db_.query(kInsert);
  row.bind(1, endpoint.id)
      .bind(2, endpoint.org_pk)
      .bind(3, endpoint.url)
      .bind(4, view(endpoint.description))
      .bind(5, types)
      .bind(6, endpoint.enabled ? 1 : 0)
      .bind(7, endpoint.secret)
      .bind(8, endpoint.created_at)
      .bind(9, endpoint.updated_at);
  row.step();
  domain::WebhookEndpoint stored = endpoint;
  stored.pk = row.int64(0);
  return stored;
}

void Transaction::update_webhook_endpoint(const domain::WebhookEndpoint& endpoint) {
  static constexpr const char* kUpdate =
      "UPDATE webhook_endpoints SET url = ?2, description = ?3, event_types = ?4, enabled = ?5, "
      "secret = ?6, previous_secret = ?7, previous_until_ms = ?8, updated_at = ?9 WHERE pk = ?1";
  const std::string types = domain::stored_event_types(endpoint.event_types);
  db_.query(kUpdate)
      .bind(1, endpoint.pk)
      .bind(2, endpoint.url)
      .bind(3, view(endpoint.description))
      .bind(4, types)
      .bind(5, endpoint.enabled ? 1 : 0)
      .bind(6, endpoint.secret)
      .bind(7, view(endpoint.previous_secret))
      .bind(8, endpoint.previous_until_ms)
      .bind(9, endpoint.updated_at)
      .execute();
}

void Transaction::delete_webhook_endpoint(Pk endpoint_pk) {
  db_.query("DELETE FROM webhook_attempts WHERE endpoint_pk = ?1").bind(1, endpoint_pk).execute();
  db_.query("DELETE FROM webhook_deliveries WHERE endpoint_pk = ?1").bind(1, endpoint_pk).execute();
  db_.query("DELETE FROM webhook_endpoints WHERE pk = ?1").bind(1, endpoint_pk).execute();
}

bool Transaction::retry_webhook_delivery(Pk endpoint_pk, const Uuid& attempt_id,
                                         std::int64_t now_ms) {
  static constexpr const char* kRetry =
      "UPDATE webhook_deliveries SET state = 0, next_attempt_ms = ?3 WHERE pk = "
      "(SELECT delivery_pk FROM webhook_attempts WHERE id = ?2 AND endpoint_pk = ?1)";
  return db_.query(kRetry).bind(1, endpoint_pk).bind(2, attempt_id).bind(3, now_ms).execute() > 0;
}

std::optional<domain::ClaimedWebhook> Transaction::claim_webhook_delivery(std::int64_t now_ms,
                                                                          std::int64_t lease_now_ms,
                                                                          std::int64_t lease_ms,
                                                                          std::int64_t claimant) {
  // Due longest first, skipping endpoints another sender holds: one delivery in flight per
  // endpoint. The writer runs one unit at a time, so pick-then-update is one claim.
  static constexpr const char* kPick =
      "SELECT d.pk, d.attempts + 1, d.event_pk, e.last_success_ms, "
      "e.pk, e.id, e.org_pk, e.url, e.description, e.event_types, e.enabled, e.secret, "
      "e.previous_secret, e.previous_until_ms, e.created_at, e.updated_at "
      "FROM webhook_deliveries d INDEXED BY webhook_deliveries_due "
      "JOIN webhook_endpoints e ON e.pk = d.endpoint_pk "
      "WHERE d.state = 0 AND d.next_attempt_ms <= ?1 AND e.enabled = 1 "
      "AND (e.claimed_until_ms IS NULL OR e.claimed_until_ms <= ?2) "
      "ORDER BY d.next_attempt_ms, d.pk LIMIT 1";
  static constexpr const char* kEvent =
      "SELECT id, type, occurred_at, data FROM events WHERE pk = ?1";
  domain::ClaimedWebhook claimed;
  Pk event_pk = 0;
  {
    auto row = db_.query(kPick);
    row.bind(1, now_ms).bind(2, lease_now_ms);
    if (!row.step()) return std::nullopt;
    claimed.delivery_pk = row.int64(0);
    claimed.attempt = static_cast<int>(row.int64(1));
    event_pk = row.int64(2);
    claimed.last_success_ms = row.optional_int64(3);
    claimed.endpoint = read_endpoint(row, 4);
  }
  db_.query("UPDATE webhook_deliveries SET attempts = ?2 WHERE pk = ?1")
      .bind(1, claimed.delivery_pk)
      .bind(2, claimed.attempt)
      .execute();
  {
    auto row = db_.query(kEvent);
    row.bind(1, event_pk);
    if (!row.step()) {
      // Retention pruned the event before it could be delivered: nothing left to send.
      db_.query("UPDATE webhook_deliveries SET state = 2 WHERE pk = ?1")
          .bind(1, claimed.delivery_pk)
          .execute();
      return claim_webhook_delivery(now_ms, lease_now_ms, lease_ms, claimant);
    }
    claimed.event_id = row.uuid(0);
    claimed.event_type =
        std::string(domain::event_type_name(static_cast<domain::EventType>(row.int64(1))));
    claimed.occurred_at = row.int64(2);
    claimed.event_data = row.text(3);
  }
  db_.query("UPDATE webhook_endpoints SET claimed_by = ?2, claimed_until_ms = ?3 WHERE pk = ?1")
      .bind(1, claimed.endpoint.pk)
      .bind(2, claimant)
      .bind(3, lease_now_ms + lease_ms)
      .execute();
  return claimed;
}

void Transaction::record_webhook_attempt(const domain::WebhookAttemptRecord& record) {
  static constexpr const char* kAttempt =
      "INSERT INTO webhook_attempts(id, delivery_pk, endpoint_pk, event_id, event_type, attempt, "
      "status_code, error, duration_ms, created_at) "
      "SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10 "
      "WHERE EXISTS (SELECT 1 FROM webhook_deliveries WHERE pk = ?2)";
  static constexpr const char* kDelivery =
      "UPDATE webhook_deliveries SET state = ?2, next_attempt_ms = coalesce(?3, next_attempt_ms) "
      "WHERE pk = ?1";
  static constexpr const char* kEndpoint =
      "UPDATE webhook_endpoints SET claimed_by = NULL, claimed_until_ms = NULL, "
      "last_success_ms = CASE WHEN ?2 THEN ?3 ELSE last_success_ms END, "
      "enabled = CASE WHEN ?4 THEN 0 ELSE enabled END, "
      "updated_at = CASE WHEN ?4 THEN ?3 / 1000 ELSE updated_at END WHERE pk = ?1";
  std::optional<std::int64_t> status;
  if (record.status_code) status = *record.status_code;
  db_.query(kAttempt)
      .bind(1, record.id)
      .bind(2, record.delivery_pk)
      .bind(3, record.endpoint_pk)
      .bind(4, record.event_id)
      .bind(5, record.event_type)
      .bind(6, record.attempt)
      .bind(7, status)
      .bind(8, view(record.error))
      .bind(9, record.duration_ms)
      .bind(10, record.now_ms / 1000)
      .execute();
  const int state = record.succeeded ? 1 : record.next_attempt_ms ? 0 : 2;
  db_.query(kDelivery)
      .bind(1, record.delivery_pk)
      .bind(2, state)
      .bind(3, record.next_attempt_ms)
      .execute();
  db_.query(kEndpoint)
      .bind(1, record.endpoint_pk)
      .bind(2, record.succeeded ? 1 : 0)
      .bind(3, record.now_ms)
      .bind(4, record.disable_endpoint ? 1 : 0)
      .execute();
}

void Transaction::queue_webhook_deliveries(const domain::NewEvent& event, Pk event_pk) {
  // One index probe when the organization has no endpoint (the common case, and the bulk
  // benchmark's); otherwise one row per subscribed endpoint, due at once.
  static constexpr const char* kQueue =
      "INSERT INTO webhook_deliveries(endpoint_pk, event_pk, state, attempts, next_attempt_ms, "
      "created_at) SELECT pk, ?2, 0, 0, ?5, ?6 FROM webhook_endpoints "
      "WHERE org_pk = ?1 AND enabled = 1 AND (event_types = '' "
      "OR instr(event_types, ' ' || ?3 || ' ') > 0 OR instr(event_types, ' ' || ?4 || ' ') > 0)";
  const std::string_view name = domain::event_type_name(event.type);
  const std::string family = std::string(name.substr(0, name.find('.'))) + ".*";
  const std::int64_t now_ms = domain::now().unix_ms;
  db_.query(kQueue)
      .bind(1, event.org_pk)
      .bind(2, event_pk)
      .bind(3, name)
      .bind(4, family)
      .bind(5, now_ms)
      .bind(6, now_ms / 1000)
      .execute();
}

void Transaction::release_webhook_claims() {
  db_.exec(
      "UPDATE webhook_endpoints SET claimed_by = NULL, claimed_until_ms = NULL "
      "WHERE claimed_until_ms IS NOT NULL");
}

}  // namespace invited::store::sqlite
