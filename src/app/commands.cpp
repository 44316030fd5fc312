#include "app/commands.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <iostream>
#include <optional>
#include <string_view>

#include "api/authenticator.hpp"
#include "api/endpoint.hpp"
#include "api/idempotency.hpp"
#include "api/organization_budgets.hpp"
#include "api/rate_limiter.hpp"
#include "api/routes.hpp"
#include "api/shared_budgets.hpp"
#include "app/build_version.hpp"
#include "app/event_sweeper.hpp"
#include "app/prometheus_text.hpp"
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

// The HTTP series per route and method, and the open connections by state.
void write_http_metrics(std::string& out, const http::ServerStats& http) {
  write_family(out, "invited_http_connections", "gauge",
               "Open client connections by state: idle (waiting for a request), reading (a "
               "request), handling (the handler or the store has it), writing (the response).");
  const std::pair<std::string_view, std::uint64_t> states[] = {
      {"idle", http.connections.idle},
      {"reading", http.connections.reading},
      {"handling", http.connections.handling},
      {"writing", http.connections.writing}};
  for (const auto& [state, value] : states) {
    write_sample(out, "invited_http_connections", {{"state", state}}, std::to_string(value));
  }
  write_family(out, "invited_http_request_duration_seconds", "histogram",
               "Requests answered, per route pattern and method, from the end of their header to "
               "the end of their response; route=\"unmatched\" for paths no route serves.");
  for (const auto& row : http.routes) {
    write_duration_samples(out, "invited_http_request_duration_seconds",
                           {{"route", row.route}, {"method", row.method}}, row.duration);
  }
  write_family(out, "invited_http_responses_total", "counter",
               "Responses per route pattern, method and status class (2xx, 3xx, 4xx, 5xx).");
  for (const auto& row : http.routes) {
    for (std::size_t i = 0; i < row.responses.size(); ++i) {
      write_sample(out, "invited_http_responses_total",
                   {{"route", row.route},
                    {"method", row.method},
                    {"status_class", http::RouteRequestStats::kClasses[i]}},
                   std::to_string(row.responses[i]));
    }
  }
}

