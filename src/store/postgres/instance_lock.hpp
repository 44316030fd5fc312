#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>

#include "domain/types.hpp"
#include "store/postgres/connection.hpp"

namespace invited::store::postgres {

// This process among the instances that serve one database, and the proof that it is alive
// (docs/postgres.md, "Outbox claims across instances").
//
// An instance is a random 63-bit id. Its lock is a session advisory lock on that id
// (pg_try_advisory_lock), held on a connection of its own, outside the pool, for as long as the
// process lives. When the process dies, however it dies, the kernel closes that connection and
// PostgreSQL drops the lock at once; so "the lock on id X is held" means "instance X is alive".
// The outbox claim (outbox.cpp) writes the id into claimed_by and tests it:
//   - another instance's claim is free at once when its lock is not held (a shared transaction
//     lock on its id is granted: pg_try_advisory_xact_lock_shared, which never conflicts with
//     other such tests, only with the owner's exclusive session lock);
//   - this instance claims nothing while its own lock is not held (the same test on its own id
//     succeeds), because another instance may be taking its claims by then.
// The lease (claimed_until) is the backstop for an instance that hangs while its connection
// stays open; this object renews the leases of the claims in hand (note_claim) while a send may
// still be running, on the lock's connection, so a renewal proves the lock is still held.
//
// A background thread checks the connection every `check_every`. When it is lost, the lock
// is gone with it: the thread reconnects and takes a lock on a new id (the old id's claims are
// free by then for whoever claims first, this instance included). The thread starts with the
// first call to held_or_wait(), so a store that never claims never opens this connection.
// Thread-safe.
class InstanceLock {
 public:
  struct Options {
    std::string url;  // libpq URI; its password is never logged
    // Bound on connecting and on each statement of the lock's connection.
    std::chrono::milliseconds timeout{5000};
    // How often the connection is checked (and leases due for renewal are renewed).
    std::chrono::milliseconds check_every{1000};
    // A claim's lease is renewed while it is younger than this: longer than any send may take
    // (the SMTP transport gives up after 60 s), short enough that a worker stuck past every
    // timeout lets its email go. Zero: never renewed.
    std::chrono::milliseconds renew_claims_for{120000};
  };

  explicit InstanceLock(Options options);
  ~InstanceLock();
  InstanceLock(const InstanceLock&) = delete;
  InstanceLock& operator=(const InstanceLock&) = delete;

  // The id claims are made under: that of the lock now held, or of the last one.
  std::int64_t id() const { return id_.load(); }
  // Whether the lock is held, as far as this process knows (the claim checks the database
  // itself). Starts the background thread on the first call, and then waits (at most the
  // timeout) for its first attempt to take the lock.
  bool held_or_wait();
  // The server process of the lock's connection (0 when none), for tests and logs.
  int backend_pid() const { return backend_pid_.load(); }

  // A claim of email `email_pk` committed under id(), leased for `lease_ms`: its lease is renewed
  // every lease_ms / 3 until note_claim_ended or renew_claims_for.
  void note_claim(domain::Pk email_pk, std::int64_t lease_ms);
  void note_claim_ended(domain::Pk email_pk);

 private:
  struct Claim {
    Clock::time_point claimed_at;
    Clock::time_point renewed_at;
    std::int64_t lease_ms;
  };

  void run(std::stop_token stop);
  // Connects and takes the lock on a fresh id; throws PgError when the server cannot be reached.
  void acquire();
  // Renews the leases due for renewal; drops the claims too old to renew.
  void renew_claims();

  Options options_;
  std::unique_ptr<Connection> connection_;  // used by the thread only
  std::atomic<std::int64_t> id_{0};
  std::atomic<bool> held_{false};
  std::atomic<int> backend_pid_{0};

  std::mutex mutex_;
  std::condition_variable_any wake_;
  bool started_ = false;
  bool first_attempt_done_ = false;
  std::map<domain::Pk, Claim> claims_;
  std::jthread thread_;
};

}  // namespace invited::store::postgres
