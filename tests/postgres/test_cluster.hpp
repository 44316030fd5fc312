#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "store/postgres/connection.hpp"

namespace invited::store::postgres::testing {

// The PostgreSQL cluster these tests run against: a throwaway one started by
// scripts/pg-cluster. Under ctest, the `postgres_cluster` fixture starts one for the whole run
// (tests/postgres/cluster) and names its folder in the file INVITED_TEST_PG_STATE points at;
// run directly (build/tests/postgres_tests), the test program starts its own and removes it at
// exit. Either way, a cluster that cannot be started fails every test; nothing is skipped.
class TestCluster {
 public:
  // The cluster of this test program (started before the first test).
  static TestCluster& get();

  // Superuser `postgres` over the Unix socket, database `postgres`: for pg_terminate_backend
  // and other harness work.
  std::string admin_url() const;
  // The service's role and database over TCP on 127.0.0.1, as `invited serve` would connect,
  // with `schema` first on the search path.
  std::string tcp_url(const std::string& schema) const;
  // The same over the Unix socket.
  std::string socket_url(const std::string& schema) const;

  // A new, empty schema for one test (unique name) in the service's database. A schema, not a
  // database: CREATE DATABASE copies a template (0.3 to 1.5 s on the shared test machine), a
  // schema costs milliseconds, and a test sees only its own tables through the search path.
  std::string fresh_schema();

  const std::string& dir() const { return dir_; }
  int port() const { return port_; }

  // Used by the test environment.
  void start();
  void stop();

 private:
  std::string dir_;
  bool owned_ = false;
  int port_ = 0;
  std::string user_;
  std::string password_;
  std::string database_;
};

// Connects to `url`, failing the calling test (by exception) if it cannot within 10 s.
std::unique_ptr<Connection> connect(const std::string& url);

// A deadline `ms` milliseconds from now.
inline Clock::time_point after_ms(int ms) { return Clock::now() + std::chrono::milliseconds(ms); }

}  // namespace invited::store::postgres::testing
