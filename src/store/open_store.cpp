#include "store/open_store.hpp"

#include <stdexcept>
#include <variant>

#include "store/engine.hpp"
#include "store/postgres/connection_url.hpp"
#include "store/postgres/postgres_engine.hpp"
#include "store/sqlite/sqlite_engine.hpp"

namespace invited::store {
namespace {

using EngineOrError = std::variant<std::unique_ptr<Engine>, std::string>;

// The one place a URL picks its engine. A new engine plugs in here, and nowhere else.
EngineOrError engine_for(const StoreSettings& settings) {
  constexpr std::string_view kSqlite = "sqlite://";
  const std::string_view url = settings.url;
  if (url.starts_with(kSqlite)) {
    std::string path(url.substr(kSqlite.size()));
    if (path.empty()) return std::string("--database sqlite:// needs a file path");
    return sqlite::make_engine(std::move(path), settings);
  }
  if (postgres::is_connection_url(url)) {
    return postgres::make_engine(std::string(url), settings);
  }
  // Only the scheme of a URL is repeated: the rest may hold a password.
  auto scheme_end = url.find("://");
  if (scheme_end != std::string_view::npos) {
    return "--database must start with sqlite:// (got a " +
           std::string(url.substr(0, scheme_end + 3)) + " URL)";
  }
  return "--database must start with sqlite:// (got " + std::string(url) + ")";
}

std::unique_ptr<Engine> engine_or_throw(const StoreSettings& settings) {
  auto engine = engine_for(settings);
  if (auto* error = std::get_if<std::string>(&engine)) throw std::runtime_error(*error);
  return std::move(std::get<std::unique_ptr<Engine>>(engine));
}

}  // namespace

std::string check_database_url(std::string_view url) {
  auto engine = engine_for(StoreSettings{.url = std::string(url)});
  if (auto* error = std::get_if<std::string>(&engine)) return *error;
  return {};
}

std::string describe_database(std::string_view url) {
  constexpr std::string_view kSqlite = "sqlite://";
  if (url.starts_with(kSqlite)) return std::string(url.substr(kSqlite.size()));
  // Whatever else it is, a password in it stays out of the log.
  return postgres::mask_password(url);
}

std::unique_ptr<ServeClaim> claim_for_serving(const StoreSettings& settings) {
  return engine_or_throw(settings)->claim_for_serving();
}

std::unique_ptr<ServiceStore> open(const StoreSettings& settings, Post post) {
  return engine_or_throw(settings)->open(std::move(post));
}

MigrationResult migrate(const StoreSettings& settings) {
  return engine_or_throw(settings)->migrate();
}

}  // namespace invited::store
