#include "store/postgres/instance_lock.hpp"

#include <random>
#include <set>
#include <vector>

#include "log/log.hpp"

namespace invited::store::postgres {
namespace {

// Ids taken before one is free: a taken id is another live instance's (or, for the moment of
// its statement, tested by another instance's claim), so a second draw nearly always succeeds.
constexpr int kDraws = 8;

constexpr Statement kTryLock{"instance_try_lock", "SELECT pg_try_advisory_lock($1)"};
constexpr Statement kPing{"instance_ping", "SELECT 1"};
// The leases of this instance's claims in hand, each for its own length, on the database's
// clock. A claim already ended or taken by another instance (claimed_by differs) is left alone.
constexpr Statement kRenew{
    "instance_renew_claims",
    "UPDATE outbox_emails e "
    "SET claimed_until = (extract(epoch FROM clock_timestamp()) * 1000)::int8 + r.lease_ms "
    "FROM unnest($1::int8[], $2::int8[]) AS r(pk, lease_ms) "
    "WHERE e.pk = r.pk AND e.claimed_by = $3 AND e.status = 0 AND e.claimed_until IS NOT NULL "
    "RETURNING e.pk"};

// A random id for a new lock: positive, never zero.
std::int64_t random_id() {
  thread_local std::mt19937_64 random{std::random_device{}() ^
                                      (static_cast<std::uint64_t>(std::random_device{}()) << 32)};
  return static_cast<std::int64_t>(random() >> 1) | 1;
}

}  // namespace

InstanceLock::InstanceLock(Options options) : options_(std::move(options)) {}

InstanceLock::~InstanceLock() {
  // Stops the thread first; its connection closes after it, which releases the lock.
  thread_ = std::jthread();
}

bool InstanceLock::held_or_wait() {
  std::unique_lock lock(mutex_);
  if (!started_) {
    started_ = true;
    thread_ = std::jthread([this](std::stop_token stop) { run(stop); });
  }
  wake_.wait_for(lock, options_.timeout, [this] { return first_attempt_done_; });
  return held_.load();
}

void InstanceLock::note_claim(domain::Pk email_pk, std::int64_t lease_ms) {
  std::lock_guard lock(mutex_);
  Clock::time_point now = Clock::now();
  claims_[email_pk] = Claim{.claimed_at = now, .renewed_at = now, .lease_ms = lease_ms};
}

void InstanceLock::note_claim_ended(domain::Pk email_pk) {
  std::lock_guard lock(mutex_);
  claims_.erase(email_pk);
}

void InstanceLock::acquire() {
  held_.store(false);
  backend_pid_.store(0);
  connection_.reset();
  auto connection =
      std::make_unique<Connection>(Connection::Options{.url = options_.url,
                                                       .statement_timeout = options_.timeout,
                                                       .application_name = "invited instance lock"},
                                   Clock::now() + options_.timeout);
  connection->set_deadline(Clock::now() + options_.timeout);
  for (int draw = 0; draw < kDraws; ++draw) {
    std::int64_t id = random_id();
    if (!connection->query(kTryLock, Params().add(id)).boolean(0, 0)) continue;
    id_.store(id);
    backend_pid_.store(connection->backend_pid());
    connection_ = std::move(connection);
    held_.store(true);
    log::info("instance lock taken: this instance claims outbox emails",
              {{"instance", id}, {"database", connection_->masked_url()}});
    return;
  }
  throw PgError(FailureKind::kInternal, "", "no free instance id after several draws");
}

void InstanceLock::renew_claims() {
  std::vector<std::int64_t> pks;
  std::vector<std::int64_t> leases;
  const Clock::time_point now = Clock::now();
  {
    std::lock_guard lock(mutex_);
    for (auto it = claims_.begin(); it != claims_.end();) {
      Claim& claim = it->second;
      if (now - claim.claimed_at >= options_.renew_claims_for) {
        // A send that outlived every timeout: let the lease run out.
        log::warn("outbox claim held too long; its lease is no longer renewed",
                  {{"email_pk", it->first}});
        it = claims_.erase(it);
        continue;
      }
      if (now - claim.renewed_at >= std::chrono::milliseconds(claim.lease_ms / 3)) {
        pks.push_back(it->first);
        leases.push_back(claim.lease_ms);
        claim.renewed_at = now;
      }
      ++it;
    }
  }
  if (pks.empty()) {
    connection_->query(kPing);
    return;
  }
  Result renewed = connection_->query(kRenew, Params().add(pks).add(leases).add(id_.load()));
  // A claim not renewed is no longer this instance's (its outcome was recorded, its unit was
  // rolled back and run again, or it was taken after this instance lost its lock): forget it.
  std::set<domain::Pk> kept;
  for (int row = 0; row < renewed.rows(); ++row) kept.insert(renewed.int64(row, 0));
  std::lock_guard lock(mutex_);
  for (domain::Pk pk : pks) {
    auto it = claims_.find(pk);
    // (Unless claimed again since the renewal began.)
    if (it != claims_.end() && !kept.contains(pk) && it->second.claimed_at <= now) {
      claims_.erase(it);
    }
  }
}

void InstanceLock::run(std::stop_token stop) {
  bool failing = false;
  while (!stop.stop_requested()) {
    try {
      if (!connection_ || !connection_->ok()) {
        acquire();
      } else {
        connection_->set_deadline(Clock::now() + options_.timeout);
        renew_claims();
      }
      failing = false;
    } catch (const std::exception& error) {
      // The session, and with it the lock, is gone (or was never had): claiming pauses until
      // the next attempt takes a lock again. (Any other failure is handled the same way: this
      // thread must not end the process.)
      bool was_held = held_.exchange(false);
      backend_pid_.store(0);
      connection_.reset();
      if (was_held || !failing) {
        log::warn("instance lock not held: this instance claims no outbox email until it is",
                  {{"error", error.what()}, {"retry_in_ms", options_.check_every.count()}});
      }
      failing = true;
    }
    std::unique_lock lock(mutex_);
    if (!first_attempt_done_) {
      first_attempt_done_ = true;
      wake_.notify_all();
    }
    wake_.wait_for(lock, stop, options_.check_every, [] { return false; });
  }
  connection_.reset();
  held_.store(false);
}

}  // namespace invited::store::postgres
