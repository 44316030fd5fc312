// Operations endpoints: /healthz, /readyz, /metrics, /openapi.json. No API key. /metrics may
// be served on a listener of its own (--metrics-listen).
#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <memory>

#include "api/json_io.hpp"
#include "api/routes.hpp"
#include "domain/clock.hpp"
#include "domain/outbox.hpp"

namespace invited::api {
namespace json = boost::json;

// docs/<name>, compiled into the binary (cmake/embed_files.cmake).
std::string_view document_text(std::string_view name);

namespace {

void write_outbox_backlog(std::string& out, const domain::OutboxBacklog& backlog,
                          domain::Instant now) {
  char age[32];
  std::snprintf(age, sizeof age, "%.3f", domain::oldest_queued_age_seconds(backlog, now));
  out +=
      "# HELP invited_outbox_queued_emails Emails queued and not yet sent or given up (due, being "
      "sent, or waiting for a retry), across every instance of the database.\n"
      "# TYPE invited_outbox_queued_emails gauge\ninvited_outbox_queued_emails " +
      std::to_string(backlog.queued) +
      "\n# HELP invited_outbox_oldest_queued_age_seconds Seconds the email waiting longest for "
      "delivery has been due (since it was queued, or since its retry fell due; emails whose "
      "retry is not due yet do not count); 0 when none is.\n"
      "# TYPE invited_outbox_oldest_queued_age_seconds gauge\n"
      "invited_outbox_oldest_queued_age_seconds " +
      std::string(age) + "\n";
}

// How long a scrape waits for the outbox's backlog, queue wait included, before it answers
// without it: a scrape every few seconds must not hang for the whole --db-timeout-ms when the
// database is slow or every connection busy.
constexpr std::chrono::milliseconds kBacklogReadTimeout{1000};

void write_webhook_backlog(std::string& out, const domain::WebhookBacklog& backlog,
                           domain::Instant now) {
  char age[32];
  std::snprintf(age, sizeof age, "%.3f",
                backlog.oldest_due_ms
                    ? std::max<double>(0, (now.unix_ms - *backlog.oldest_due_ms) / 1000.0)
                    : 0.0);
  out +=
      "# HELP invited_webhook_due_deliveries Webhook deliveries due now and not yet made, across "
      "every instance of the database.\n"
      "# TYPE invited_webhook_due_deliveries gauge\ninvited_webhook_due_deliveries " +
      std::to_string(backlog.due) +
      "\n# HELP invited_webhook_oldest_due_age_seconds Seconds the longest-waiting due webhook "
      "delivery has been due; 0 when none is.\n"
      "# TYPE invited_webhook_oldest_due_age_seconds gauge\n"
      "invited_webhook_oldest_due_age_seconds " +
      std::string(age) + "\n";
}

}  // namespace

void register_ops(http::Router& router, Services& services) {
  router.add(http::Method::kGet, "/healthz", [](http::Request&, http::Respond respond) {
    respond(json_response(200, json::object{{"status", "ok"}}));
  });
  router.add(http::Method::kGet, "/readyz", [&services](http::Request&, http::Respond respond) {
    services.store.check_ready([respond = std::move(respond)](domain::Status status) {
      if (!status) {
        return respond(error_response(503, "unavailable", "not ready: " + status.error().message));
      }
      respond(json_response(200, json::object{{"status", "ready"}}));
    });
  });
  // docs/openapi.json is the one source of the contract: served as it is in the repository.
  router.add(http::Method::kGet, "/openapi.json", [](http::Request&, http::Respond respond) {
    http::Response response;
    response.body = std::string(document_text("openapi.json"));
    response.headers.emplace_back("cache-control", "public, max-age=300");
    respond(std::move(response));
  });
  if (!services.metrics_on_own_listener) register_metrics(router, services);
}

void register_metrics(http::Router& router, Services& services) {
  // The process's counters, then the outbox's backlog as the database has it (so every instance
  // on one PostgreSQL reports the same backlog). If the database cannot be read, the backlog's
  // two gauges are left out rather than reported as zero; so they are when the read takes longer
  // than kBacklogReadTimeout.
  router.add(http::Method::kGet, "/metrics", [&services](http::Request&, http::Respond respond) {
    auto backlog = std::make_shared<domain::OutboxBacklog>();
    auto webhook_backlog = std::make_shared<domain::WebhookBacklog>();
    services.store.read_within(
        kBacklogReadTimeout,
        [backlog, webhook_backlog](domain::ReadTx& tx) -> domain::Status {
          *backlog = tx.outbox_backlog(domain::now().unix_ms);
          *webhook_backlog = tx.webhook_backlog(domain::now().unix_ms);
          return {};
        },
        [&services, backlog, webhook_backlog, respond = std::move(respond)](domain::Status status) {
          http::Response response;
          response.content_type = "text/plain; version=0.0.4; charset=utf-8";
          if (services.write_metrics) services.write_metrics(response.body);
          if (status) write_outbox_backlog(response.body, *backlog, domain::now());
          if (status) write_webhook_backlog(response.body, *webhook_backlog, domain::now());
          respond(std::move(response));
        });
  });
}

}  // namespace invited::api
