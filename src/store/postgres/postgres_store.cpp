#include "store/postgres/postgres_store.hpp"

#include <algorithm>
#include <utility>

#include "log/log.hpp"
#include "store/postgres/key_revocation_watch.hpp"
#include "store/postgres/schema.hpp"

namespace invited::store::postgres {
namespace {

PoolOptions pool_options(const PostgresStore::Options& options) {
  return PoolOptions{.url = options.url,
                     .size = options.pool_size,
                     .timeout = options.timeout,
                     .max_attempts = options.max_attempts,
                     .isolation = Isolation::kSerializable,
                     .max_queued = options.max_queued};
}

// Migrates the database and checks its version: at start, before any unit runs.
void open_database(const PostgresStore::Options& options) {
  if (!options.migrate) return;
  Connection db(Connection::Options{.url = options.url}, Clock::now() + options.timeout);
  // The lock may be held by another instance migrating a big database: wait longer for it.
  db.set_deadline(Clock::now() + std::max(options.timeout, std::chrono::milliseconds(60000)));
  // Refuses a newer schema unless every migration this binary does not know is compatible.
  migrate(db);
  db.set_deadline(Clock::now() + options.timeout);
  int version = schema_version(db);
  log::info("database opened", {{"database", db.masked_url()}, {"schema_version", version}});
}

constexpr Statement kReadiness{
    "store_readiness",
    "SELECT coalesce((SELECT max(version) FROM schema_migrations), 0)::int8, "
    "pg_is_in_recovery()"};

// How long readiness waits for a connection and the server's answer: /readyz must answer within
// 2 s even when every connection waits on a server that stopped answering (a hung server, a
// network partition), where a unit would take the whole --db-timeout-ms.
constexpr std::chrono::milliseconds kReadinessTimeout{1000};

}  // namespace

PostgresStore::PostgresStore(Options options, Post post)
    : options_((open_database(options), std::move(options))),
      instance_(InstanceLock::Options{.url = options_.url,
                                      .timeout = options_.timeout,
                                      .check_every = options_.instance_check_every,
                                      .renew_claims_for = options_.renew_claims_for}),
      pool_(pool_options(options_), std::move(post)) {}

PostgresStore::~PostgresStore() = default;

StoreStats PostgresStore::stats() const {
  PoolStats pool = pool_.stats();
  StoreStats stats;  // no latency histograms (SQLite only)
  stats.units = pool.units;
  stats.commits = pool.commits;
  return stats;
}

std::unique_ptr<Subscription> PostgresStore::watch_key_revocations(KeyRevokedListener listener) {
  return std::make_unique<KeyRevocationWatch>(
      KeyRevocationWatch::Options{.url = options_.url,
                                  .timeout = options_.timeout,
                                  .check_every = options_.instance_check_every},
      std::move(listener));
}

void PostgresStore::on_email_queued(std::function<void()> listener) {
  email_listener_ = std::move(listener);
}

domain::Status PostgresStore::run_write(const domain::WriteWork& work, Transaction& tx,
                                        bool& email_queued) {
  tx.claim_as(instance_);
  domain::Status status = work(tx);
  // Set on every run: a run that lost a race and was repeated counts no more.
  email_queued = status.ok() && tx.take_email_enqueued();
  return status;
}

domain::Completion PostgresStore::after_write(std::shared_ptr<bool> email_queued,
                                              domain::Completion done) {
  // The listener is copied: the completion may run on the executor after the store is gone.
  return [listener = email_listener_, email_queued = std::move(email_queued),
          done = std::move(done)](domain::Status status) {
    if (status.ok() && *email_queued && listener) listener();
    done(std::move(status));
  };
}

void PostgresStore::write(domain::WriteWork work, domain::Completion done) {
  auto email_queued = std::make_shared<bool>(false);
  pool_.run(
      Access::kReadWrite,
      [this, work = std::move(work), email_queued](Transaction& tx) {
        return run_write(work, tx, *email_queued);
      },
      after_write(email_queued, std::move(done)));
}

void PostgresStore::read(domain::ReadWork work, domain::Completion done) {
  pool_.run(
      Access::kReadOnly, [work = std::move(work)](Transaction& tx) { return work(tx); },
      std::move(done));
}

void PostgresStore::read_for(domain::Pk tenant, domain::ReadWork work, domain::Completion done) {
  pool_.run(
      Access::kReadOnly, tenant, [work = std::move(work)](Transaction& tx) { return work(tx); },
      std::move(done));
}

domain::Status PostgresStore::write_and_wait(domain::WriteWork work) {
  bool email_queued = false;
  domain::Status status = pool_.run_and_wait(
      Access::kReadWrite,
      [this, &work, &email_queued](Transaction& tx) { return run_write(work, tx, email_queued); });
  if (status.ok() && email_queued && email_listener_) email_listener_();
  return status;
}

domain::Status PostgresStore::read_and_wait(domain::ReadWork work) {
  return pool_.run_and_wait(Access::kReadOnly, [&work](Transaction& tx) { return work(tx); });
}

void PostgresStore::check_ready(domain::Completion done) {
  pool_.run(
      Access::kReadOnly, ConnectionPool::kProbes, std::min(options_.timeout, kReadinessTimeout),
      [](Transaction& tx) -> domain::Status {
        Result row = tx.connection().query(kReadiness);
        // A newer binary may have migrated the database since this one started (a rolling
        // upgrade): still ready while everything it added is compatible.
        const int latest = latest_schema_version();
        if (auto problem = schema_readiness_problem(static_cast<int>(row.int64(0, 0)), latest, [&] {
              return migrations_above(tx.connection(), latest);
            })) {
          return domain::Error{domain::ErrorCode::kUnavailable, *problem};
        }
        if (row.boolean(0, 1)) {
          return domain::Error{domain::ErrorCode::kUnavailable,
                               "the database is a standby in recovery: it cannot be written"};
        }
        return {};
      },
      std::move(done));
}

}  // namespace invited::store::postgres