void write_metrics(std::string& out, const store::ServiceStore& store,
                   const mail::OutboxWorker& outbox, const webhooks::DeliveryWorker& webhooks,
                   const EventSweeper& event_sweeper, const http::Server& server) {
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
  write_http_metrics(out, http);
  // Prometheus histograms in seconds (cumulative buckets), plus the largest duration seen.
  auto histogram = [&out](const std::string& name, const char* help,
                          const std::optional<metrics::DurationCounts>& counts) {
    if (!counts) return;
    write_family(out, name + "_seconds", "histogram", help);
    write_duration_samples(out, name + "_seconds", {}, *counts);
    write_family(out, name + "_max_seconds", "gauge", "The longest of them since the start.");
    write_sample(out, name + "_max_seconds", {}, seconds_text(counts->max_ms));
  };
  histogram("invited_store_write_latency",
            "Write units from their arrival at the store to their durable completion, whatever "
            "their outcome.",
            writer.write_latency);
  histogram("invited_store_read_latency",
            "Read units from their arrival at the store to their completion, whatever their "
            "outcome.",
            writer.read_latency);
  histogram("invited_store_wal_restart_stall",
            "WAL restarts: how long each kept the writer from its next group.",
            writer.wal_restart_stalls);
  counter("invited_outbox_sent_total", "Emails delivered.", mail.sent);
  counter("invited_outbox_retried_total", "Delivery attempts that will be retried.", mail.retried);
  counter("invited_outbox_failed_total", "Emails given up after the last attempt.", mail.failed);
  counter("invited_outbox_units_total",
          "Write units the mail senders ran (each records outcomes and claims the next emails).",
          mail.units);
  counter(
      "invited_event_sweeps_total",
      "Passes of the event log's housekeeping completed in full (expiry sweep, then retention).",
      event_sweeper.passes());
  auto sent = webhooks.stats();
  counter("invited_webhook_delivered_total", "Webhook deliveries answered 2xx.", sent.delivered);
  counter("invited_webhook_retried_total", "Webhook attempts that will be retried.", sent.retried);
  counter("invited_webhook_failed_total", "Webhook deliveries given up after the last attempt.",
          sent.failed);
  out +=
      "# HELP invited_build_info The version and git commit of this binary.\n"
      "# TYPE invited_build_info gauge\ninvited_build_info{version=\"" +
      std::string(build_version()) + "\",commit=\"" + std::string(build_commit()) + "\"} 1\n";
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
    server_options.cors =
        std::get<http::CorsPolicy>(http::CorsPolicy::parse(settings.cors_origins));
    http::Server server(server_options, router, api::json_fallbacks());
    const std::uint16_t port = server.bind();
    // With --metrics-listen, /metrics is served there alone (its route is added below, with the
    // others) and the main listener answers 404 for it.
    http::Router metrics_router;
    std::optional<std::uint16_t> metrics_port;
    if (!settings.metrics_listen.empty()) {
      try {
        metrics_port = server.bind_also(settings.metrics_listen_host, settings.metrics_listen_port,
                                        metrics_router);
      } catch (const std::exception& error) {
        throw std::runtime_error("--metrics-listen " + settings.metrics_listen +
                                 ": cannot listen there: " + error.what());
      }
    }
    if (settings.public_url_is_default) {
      settings.public_url = default_public_url(settings, port);
    }

    auto opened = store::open(
        database, [&server](std::function<void()> task) { server.post(std::move(task)); });
    store::ServiceStore& store = *opened;

    mail::OutboxWorker outbox(
        store, transport_factory(settings),
        mail::OutboxOptions{.public_url = settings.public_url,
                            .from_name = settings.mail_from_name,
                            .from_address = settings.mail_from_address,
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
    EventSweeper event_sweeper(store, {.retention_days = settings.event_retention_days});

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
            [&](std::string& out) {
              write_metrics(out, store, outbox, webhook_worker, event_sweeper, server);
            },
        .metrics_on_own_listener = metrics_port.has_value(),
        .webhook_allow_insecure = settings.webhook_allow_insecure,
        .webhooks_due = [&webhook_worker] { webhook_worker.notify(); },
    };
    api::register_all(router, services);
    if (metrics_port) api::register_metrics(metrics_router, services);

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
    if (metrics_port) {
      log::info("metrics listening", {{"address", settings.metrics_listen_host},
                                      {"port", static_cast<int>(*metrics_port)}});
    }
    webhook_worker.start();
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

namespace {

// The rows as columns padded to their widest cell, the first row being the header.
void print_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()));
    for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    std::cout << line << "\n";
  }
}

json::value key_json(const domain::ApiKey& key) {
  json::array websites;
  for (const auto& id : key.website_ids) websites.push_back(json::string(id.str()));
  json::object out{{"key_id", key.id.str()},
                   {"org_id", key.org_id.str()},
                   {"name", key.name},
                   {"scoped", key.scoped},
                   {"website_ids", std::move(websites)},
                   {"created_at", domain::format_timestamp(key.created_at)},
                   {"revoked_at", nullptr}};
  if (key.revoked_at) out["revoked_at"] = domain::format_timestamp(*key.revoked_at);
  return out;
}

// The id `value` that `invited admin COMMAND` was given as FLAG; nullopt once stderr has said
// that it must be `what` (a UUID, and where to find one).
std::optional<domain::Uuid> id_argument(std::string_view command, std::string_view flag,
                                        std::string_view what, const std::string& value) {
  auto id = domain::Uuid::parse(value);
  if (!id) {
    std::cerr << "invited admin " << command << ": " << flag << " must be " << what << ", not '"
              << value << "'\n";
  }
  return id;
}

}  // namespace

