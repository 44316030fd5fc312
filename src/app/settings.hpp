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
  std::string smtp_url;    // empty: write .eml files to mail_dir
  std::string mail_dir = "./data/mail";
  std::string mail_from;  // default: invited <no-reply@<public URL host>>
  std::string log_level = "info";
  int invite_expiry_days = 7;
  std::int64_t rate_limit_per_minute = 60;
  std::int64_t invite_limit_per_hour = 1000;
  int mail_max_attempts = 8;
  double mail_retry_seconds = 30;  // first retry delay; doubles on each attempt
  int threads = 0;                 // HTTP threads; 0: one per core
  int readers = 2;                 // SQLite reader connections
  int wal_restart_mib = 64;        // the WAL is checkpointed and restarted past this size

  // Derived values, filled by finish().
  std::string listen_host;
  std::uint16_t listen_port = 0;
  std::string sqlite_path;             // empty for a non-SQLite database
  bool public_url_is_default = false;  // then serve() fills in the port it actually bound
  std::string public_host;             // the public URL's host: Message-ID and From domain
};

// Declares every setting on `app` (flags with environment fallbacks).
void add_settings(CLI::App& app, Settings& settings);

// Checks and completes the settings after parsing; returns an error message, or empty.
std::string finish(Settings& settings);

}  // namespace invited::app
