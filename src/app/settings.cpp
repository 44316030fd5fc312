#include "app/settings.hpp"

#include <CLI/CLI.hpp>

#include "app/address_settings.hpp"
#include "http/client_address.hpp"
#include "http/cors.hpp"
#include "mail/sender.hpp"
#include "store/open_store.hpp"

namespace invited::app {

void add_settings(CLI::App& app, Settings& s) {
  app.add_option("--database", s.database,
                 "sqlite:///path/file.db, sqlite://./relative.db or "
                 "postgresql://user:password@host:port/dbname")
      ->envname("INVITED_DATABASE")
      ->capture_default_str();
  app.add_option("--listen", s.listen,
                 "HOST:PORT to serve on: 127.0.0.1:8080, localhost:8080, [::1]:8080, :8080 (every "
                 "IPv4 interface) or [::]:8080 (every interface); port 0 picks a free one")
      ->envname("INVITED_LISTEN")
      ->capture_default_str();
  app.add_option("--public-url", s.public_url,
                 "http(s):// base URL of accept links; required with --smtp-url, otherwise "
                 "default http://<listen>")
      ->envname("INVITED_PUBLIC_URL");
  app.add_option("--smtp-url", s.smtp_url,
                 "smtp://[user:pass@]host:port or smtps://...; unset writes .eml files")
      ->envname("INVITED_SMTP_URL");
  app.add_flag("--smtp-allow-plaintext", s.smtp_allow_plaintext,
               "send over smtp:// to a non-loopback server even when it offers no STARTTLS")
      ->envname("INVITED_SMTP_ALLOW_PLAINTEXT");
  app.add_option("--mail-dir", s.mail_dir, "folder for .eml files when no SMTP URL is set")
      ->envname("INVITED_MAIL_DIR")
      ->capture_default_str();
  app.add_option("--mail-from", s.mail_from,
                 "sender: ADDRESS or NAME <ADDRESS>; emails are from \"<organization> via NAME\" "
                 "(\"via invited\" without a NAME); default invited <no-reply@host>")
      ->envname("INVITED_MAIL_FROM");
  app.add_option("--log-level", s.log_level, "debug, info, warn, error or off")
      ->envname("INVITED_LOG_LEVEL")
      ->capture_default_str();
  app.add_option("--invite-expiry-days", s.invite_expiry_days, "days an invitation link works")
      ->envname("INVITED_INVITE_EXPIRY_DAYS")
      ->check(CLI::Range(1, 30))
      ->capture_default_str();
  app.add_option("--event-retention-days", s.event_retention_days,
                 "days the event log keeps an event (1-3650); older ones are pruned")
      ->envname("INVITED_EVENT_RETENTION_DAYS")
      ->check(CLI::Range(1, 3650))
      ->capture_default_str();
  app.add_option("--rate-limit-per-minute", s.rate_limit_per_minute,
                 "requests per minute per organization; 0 switches the limit off")
      ->envname("INVITED_RATE_LIMIT_PER_MINUTE")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--invite-limit-per-hour", s.invite_limit_per_hour,
                 "invited targets per hour per organization; 0 switches the limit off")
      ->envname("INVITED_INVITE_LIMIT_PER_HOUR")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--mail-max-attempts", s.mail_max_attempts,
                 "delivery attempts before an email counts as failed")
      ->envname("INVITED_MAIL_MAX_ATTEMPTS")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  app.add_option("--mail-retry-seconds", s.mail_retry_seconds,
                 "delay before the first retry; doubles with each attempt")
      ->envname("INVITED_MAIL_RETRY_SECONDS")
      ->check(CLI::Range(0.01, 86400.0))
      ->capture_default_str();
  app.add_option("--mail-concurrency", s.mail_concurrency,
                 "emails sent at once, each over an SMTP connection of its own that stays open")
      ->envname("INVITED_MAIL_CONCURRENCY")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--webhook-concurrency", s.webhook_concurrency,
                 "webhook deliveries in flight at once, each to a different endpoint")
      ->envname("INVITED_WEBHOOK_CONCURRENCY")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_flag("--webhook-allow-insecure", s.webhook_allow_insecure,
               "allow http:// webhook endpoints and loopback, private and link-local addresses "
               "(local use and tests only)")
      ->envname("INVITED_WEBHOOK_ALLOW_INSECURE");
  app.add_option("--threads", s.threads, "HTTP worker threads; 0 uses one per core")
      ->envname("INVITED_THREADS")
      ->check(CLI::Range(0, 256))
      ->capture_default_str();
  app.add_option("--readers", s.readers, "reader connections (SQLite only)")
      ->envname("INVITED_READERS")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--db-pool-size", s.db_pool_size,
                 "PostgreSQL connections, one thread each (PostgreSQL only)")
      ->envname("INVITED_DB_POOL_SIZE")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  app.add_option("--db-timeout-ms", s.db_timeout_ms,
                 "PostgreSQL: how long a request may wait for the database, connecting and "
                 "queueing included, before it answers 503 (PostgreSQL only)")
      ->envname("INVITED_DB_TIMEOUT_MS")
      ->check(CLI::Range(100, 600000))
      ->capture_default_str();
  app.add_option("--key-cache-ms", s.key_cache_ms,
                 "how long an instance trusts an API key it looked up without asking the "
                 "database again; bounds how long a revocation another instance did not hear "
                 "of still works; 0 switches the cache off")
      ->envname("INVITED_KEY_CACHE_MS")
      ->check(CLI::Range(0, 60000))
      ->capture_default_str();
  app.add_option("--max-connections", s.max_connections,
                 "open connections in all; past 90 % the longest-idle ones are closed first")
      ->envname("INVITED_MAX_CONNECTIONS")
      ->check(CLI::Range(static_cast<std::int64_t>(1), static_cast<std::int64_t>(1'000'000)))
      ->capture_default_str();
  app.add_option("--max-connections-per-client", s.max_connections_per_client,
                 "open connections one client address may hold; 0 switches the bound off")
      ->envname("INVITED_MAX_CONNECTIONS_PER_CLIENT")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--trusted-proxies", s.trusted_proxies,
                 "comma-separated CIDR ranges of proxies whose X-Forwarded-For names the client")
      ->envname("INVITED_TRUSTED_PROXIES");
  app.add_option("--token-limit-per-minute", s.token_limit_per_minute,
                 "accept/decline token requests per client address per minute; 0 switches it off")
      ->envname("INVITED_TOKEN_LIMIT_PER_MINUTE")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--metrics-listen", s.metrics_listen,
                 "HOST:PORT (the forms of --listen) of a second listener that serves GET /metrics "
                 "alone; the --listen address then answers 404 for /metrics. Unset: /metrics is "
                 "served on --listen")
      ->envname("INVITED_METRICS_LISTEN");
  app.add_option("--cors-origins", s.cors_origins,
                 "comma-separated origins (scheme://host[:port]) whose browser pages may call "
                 "/api/; default none")
      ->envname("INVITED_CORS_ORIGINS");
  app.add_option("--wal-restart-mib", s.wal_restart_mib,
                 "MiB in the write-ahead log after which it is checkpointed and restarted "
                 "(SQLite only)")
      ->envname("INVITED_WAL_RESTART_MIB")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
}

