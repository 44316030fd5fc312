#include "store/postgres/postgres_engine.hpp"

#include <algorithm>
#include <chrono>

#include "store/postgres/postgres_store.hpp"
#include "store/postgres/schema.hpp"

namespace invited::store::postgres {
namespace {

// How long `invited migrate` waits for the server and for another process's migration lock.
constexpr std::chrono::minutes kMigrationWait{10};

// PostgreSQL serves one database from any number of processes: nothing to claim.
class SharedServeClaim final : public ServeClaim {
 public:
  bool sole_server() const override { return false; }
};

class PostgresEngine final : public Engine {
 public:
  PostgresEngine(std::string url, const StoreSettings& settings)
      : url_(std::move(url)),
        pool_size_(settings.pool_size),
        timeout_(std::chrono::milliseconds(settings.timeout_ms)) {}

  std::unique_ptr<ServeClaim> claim_for_serving() override {
    return std::make_unique<SharedServeClaim>();
  }

  std::unique_ptr<ServiceStore> open(Post post) override {
    return std::make_unique<PostgresStore>(
        PostgresStore::Options{.url = url_, .pool_size = pool_size_, .timeout = timeout_},
        std::move(post));
  }

  MigrationResult migrate() override {
    Connection db(Connection::Options{.url = url_}, Clock::now() + timeout_);
    db.set_deadline(Clock::now() + std::max<Clock::duration>(timeout_, kMigrationWait));
    int applied = postgres::migrate(db);
    return {.applied = applied, .schema_version = schema_version(db)};
  }

 private:
  std::string url_;
  int pool_size_;
  std::chrono::milliseconds timeout_;
};

}  // namespace

std::unique_ptr<Engine> make_engine(std::string url, const StoreSettings& settings) {
  return std::make_unique<PostgresEngine>(std::move(url), settings);
}

}  // namespace invited::store::postgres
