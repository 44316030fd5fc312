#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <stop_token>
#include <thread>
#include <vector>

#include "domain/store.hpp"
#include "domain/webhook_store.hpp"

namespace invited::webhooks {

struct DeliveryOptions {
  int concurrency = 8;          // deliveries in flight at once, each to another endpoint
  bool allow_insecure = false;  // --webhook-allow-insecure
  std::int64_t timeout_ms = 10'000;
  // How long a claim holds its endpoint: past the timeout, so a live sender never loses it.
  std::int64_t lease_ms = 60'000;
  // How often the idle senders look for due deliveries (those made by other instances, or due
  // by the clock): one of them reads (a read unit, never a write, when nothing is due), the
  // others sleep until woken.
  std::int64_t poll_ms = 1'000;
  // This worker is the store's only one (store::ServeClaim::sole_server): holds found at start
  // belong to a process that is gone and are released.
  bool release_claims_on_start = false;
};

struct DeliveryStats {
  std::uint64_t delivered = 0;
  std::uint64_t retried = 0;
  std::uint64_t failed = 0;
};

// Delivers webhooks (SPEC §9, Standard Webhooks) with `concurrency` sender threads. A sender
// claims the delivery due longest whose endpoint nobody holds (domain/webhook_store.hpp; one
// delivery in flight per endpoint, across every instance of a shared database), POSTs it
// (http_post.hpp: 10 s, no redirects, non-public addresses refused at connect time) and
// records the outcome in one unit: success, a retry on the schedule of
// domain::webhook_retry_delay_ms, or failure, which disables an endpoint without a success for
// 5 days. Due times are on the service's clock (domain::now); holds on the database's clock.
// A sender keeps an outcome it could not record and claims nothing until it is recorded; a
// crash repeats at most the deliveries in hand (same webhook-id), once their holds run out.
class DeliveryWorker {
 public:
  DeliveryWorker(domain::Store& store, DeliveryOptions options);
  ~DeliveryWorker();

  void start();
  // Stops and waits for the senders; a POST in hand is aborted and delivered again later.
  void stop();
  // A delivery may be due now (a manual retry): wakes an idle sender. Thread-safe.
  void notify();

  DeliveryStats stats() const;

 private:
  void run(std::stop_token stop, bool releases_claims);
  std::optional<domain::WebhookAttemptRecord> deliver(const domain::ClaimedWebhook& claimed,
                                                      std::stop_token stop);
  // Sleeps until notify() or `stop`; the first idle sender (the poller) also wakes at `until_ms`
  // (service clock, capped at poll_ms), so that one read per poll_ms watches for due deliveries
  // however many senders are idle.
  void wait(std::stop_token stop, std::optional<std::int64_t> until_ms);

  domain::Store& store_;
  DeliveryOptions options_;
  std::int64_t claimant_;  // this process's id in the holds it takes

  std::mutex mutex_;
  std::condition_variable_any wake_;
  bool notified_ = false;
  bool polling_ = false;  // an idle sender watches the clock (wait())
  std::stop_source stop_source_;
  std::vector<std::thread> senders_;

  std::atomic<std::uint64_t> delivered_{0};
  std::atomic<std::uint64_t> retried_{0};
  std::atomic<std::uint64_t> failed_{0};
};

}  // namespace invited::webhooks