std::string default_public_url(const Settings& s, std::uint16_t port) {
  return "http://" + s.listen_url_host + ":" + std::to_string(port);
}

std::string finish(Settings& s) {
  auto listen = parse_listen_address(s.listen);
  if (auto* error = std::get_if<std::string>(&listen)) return *error;
  const auto& address = std::get<ListenAddress>(listen);
  s.listen_host = address.bind_host;
  s.listen_port = address.port;
  s.listen_url_host = address.url_host;
  if (!s.metrics_listen.empty()) {
    auto metrics = parse_listen_address(s.metrics_listen, "--metrics-listen");
    if (auto* error = std::get_if<std::string>(&metrics)) return *error;
    s.metrics_listen_host = std::get<ListenAddress>(metrics).bind_host;
    s.metrics_listen_port = std::get<ListenAddress>(metrics).port;
    if (s.metrics_listen_port != 0 && s.metrics_listen_port == s.listen_port &&
        s.metrics_listen_host == s.listen_host) {
      return "--metrics-listen must be another address than --listen (both are " +
             s.metrics_listen + "): it is a second listener, serving only /metrics";
    }
  }

  if (!s.smtp_url.empty()) {
    auto smtp = parse_smtp_url(s.smtp_url);
    if (auto* error = std::get_if<std::string>(&smtp)) return *error;
    const auto& server = std::get<SmtpUrl>(smtp);
    // Loopback is exempt: a local relay or test sink is reached without crossing a network.
    bool in_clear_over_network = !server.implicit_tls && !is_loopback_host(server.host);
    s.smtp_requires_starttls = in_clear_over_network && !s.smtp_allow_plaintext;
    s.smtp_plaintext_to_remote = in_clear_over_network && s.smtp_allow_plaintext;
    if (s.public_url.empty()) {
      return "--smtp-url needs --public-url (INVITED_PUBLIC_URL): the accept links in the "
             "emails are built from it, so set it to the address where invitees reach this "
             "service, such as --public-url https://invites.example.com; without it the links "
             "would point at the listen address (" +
             default_public_url(s, s.listen_port) + "), which invitees cannot open";
    }
  }

  if (s.public_url.empty()) {
    s.public_url = default_public_url(s, s.listen_port);
    s.public_host = s.listen_url_host;
    s.public_url_is_default = true;
  } else {
    auto url = parse_public_url(s.public_url);
    if (auto* error = std::get_if<std::string>(&url)) return *error;
    s.public_url = std::get<PublicUrl>(url).url;
    s.public_host = std::get<PublicUrl>(url).host;
  }
  if (s.mail_from.empty()) {
    // (Not parsed: the public host may be an IP literal, which an address spells otherwise.)
    s.mail_from_name = "invited";
    s.mail_from_address = "no-reply@" + s.public_host;
    s.mail_from = s.mail_from_name + " <" + s.mail_from_address + ">";
  } else {
    auto sender = mail::parse_mailbox(s.mail_from);
    if (auto* error = std::get_if<std::string>(&sender)) return *error;
    s.mail_from_name = std::get<mail::Mailbox>(sender).name;
    s.mail_from_address = std::get<mail::Mailbox>(sender).address;
  }

  auto proxies = http::TrustedProxies::parse(s.trusted_proxies);
  if (auto* error = std::get_if<std::string>(&proxies)) return *error;
  auto cors = http::CorsPolicy::parse(s.cors_origins);
  if (auto* error = std::get_if<std::string>(&cors)) return *error;

  return store::check_database_url(s.database);
}

}  // namespace invited::app
