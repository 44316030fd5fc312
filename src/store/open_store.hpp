#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "store/service_store.hpp"

namespace invited::store {

// What the settings say about the database (README, "Settings").
struct StoreSettings {
  // --database: sqlite:///absolute/path.db or sqlite://./relative.db; postgresql://... (and
  // postgres://): a libpq URI naming a PostgreSQL database.
  std::string url;
  int readers = 2;  // SQLite only: reader connections (threads)
  std::int64_t wal_restart_bytes = std::int64_t{192} << 20;  // SQLite only: the WAL's bound
  int pool_size = 8;      // PostgreSQL only: connections (threads)
  int timeout_ms = 5000;  // PostgreSQL only: a unit's bound, queueing and connecting included
};

// The only way the rest of the program reaches a database: each function picks the engine from
// the URL's scheme (open_store.cpp, engine_for, is the one place that does), so nothing outside
// src/store/ names an engine. They throw std::runtime_error (a message saying what failed and
// what to do) when the database cannot be reached or used.

// Empty if `url` names a database this build can serve, else what to fix, naming --database.
// Opens nothing; settings call it so every command refuses a bad URL the same way.
std::string check_database_url(std::string_view url);

// The database as a log line may show it: a SQLite file's path, a PostgreSQL URL without its
// password.
std::string describe_database(std::string_view url);

// For `invited serve`, before anything else is opened: claims the database for this process
// where the engine serves a database from one process at a time (SQLite: a lock beside the
// file). Refused, with what to do, while another process serves it.
std::unique_ptr<ServeClaim> claim_for_serving(const StoreSettings& settings);

// Opens the store, applying pending migrations first; completions of its units go to `post`.
std::unique_ptr<ServiceStore> open(const StoreSettings& settings, Post post);

// `invited migrate`: applies pending migrations, safe while a service runs on the database and
// when several processes migrate at once (each step runs once).
MigrationResult migrate(const StoreSettings& settings);

}  // namespace invited::store
