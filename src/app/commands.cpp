#include "app/commands.hpp"

#include <boost/json.hpp>
#include <cstdio>
#include <iostream>
#include <optional>

#include "api/authenticator.hpp"
#include "api/endpoint.hpp"
#include "api/idempotency.hpp"
#include "api/organization_budgets.hpp"
#include "api/rate_limiter.hpp"
#include "api/routes.hpp"
#include "api/shared_budgets.hpp"
#include "app/event_sweeper.hpp"
#include "domain/clock.hpp"
#include "domain/organizations.hpp"
#include "domain/resources.hpp"
#include "domain/text.hpp"
#include "http/router.hpp"
#include "http/server.hpp"
#include "log/log.hpp"
#include "mail/folder_transport.hpp"
#include "mail/outbox_worker.hpp"
#include "mail/smtp_transport.hpp"
#include "store/copy_between_stores.hpp"
#include "store/open_store.hpp"
#include "webhooks/delivery_worker.hpp"

namespace invited::app {
namespace json = boost::json;
namespace {

// What the settings say about the database.
store::StoreSettings store_settings(const Settings& settings) {
  return store::StoreSettings{.url = settings.database,
                              .readers = settings.readers,
                              .wal_restart_bytes = std::int64_t{settings.wal_restart_mib} << 20,
                              .pool_size = settings.db_pool_size,
                              .timeout_ms = settings.db_timeout_ms};
}

// A store for commands that run outside the event loop: completions run on the store's thread.
std::unique_ptr<store::ServiceStore> open_store_for_command(const Settings& settings) {
  store::StoreSettings options = store_settings(settings);
  options.readers = 1;
  options.pool_size = 1;
  return store::open(options, [](std::function<void()> task) { task(); });
}

// The bare address inside `Name <address>`, or the whole text.
std::string bare_address(const std::string& mailbox) {
  auto open = mailbox.rfind('<');
  auto close = mailbox.rfind('>');
  if (open == std::string::npos || close == std::string::npos || close < open) return mailbox;
  return mailbox.substr(open + 1, close - open - 1);
}

// Makes one transport per sender of the mail worker.
mail::TransportFactory transport_factory(const Settings& settings) {
  if (!settings.smtp_url.empty()) {
    return [url = settings.smtp_url, starttls = settings.smtp_requires_starttls
                                                    ? mail::StartTls::kRequired
                                                    : mail::StartTls::kIfOffered] {
      return std::make_unique<mail::SmtpTransport>(url, starttls);
    };
  }
  return [dir = settings.mail_dir] { return std::make_unique<mail::FolderTransport>(dir); };
}

// Milliseconds as seconds, for a metric line.
std::string format_seconds(double ms) {
  char text[32];
  std::snprintf(text, sizeof text, "%.6g", ms / 1000.0);
  return text;
}

void write_metrics(std::string& out, const store::ServiceStore& store,
                   const mail::OutboxWorker& outbox, const webhooks::DeliveryWorker& webhooks,
                   const http::Server& server) {
  auto counter = [&out](const char* name, const char* help, std::uint64_t value) {
    out += "# HELP ";
    out += name;
    out += ' ';
    out += help;
    out += "\n# TYPE ";
    out += name;
    out += " counter\n";
    out += name;
    out += ' ';
    out += std::to_string(value);
    out += '\n';
  };
  auto writer = store.stats();
  auto mail = outbox.stats();
  auto http = server.stats();
  counter("invited_http_requests_total", "HTTP requests answered.", http.requests);
  counter("invited_http_responses_4xx_total", "Responses with a 4xx status.", http.client_errors);
  counter("invited_http_responses_5xx_total", "Responses with a 5xx status.", http.server_errors);
  out +=
      "# HELP invited_http_open_connections Open client connections.\n"
      "# TYPE invited_http_open_connections gauge\ninvited_http_open_connections " +
      std::to_string(http.open_connections) + "\n";
  counter("invited_store_write_units_total", "Write units run by the store.", writer.units);
  counter("invited_store_commits_total", "Transactions committed by the store.", writer.commits);
  // Prometheus histograms in seconds (cumulative buckets), plus the largest duration seen.
  auto histogram = [&out](const std::string& name, const char* help,
                          const std::optional<store::DurationCounts>& counts) {
    if (!counts) return;
    out += "# HELP " + name + "_seconds " + help + "\n# TYPE " + name + "_seconds histogram\n";
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < counts->buckets.size(); ++i) {
      cumulative += counts->buckets[i];
      std::string bound = i < store::DurationCounts::kBoundsMs.size()
                              ? format_seconds(store::DurationCounts::kBoundsMs[i])
                              : "+Inf";
      out += name + "_seconds_bucket{le=\"" + bound + "\"} " + std::to_string(cumulative) + "\n";
    }
    out += name + "_seconds_sum " + format_seconds(counts->sum_ms) + "\n";
    out += name + "_seconds_count " + std::to_string(counts->count) + "\n";
    out += "# HELP " + name + "_max_seconds The longest of them since the start.\n# TYPE " + name +
           "_max_seconds gauge\n" + name + "_max_seconds " + format_seconds(counts->max_ms) + "\n";
  };
  histogram("invited_store_write_latency",
            "Write units from their arrival at the store to their durable completion.",
            writer.write_latency);
  histogram("invited_store_wal_restart_stall",
            "WAL restarts: how long each kept the writer from its next group.",
            writer.wal_restart_stalls);
  counter("invited_outbox_sent_total", "Emails delivered.", mail.sent);
  counter("invited_outbox_retried_total", "Delivery attempts that will be retried.", mail.retried);
  counter("invited_outbox_failed_total", "Emails given up after the last attempt.", mail.failed);
  auto sent = webhooks.stats();
  counter("invited_webhook_delivered_total", "Webhook deliveries answered 2xx.", sent.delivered);
  counter("invited_webhook_retried_total", "Webhook attempts that will be retried.", sent.retried);
  counter("invited_webhook_failed_total", "Webhook deliveries given up after the last attempt.",
          sent.failed);
}

}  // namespace

