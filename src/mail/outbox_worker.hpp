#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "domain/clock.hpp"
#include "domain/store.hpp"
#include "mail/transport.hpp"

namespace invited::mail {

struct OutboxOptions {
  std::string public_url;    // accept links: <public_url>/invites/accept?token=...
  std::string from;          // From header, e.g. `invited <no-reply@example.com>`
  std::string from_address;  // bare address for the envelope
  std::string message_id_host;
  int max_attempts = 8;
  double retry_seconds = 30;  // delay before the 2nd attempt; doubles after each failure
  int batch = 32;             // emails fetched per pass
};

struct OutboxStats {
  std::uint64_t sent = 0;
  std::uint64_t retried = 0;
  std::uint64_t failed = 0;
};

// Delivers the outbox on its own thread. It wakes when notify() says mail was queued and when
// the next retry falls due; otherwise it sleeps. Each pass takes up to `batch` due emails,
// renders each from the store (organization, pending invites of its batch), sends it through
// the transport, and then writes every outcome back in one unit of work: sent, retried later
// with exponential backoff, or failed after max_attempts (the batch's invites then show
// delivery `failed`). Because rows are only marked after the transport returns, a crash can at
// worst send a message twice, and its Message-ID stays the same so the duplicate is
// recognisable; nothing queued is ever lost.
class OutboxWorker {
 public:
  OutboxWorker(domain::Store& store, Transport& transport, OutboxOptions options);
  ~OutboxWorker();

  void start();
  // Finishes the message in hand and stops. Safe to call twice.
  void stop();
  // Tells the worker that new mail was queued. Thread-safe and cheap.
  void notify();

  OutboxStats stats() const;

 private:
  void run();
  // What became of one email; a pass records all of its outcomes in one unit of work.
  struct Outcome {
    enum class Kind { kSent, kRetry, kFailed, kCancelled } kind;
    domain::Pk email_pk;
    int attempts;
    domain::Instant at;
    std::int64_t next_attempt_ms;  // kRetry
    std::string error;             // kRetry, kFailed
  };

  // Delivers due emails; returns how many it handled.
  std::size_t deliver_due();
  Outcome deliver(const domain::OutboxEmail& email, const domain::Invitation& invitation);
  static void record(domain::WriteTx& tx, const Outcome& outcome);

  domain::Store& store_;
  Transport& transport_;
  OutboxOptions options_;

  std::mutex mutex_;
  std::condition_variable wake_;
  bool notified_ = false;
  bool stopping_ = false;
  std::thread thread_;

  std::atomic<std::uint64_t> sent_{0};
  std::atomic<std::uint64_t> retried_{0};
  std::atomic<std::uint64_t> failed_{0};
};

}  // namespace invited::mail