int list_orgs(const Settings& settings, ListFormat format) {
  try {
    auto store = open_store_for_command(settings);
    std::vector<domain::Organization> organizations;
    auto status = store->read_and_wait([&](domain::ReadTx& tx) -> domain::Status {
      organizations = tx.list_organizations();
      return {};
    });
    if (!status) {
      std::cerr << "invited admin list-orgs: " << status.error().message << "\n";
      return 1;
    }
    if (format == ListFormat::kJson) {
      json::array out;
      for (const auto& org : organizations) {
        out.push_back(json::object{{"org_id", org.id.str()},
                                   {"name", org.name},
                                   {"created_at", domain::format_timestamp(org.created_at)}});
      }
      std::cout << json::serialize(out) << "\n";
      return 0;
    }
    std::vector<std::vector<std::string>> rows{{"ORG_ID", "CREATED_AT", "NAME"}};
    for (const auto& org : organizations) {
      rows.push_back({org.id.str(), domain::format_timestamp(org.created_at), org.name});
    }
    print_table(rows);
    return 0;
  } catch (const std::exception& error) {
    std::cerr << "invited admin list-orgs: " << error.what() << "\n";
    return 1;
  }
}

int list_keys(const Settings& settings, const std::string& org_id, ListFormat format) {
  auto org_uuid =
      id_argument("list-keys", "--org",
                  "an organization id (a UUID, as `invited admin list-orgs` shows)", org_id);
  if (!org_uuid) return 2;
  try {
    auto store = open_store_for_command(settings);
    std::vector<domain::ApiKey> keys;
    auto status = store->read_and_wait([&](domain::ReadTx& tx) -> domain::Status {
      keys.clear();
      auto org = tx.find_organization_by_id(*org_uuid);
      if (!org) {
        return domain::Error{domain::ErrorCode::kNotFound,
                             "no organization has the id " + org_uuid->str() +
                                 " (`invited admin list-orgs` lists them)"};
      }
      domain::CursorRequest request{.limit = 100, .starting_after = std::nullopt};
      for (;;) {
        auto page = tx.list_api_keys(org->pk, request);
        for (auto& key : page.items) keys.push_back(std::move(key));
        if (!page.has_more || keys.empty()) break;
        request.starting_after = keys.back().id;
      }
      return {};
    });
    if (!status) {
      std::cerr << "invited admin list-keys: " << status.error().message << "\n";
      return 1;
    }
    if (format == ListFormat::kJson) {
      json::array out;
      for (const auto& key : keys) out.push_back(key_json(key));
      std::cout << json::serialize(out) << "\n";
      return 0;
    }
    std::vector<std::vector<std::string>> rows{
        {"KEY_ID", "CREATED_AT", "REVOKED_AT", "SCOPE", "NAME"}};
    for (const auto& key : keys) {
      std::string scope = "global";
      if (key.scoped) {
        scope.clear();
        for (const auto& id : key.website_ids) {
          if (!scope.empty()) scope += ',';
          scope += id.str();
        }
        if (scope.empty()) scope = "scoped (no live website)";
      }
      rows.push_back({key.id.str(), domain::format_timestamp(key.created_at),
                      key.revoked_at ? domain::format_timestamp(*key.revoked_at) : "-", scope,
                      key.name});
    }
    print_table(rows);
    return 0;
  } catch (const std::exception& error) {
    std::cerr << "invited admin list-keys: " << error.what() << "\n";
    return 1;
  }
}

int revoke_key(const Settings& settings, const std::string& key_id) {
  auto key_uuid =
      id_argument("revoke-key", "--key",
                  "an API key id (a UUID, as `invited admin list-keys --org ID` shows)", key_id);
  if (!key_uuid) return 2;
  try {
    auto store = open_store_for_command(settings);
    std::optional<domain::Result<domain::ApiKey>> revoked;
    auto status = store->write_and_wait([&](domain::WriteTx& tx) -> domain::Status {
      revoked = domain::revoke_api_key_in_any_organization(tx, *key_uuid, domain::now());
      return *revoked ? domain::Status() : domain::Status(revoked->error());
    });
    if (!status) {
      std::string hint = status.error().code == domain::ErrorCode::kNotFound
                             ? " (`invited admin list-keys --org ID` lists an organization's keys)"
                             : "";
      std::cerr << "invited admin revoke-key: " << status.error().message << hint << "\n";
      return 1;
    }
    std::cout << json::serialize(key_json(revoked->value())) << "\n";
    return 0;
  } catch (const std::exception& error) {
    std::cerr << "invited admin revoke-key: " << error.what() << "\n";
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