int serve(const Settings& configured) {
  Settings settings = configured;
  try {
    const store::StoreSettings database = store_settings(settings);
    // Refused before anything else is opened while another process serves a database that its
    // engine serves from one process only.
    auto serve_claim = store::claim_for_serving(database);
    http::Router router;
    http::ServerOptions server_options;
    server_options.address = settings.listen_host;
    server_options.port = settings.listen_port;
    server_options.threads = settings.threads;
    server_options.max_connections = static_cast<std::size_t>(settings.max_connections);
    server_options.max_connections_per_client =
        static_cast<std::size_t>(settings.max_connections_per_client);
    server_options.trusted_proxies =
        std::get<http::TrustedProxies>(http::TrustedProxies::parse(settings.trusted_proxies));
    http::Server server(server_options, router, api::json_fallbacks());
    const std::uint16_t port = server.bind();
    if (settings.public_url_is_default) {
      settings.public_url = default_public_url(settings, port);
    }

    auto opened = store::open(
        database, [&server](std::function<void()> task) { server.post(std::move(task)); });
    store::ServiceStore& store = *opened;

    mail::OutboxWorker outbox(
        store, transport_factory(settings),
        mail::OutboxOptions{.public_url = settings.public_url,
                            .from = settings.mail_from,
                            .from_address = bare_address(settings.mail_from),
                            .message_id_host = settings.public_host,
                            .max_attempts = settings.mail_max_attempts,
                            .retry_seconds = settings.mail_retry_seconds,
                            .concurrency = settings.mail_concurrency,
                            .release_claims_on_start = serve_claim->sole_server()});
    store.on_email_queued([&outbox] { outbox.notify(); });
    webhooks::DeliveryWorker webhook_worker(
        store, webhooks::DeliveryOptions{.concurrency = settings.webhook_concurrency,
                                         .allow_insecure = settings.webhook_allow_insecure,
                                         .release_claims_on_start = serve_claim->sole_server()});

    api::Authenticator authenticator(store, std::chrono::milliseconds(settings.key_cache_ms));
    // Revocations by other instances reach the cache as they commit; the TTL is the backstop.
    // Declared after the authenticator, so it stops calling before the authenticator is gone.
    auto revocations = store.watch_key_revocations([&authenticator](auto key_pk) {
      if (key_pk) return authenticator.forget(*key_pk);
      authenticator.forget_all();
    });
    api::RateLimiter limiter(settings.rate_limit_per_minute, settings.invite_limit_per_hour,
                             settings.token_limit_per_minute);
    // The organizations' budgets: in the database when several processes may serve it.
    std::unique_ptr<api::OrganizationBudgets> budgets;
    if (domain::BudgetStore* shared = store.shared_budgets()) {
      budgets = std::make_unique<api::SharedBudgets>(
          *shared,
          api::SharedBudgets::Options{.requests_per_minute = settings.rate_limit_per_minute,
                                      .targets_per_hour = settings.invite_limit_per_hour});
    } else {
      budgets = std::make_unique<api::LocalBudgets>(limiter);
    }
    api::Idempotency idempotency(store);
    api::Services services{
        .store = store,
        .authenticator = authenticator,
        .limiter = limiter,
        .budgets = *budgets,
        .idempotency = idempotency,
        .invite_policy = {.expiry_days = settings.invite_expiry_days},
        .public_url = settings.public_url,
        .write_metrics =
            [&](std::string& out) { write_metrics(out, store, outbox, webhook_worker, server); },
        .webhook_allow_insecure = settings.webhook_allow_insecure,
        .webhooks_due = [&webhook_worker] { webhook_worker.notify(); },
    };
    api::register_all(router, services);

    if (settings.smtp_plaintext_to_remote) {
      log::warn("SMTP without STARTTLS allowed",
                {{"setting", "--smtp-allow-plaintext"},
                 {"risk", "the SMTP password and messages may cross the network in clear"}});
    }
    if (settings.webhook_allow_insecure) {
      log::warn("insecure webhook endpoints allowed",
                {{"setting", "--webhook-allow-insecure"},
                 {"risk", "webhooks may reach http:// URLs and this network's private addresses"}});
    }
    outbox.start();
    webhook_worker.start();
    EventSweeper event_sweeper(store, {.retention_days = settings.event_retention_days});
    event_sweeper.start();
    log::info("listening", {{"address", settings.listen_host},
                            {"port", static_cast<int>(port)},
                            {"database", store::describe_database(settings.database)},
                            {"mail", settings.smtp_url.empty() ? "folder" : "smtp"},
                            {"mail_concurrency", settings.mail_concurrency},
                            {"public_url", settings.public_url}});
    server.run();
    webhook_worker.stop();
    event_sweeper.stop();
    outbox.stop();
    log::info("stopped");
    log::flush();
    return 0;
  } catch (const std::exception& error) {
    log::error("serve failed", {{"error", error.what()}});
    log::flush();
    return 1;
  }
}

