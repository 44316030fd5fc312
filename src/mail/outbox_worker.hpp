#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>

#include "domain/outbox.hpp"
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
  // This worker is the store's only one (store::ServeClaim::sole_server), so a claim found
  // at start was held by a process that is gone: release it at once instead of waiting for its
  // lease to run out. A store shared by several workers leaves this off.
  bool release_claims_on_start = false;
};

struct OutboxStats {
  std::uint64_t sent = 0;
  std::uint64_t retried = 0;
  std::uint64_t failed = 0;
};

// Delivers the outbox on its own thread, one email at a time (domain/outbox.hpp): one unit of
// work records the previous email's outcome and claims the next due email, minting its token;
// then the message is rendered from what the claim read and handed to the transport. The
// outcome is kept in memory until a unit records it; while that fails (database locked, disk
// full) the worker retries with backoff (0.1 s doubling to 5 s) and sends nothing. So a crash
// re-sends at most the message in hand, with the same Message-ID, and nothing queued is lost.
//
// It sleeps until notify() says mail was queued or the next retry falls due. Failed sends are
// retried with exponential backoff; after max_attempts (or a permanent refusal) the batch's
// invites show delivery `failed`.
class OutboxWorker {
 public:
  OutboxWorker(domain::Store& store, Transport& transport, OutboxOptions options);
  ~OutboxWorker();

  void start();
  // Stops and waits for the thread. A send in hand is aborted (within about a second) and its
  // claim given back, uncounted, so the email goes out after the next start; a finished send's
  // outcome is recorded first. Returns within a few seconds even when the database cannot be
  // written (then the email in hand is claimed again at the next start). Safe to call twice.
  void stop();
  // Tells the worker that new mail was queued. Thread-safe and cheap.
  void notify();

  OutboxStats stats() const;

 private:
  // What the worker's unit of work found.
  struct Step {
    std::optional<domain::ClaimedEmail> claimed;
    std::optional<std::int64_t> next_due_ms;  // when nothing was claimed
    int released_claims = 0;
  };

  void run(std::stop_token stop);
  // One unit: releases stale claims (first unit only), records `outcome`, and claims the next
  // due email when `claim`.
  domain::Status record_and_claim(const std::optional<domain::DeliveryOutcome>& outcome,
                                  bool release_claims, bool claim, Step& step);
  domain::DeliveryOutcome deliver(const domain::ClaimedEmail& claimed, std::stop_token stop);
  // Sleeps until notify(), `until_ms` (Unix milliseconds; forever without it) or `stop`.
  void wait_for_mail(std::stop_token stop, std::optional<std::int64_t> until_ms);
  // Sleeps `delay_ms` unless `stop` comes first; notify() does not end it.
  void pause(std::stop_token stop, std::int64_t delay_ms);

  domain::Store& store_;
  Transport& transport_;
  OutboxOptions options_;

  std::mutex mutex_;
  std::condition_variable_any wake_;
  bool notified_ = false;
  std::stop_source stop_source_;
  std::thread thread_;

  std::atomic<std::uint64_t> sent_{0};
  std::atomic<std::uint64_t> retried_{0};
  std::atomic<std::uint64_t> failed_{0};
};

}  // namespace invited::mail
