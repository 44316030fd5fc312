#include "webhooks/delivery_worker.hpp"

#include <sodium.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <exception>
#include <string>

#include "domain/clock.hpp"
#include "domain/webhook_endpoints.hpp"
#include "domain/webhooks.hpp"
#include "log/log.hpp"
#include "webhooks/http_post.hpp"

namespace invited::webhooks {
namespace {

constexpr std::int64_t kFirstStoreRetryMs = 100;
constexpr std::int64_t kLastStoreRetryMs = 5000;

// The real clock, for holds on a store one process serves: the service clock may be moved by
// tests (and a hold must not run out because of that).
std::int64_t real_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string rfc3339(domain::UnixSeconds seconds) {
  std::time_t time = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&time, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

// The Standard Webhooks payload: {"type", "timestamp", "data"}. `data` is the event's own JSON
// text; the type is one of the fixed event types (no escaping needed).
std::string payload(const domain::ClaimedWebhook& claimed) {
  return "{\"type\":\"" + claimed.event_type + "\",\"timestamp\":\"" +
         rfc3339(claimed.occurred_at) + "\",\"data\":" + claimed.event_data + "}";
}

}  // namespace

DeliveryWorker::DeliveryWorker(domain::Store& store, DeliveryOptions options)
    : store_(store), options_(options) {
  std::int64_t id = 0;
  randombytes_buf(&id, sizeof id);
  claimant_ = id & 0x7fffffffffffffffLL;
}

DeliveryWorker::~DeliveryWorker() { stop(); }

void DeliveryWorker::start() {
  const int senders = std::max(1, options_.concurrency);
  for (int i = 0; i < senders; ++i) {
    senders_.emplace_back(
        [this, stop = stop_source_.get_token(), first = i == 0] { run(stop, first); });
  }
}

void DeliveryWorker::stop() {
  stop_source_.request_stop();
  wake_.notify_all();
  for (auto& sender : senders_) {
    if (sender.joinable()) sender.join();
  }
  senders_.clear();
}

void DeliveryWorker::notify() {
  {
    std::lock_guard lock(mutex_);
    notified_ = true;
  }
  wake_.notify_one();
}

DeliveryStats DeliveryWorker::stats() const {
  return {delivered_.load(), retried_.load(), failed_.load()};
}

void DeliveryWorker::wait(std::stop_token stop, std::optional<std::int64_t> until_ms) {
  std::unique_lock lock(mutex_);
  auto notified = [this] { return notified_; };
  if (polling_) {
    wake_.wait(lock, stop, notified);
  } else {
    std::int64_t delay = options_.poll_ms;
    if (until_ms) delay = std::clamp<std::int64_t>(*until_ms - domain::now().unix_ms, 0, delay);
    polling_ = true;
    wake_.wait_for(lock, stop, std::chrono::milliseconds(delay), notified);
    polling_ = false;
  }
  notified_ = false;
}

void DeliveryWorker::run(std::stop_token stop, bool releases_claims) {
  // Background work: requests come first under load.
  setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 10);
  bool release = releases_claims && options_.release_claims_on_start;
  std::optional<domain::WebhookAttemptRecord> unrecorded;
  std::int64_t store_retry_ms = 0;
  while (!stop.stop_requested() || unrecorded) {
    // Idle and nothing due: one read, no write unit.
    if (!unrecorded && !release) {
      std::optional<std::int64_t> due;
      auto looked = store_.read_and_wait([&](domain::ReadTx& tx) -> domain::Status {
        due = tx.next_webhook_due_ms();
        return {};
      });
      if (looked && (!due || *due > domain::now().unix_ms)) {
        wait(stop, due);
        continue;
      }
    }
    std::optional<domain::ClaimedWebhook> claimed;
    const bool claim = !stop.stop_requested();
    auto status = store_.write_and_wait([&](domain::WriteTx& tx) -> domain::Status {
      claimed.reset();
      if (release) tx.release_webhook_claims();
      if (unrecorded) domain::record_webhook_outcome(tx, *unrecorded);
      if (claim) {
        claimed = tx.claim_webhook_delivery(domain::now().unix_ms, real_now_ms(), options_.lease_ms,
                                            claimant_);
      }
      return {};
    });
    if (!status) {
      if (stop.stop_requested()) return;  // the hold runs out; the delivery is made again
      store_retry_ms = std::clamp(store_retry_ms * 2, kFirstStoreRetryMs, kLastStoreRetryMs);
      log::warn("webhook delivery unit failed",
                {{"retry_in_ms", store_retry_ms}, {"error", status.error().message}});
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, stop, std::chrono::milliseconds(store_retry_ms), [] { return false; });
      continue;
    }
    store_retry_ms = 0;
    release = false;
    unrecorded.reset();
    if (!claimed) {
      if (!claim) return;
      wait(stop, std::nullopt);
      continue;
    }
    notify();  // there may be more: bring another sender up
    unrecorded = deliver(*claimed, stop);
    if (!unrecorded) return;  // aborted at shutdown: the hold runs out, delivered again later
  }
}