int migrate(const Settings& settings) {
  try {
    auto result = store::migrate(store_settings(settings));
    std::cout << json::serialize(json::object{{"applied", result.applied},
                                              {"schema_version", result.schema_version}})
              << "\n";
    return 0;
  } catch (const std::exception& error) {
    std::cerr << "invited migrate: " << error.what() << "\n";
    return 1;
  }
}

int create_org(const Settings& settings, const std::string& name,
               const std::optional<std::string>& owner_email) {
  std::optional<domain::Email> owner;
  if (owner_email) {
    owner = domain::Email::parse(*owner_email);
    if (!owner) {
      std::cerr << "invited admin create-org: --owner-email is not an email address\n";
      return 2;
    }
  }
  if (name.empty() || !domain::is_valid_name(name, domain::kMaxResourceNameLength)) {
    std::cerr << "invited admin create-org: --name must be 1 to 200 characters\n";
    return 2;
  }
  try {
    auto store = open_store_for_command(settings);
    std::optional<domain::Result<domain::NewOrganization>> created;
    auto status = store->write_and_wait([&](domain::WriteTx& tx) -> domain::Status {
      created = domain::create_organization(tx, name, owner, domain::now());
      return *created ? domain::Status() : domain::Status(created->error());
    });
    if (!status) {
      std::cerr << "invited admin create-org: " << status.error().message << "\n";
      return 1;
    }
    const auto& org = created->value();
    json::object out{{"org_id", org.organization.id.str()},
                     {"key_id", org.global_key.key.id.str()},
                     {"api_key", org.global_key.secret}};
    if (org.owner) out["owner_user_id"] = org.owner->id.str();
    std::cout << json::serialize(out) << "\n";
    return 0;
  } catch (const std::exception& error) {
    std::cerr << "invited admin create-org: " << error.what() << "\n";
    return 1;
  }
}

int create_key(const Settings& settings, const std::string& org_id, const std::string& name,
               const std::vector<std::string>& website_ids) {
  auto org_uuid = domain::Uuid::parse(org_id);
  if (!org_uuid) {
    std::cerr << "invited admin create-key: --org must be an organization id (a UUID)\n";
    return 2;
  }
  domain::NewApiKeyRequest request{.name = name, .website_ids = {}};
  for (const auto& id : website_ids) {
    auto parsed = domain::Uuid::parse(id);
    if (!parsed) {
      std::cerr << "invited admin create-key: --website " << id << " is not a UUID\n";
      return 2;
    }
    request.website_ids.push_back(*parsed);
  }
  try {
    auto store = open_store_for_command(settings);
    std::optional<domain::Result<domain::IssuedApiKey>> issued;
    auto status = store->write_and_wait([&](domain::WriteTx& tx) -> domain::Status {
      auto org = tx.find_organization_by_id(*org_uuid);
      if (!org) return domain::Error{domain::ErrorCode::kNotFound, "no organization " + org_id};
      domain::FieldErrors errors;
      issued = domain::create_api_key(tx, org->pk, request, domain::now(), errors);
      return *issued ? domain::Status() : domain::Status(issued->error());
    });
    if (!status) {
      std::cerr << "invited admin create-key: " << status.error().message << "\n";
      return 1;
    }
    const auto& key = issued->value();
    json::array websites;
    for (const auto& id : key.key.website_ids) websites.push_back(json::string(id.str()));
    std::cout << json::serialize(json::object{{"key_id", key.key.id.str()},
                                              {"api_key", key.secret},
                                              {"org_id", org_uuid->str()},
                                              {"website_ids", std::move(websites)}})
              << "\n";
    return 0;
  } catch (const std::exception& error) {
    std::cerr << "invited admin create-key: " << error.what() << "\n";
    return 1;
  }
}

int copy_to(const Settings& settings, const std::string& target_url) {
  try {
    auto report = store::copy_between_stores(store_settings(settings), target_url);
    json::object copied;
    for (const auto& table : report.tables) copied[table.name] = table.rows;
    std::cout << json::serialize(json::object{{"copied", std::move(copied)},
                                              {"schema_version", report.schema_version},
                                              {"target", report.target}})
              << "\n";
    return 0;
  } catch (const std::exception& error) {
    std::cerr << "invited admin copy-to: " << error.what() << "\n";
    return 1;
  }
}

}  // namespace invited::app
