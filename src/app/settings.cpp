#include "app/settings.hpp"

#include <CLI/CLI.hpp>

namespace invited::app {

void add_settings(CLI::App& app, Settings& s) {
  app.add_option("--database", s.database, "sqlite:///path/file.db or sqlite://./relative.db")
      ->envname("INVITED_DATABASE")
      ->capture_default_str();
  app.add_option("--listen", s.listen, "host:port to serve on (port 0 picks a free one)")
      ->envname("INVITED_LISTEN")
      ->capture_default_str();
  app.add_option("--public-url", s.public_url, "base URL of accept links; default http://<listen>")
      ->envname("INVITED_PUBLIC_URL");
  app.add_option("--smtp-url", s.smtp_url,
                 "smtp://[user:pass@]host:port or smtps://...; unset writes .eml files")
      ->envname("INVITED_SMTP_URL");
  app.add_option("--mail-dir", s.mail_dir, "folder for .eml files when no SMTP URL is set")
      ->envname("INVITED_MAIL_DIR")
      ->capture_default_str();
  app.add_option("--mail-from", s.mail_from, "From address; default invited <no-reply@host>")
      ->envname("INVITED_MAIL_FROM");
  app.add_option("--log-level", s.log_level, "debug, info, warn, error or off")
      ->envname("INVITED_LOG_LEVEL")
      ->capture_default_str();
  app.add_option("--invite-expiry-days", s.invite_expiry_days, "days an invitation link works")
      ->envname("INVITED_INVITE_EXPIRY_DAYS")
      ->check(CLI::Range(1, 30))
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
  app.add_option("--threads", s.threads, "HTTP worker threads; 0 uses one per core")
      ->envname("INVITED_THREADS")
      ->check(CLI::Range(0, 256))
      ->capture_default_str();
  app.add_option("--readers", s.readers, "SQLite reader connections")
      ->envname("INVITED_READERS")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--wal-restart-mib", s.wal_restart_mib,
                 "MiB in the SQLite WAL after which it is checkpointed and restarted")
      ->envname("INVITED_WAL_RESTART_MIB")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
}

namespace {

// "host" of a URL such as http://host:port/path.
std::string url_host(const std::string& url) {
  auto scheme = url.find("://");
  std::string rest = scheme == std::string::npos ? url : url.substr(scheme + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (!rest.empty() && rest.front() == '[') return rest.substr(0, rest.find(']') + 1);
  return rest.substr(0, rest.find(':'));
}

}  // namespace

std::string finish(Settings& s) {
  auto colon = s.listen.rfind(':');
  if (colon == std::string::npos) return "--listen must be host:port, got " + s.listen;
  s.listen_host = s.listen.substr(0, colon);
  try {
    int port = std::stoi(s.listen.substr(colon + 1));
    if (port < 0 || port > 65535) throw std::out_of_range("port");
    s.listen_port = static_cast<std::uint16_t>(port);
  } catch (const std::exception&) {
    return "--listen port must be a number from 0 to 65535, got " + s.listen;
  }
  if (s.public_url.empty()) {
    s.public_url = "http://" + s.listen;
    s.public_url_is_default = true;
  }
  while (!s.public_url.empty() && s.public_url.back() == '/') s.public_url.pop_back();
  s.public_host = url_host(s.public_url);
  if (s.mail_from.empty()) s.mail_from = "invited <no-reply@" + s.public_host + ">";
  if (s.mail_from.find_first_of("\r\n") != std::string::npos) {
    return "--mail-from must be one line";
  }

  constexpr std::string_view kSqlite = "sqlite://";
  if (s.database.rfind(kSqlite, 0) == 0) {
    s.sqlite_path = s.database.substr(kSqlite.size());
    if (s.sqlite_path.empty()) return "--database sqlite:// needs a file path";
  } else if (s.database.rfind("postgresql://", 0) == 0 || s.database.rfind("postgres://", 0) == 0) {
    return "--database postgresql:// is not supported by this build yet; use "
           "sqlite:///path/file.db";
  } else {
    return "--database must start with sqlite:// (got " + s.database + ")";
  }
  return {};
}

}  // namespace invited::app