std::optional<domain::WebhookAttemptRecord> DeliveryWorker::deliver(
    const domain::ClaimedWebhook& claimed, std::stop_token stop) {
  const std::string id = claimed.event_id.str();
  const std::int64_t timestamp = domain::now().seconds();
  const std::string body = payload(claimed);
  const std::vector<std::string> headers{
      "content-type: application/json",
      "user-agent: invited-webhooks",
      "webhook-id: " + id,
      "webhook-timestamp: " + std::to_string(timestamp),
      "webhook-signature: " + domain::webhook_signature_header(claimed.endpoint, id, timestamp,
                                                               body, domain::now().unix_ms),
  };
  PostResult result;
  try {
    result = post_webhook(
        claimed.endpoint.url, headers, body,
        {.timeout_ms = options_.timeout_ms, .allow_insecure = options_.allow_insecure}, stop);
  } catch (const std::exception& error) {
    result.error = std::string("could not send: ") + error.what();
  }
  if (stop.stop_requested() && !result.status_code) return std::nullopt;
  const std::int64_t now_ms = domain::now().unix_ms;
  domain::WebhookAttemptRecord record{
      .id = domain::Uuid::v7(now_ms),
      .delivery_pk = claimed.delivery_pk,
      .endpoint_pk = claimed.endpoint.pk,
      .org_pk = claimed.endpoint.org_pk,
      .endpoint_id = claimed.endpoint.id,
      .event_id = claimed.event_id,
      .event_type = claimed.event_type,
      .attempt = claimed.attempt,
      .status_code = result.status_code,
      .error = result.succeeded() ? std::nullopt : std::optional(result.error),
      .duration_ms = result.duration_ms,
      .now_ms = now_ms,
      .succeeded = result.succeeded(),
      .next_attempt_ms = std::nullopt,
      .disable_endpoint = false,
  };
  if (record.succeeded) {
    delivered_.fetch_add(1, std::memory_order_relaxed);
    log::info("webhook delivered", {{"endpoint_id", claimed.endpoint.id.str()},
                                    {"webhook_id", id},
                                    {"attempt", claimed.attempt},
                                    {"status", *result.status_code}});
    return record;
  }
  if (auto delay = domain::webhook_retry_delay_ms(claimed.attempt)) {
    record.next_attempt_ms = now_ms + *delay;
    retried_.fetch_add(1, std::memory_order_relaxed);
    log::info("webhook attempt failed; retrying", {{"endpoint_id", claimed.endpoint.id.str()},
                                                   {"webhook_id", id},
                                                   {"attempt", claimed.attempt},
                                                   {"retry_in_ms", *delay},
                                                   {"error", result.error}});
    return record;
  }
  record.disable_endpoint = domain::webhook_endpoint_should_disable(
      claimed.last_success_ms, claimed.endpoint.created_at, now_ms);
  failed_.fetch_add(1, std::memory_order_relaxed);
  log::warn("webhook delivery failed", {{"endpoint_id", claimed.endpoint.id.str()},
                                        {"webhook_id", id},
                                        {"attempt", claimed.attempt},
                                        {"endpoint_disabled", record.disable_endpoint},
                                        {"error", result.error}});
  return record;
}

}  // namespace invited::webhooks
