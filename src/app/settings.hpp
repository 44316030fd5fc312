#pragma once

#include <cstdint>
#include <string>

namespace CLI {
class App;
}

namespace invited::app {

// Every setting of SPEC §8, each a flag and an INVITED_* environment variable. All subcommands
// read the same settings.
struct Settings {
  std::string database = "sqlite://./data/invited.db";
  std::string listen = "127.0.0.1:8080";
  std::string public_url;  // default: http://<listen>
  std::string smtp_url;    // empty: write .eml files to mail_dir; set: public_url is required
  bool smtp_allow_plaintext = false;  // smtp:// to a non-loopback host without STARTTLS
  std::string mail_dir = "./data/mail";
  std::string mail_from;  // default: invited <no-reply@<public URL host>>
  std::string log_level = "info";
  int invite_expiry_days = 7;
  std::int64_t rate_limit_per_minute = 60;
  std::int64_t invite_limit_per_hour = 1000;
  int mail_max_attempts = 8;
  double mail_retry_seconds = 30;                  // first retry delay; doubles on each attempt
  int mail_concurrency = 4;                        // emails in flight at once (senders)
  int webhook_concurrency = 8;                     // webhook deliveries in flight at once (senders)
  bool webhook_allow_insecure = false;             // http:// and non-public addresses for webhooks
  int threads = 0;                                 // HTTP threads; 0: one per core
  int readers = 2;                                 // reader connections (SQLite only)
  std::int64_t max_connections = 10000;            // open connections in all
  std::int64_t max_connections_per_client = 1000;  // 0: no per-client bound
  std::string trusted_proxies;                     // CIDR list; empty: trust no proxy
  std::int64_t token_limit_per_minute = 30;        // per client address; 0: off
  int wal_restart_mib = 192;  // SQLite only: the WAL is checkpointed and restarted past this size
  int db_pool_size = 8;       // PostgreSQL only: connections, one thread each
  int db_timeout_ms = 5000;   // PostgreSQL only: a unit's bound, connecting and queueing included
  int key_cache_ms = 2000;    // how long a resolved API key is trusted without the database
  // HOST:PORT of a listener serving /metrics alone; empty: /metrics is served on `listen`.
  std::string metrics_listen;
  std::string cors_origins;  // comma-separated origins browsers may call /api/ from; empty: none
  int event_retention_days = 90;  // events older than this are pruned in the background

  // Derived values, filled by finish().
  std::string listen_host;  // the IP address to bind (localhost: 127.0.0.1; empty: 0.0.0.0)
  std::uint16_t listen_port = 0;
  std::string listen_url_host;         // host of the default public URL (see default_public_url)
  bool public_url_is_default = false;  // then serve() fills in the port it actually bound
  std::string public_host;             // the public URL's host: Message-ID and From domain
  std::string mail_from_name;          // --mail-from's display name (may be empty)
  std::string mail_from_address;       // --mail-from's bare address
  // smtp:// to a host other than this machine's loopback, without smtp_allow_plaintext: the
  // transport must refuse to send unless the server agrees to STARTTLS.
  bool smtp_requires_starttls = false;
  bool smtp_plaintext_to_remote = false;  // allowed by smtp_allow_plaintext; warned at start
  // Set with metrics_listen: the IP address and port to bind.
  std::string metrics_listen_host;
  std::uint16_t metrics_listen_port = 0;
};

// Declares every setting on `app` (flags with environment fallbacks).
void add_settings(CLI::App& app, Settings& settings);

// Checks and completes the settings after parsing; returns an error message that names the
// setting, or empty. Every subcommand calls it, so each refuses the same settings the same way.
std::string finish(Settings& settings);

// The public URL used when --public-url is not set: http://<listen address>:<port>, where a
// wildcard address becomes the loopback address of its family (see ListenAddress::url_host).
// `port` is the port actually bound (it differs from listen_port when that is 0).
std::string default_public_url(const Settings& settings, std::uint16_t port);

}  // namespace invited::app
