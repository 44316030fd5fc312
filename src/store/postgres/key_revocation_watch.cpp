#include "store/postgres/key_revocation_watch.hpp"

#include <algorithm>
#include <charconv>

#include "log/log.hpp"

namespace invited::store::postgres {
namespace {

// How long one wait for notifications lasts at most: the thread looks at its stop token this
// often, so destroying the watch never waits long.
constexpr std::chrono::milliseconds kWaitSlice{200};

constexpr Statement kPing{"key_revocations_ping", "SELECT 1"};

std::optional<domain::Pk> key_pk_of(const std::string& payload) {
  domain::Pk pk = 0;
  auto [end, error] = std::from_chars(payload.data(), payload.data() + payload.size(), pk);
  if (error != std::errc() || end != payload.data() + payload.size()) return std::nullopt;
  return pk;
}

}  // namespace

KeyRevocationWatch::KeyRevocationWatch(Options options, KeyRevokedListener listener)
    : options_(std::move(options)), listener_(std::move(listener)) {
  thread_ = std::jthread([this](std::stop_token stop) { run(stop); });
}

KeyRevocationWatch::~KeyRevocationWatch() {
  // Stops the thread first: it is the only user of the connection and of the listener.
  thread_ = std::jthread();
}

void KeyRevocationWatch::listen() {
  connection_.reset();
  auto connection = std::make_unique<Connection>(
      Connection::Options{.url = options_.url,
                          .statement_timeout = options_.timeout,
                          .application_name = "invited key revocations"},
      Clock::now() + options_.timeout);
  connection->set_deadline(Clock::now() + options_.timeout);
  connection->exec(std::string("LISTEN ") + kKeyRevokedChannel);
  connection_ = std::move(connection);
}

void KeyRevocationWatch::hear(std::stop_token stop) {
  const Clock::time_point check_at = Clock::now() + options_.check_every;
  while (!stop.stop_requested()) {
    const Clock::time_point now = Clock::now();
    if (now >= check_at) break;
    auto notifications = connection_->wait_for_notifications(std::min(check_at, now + kWaitSlice));
    for (const auto& notification : notifications) {
      if (notification.channel != kKeyRevokedChannel) continue;
      if (auto key_pk = key_pk_of(notification.payload)) listener_(*key_pk);
    }
  }
  // A round trip: a connection that died without a word (a partition) fails here, and any
  // notification that came with the answer is heard on the next wait.
  connection_->set_deadline(Clock::now() + options_.timeout);
  connection_->query(kPing);
  connection_->set_deadline(Clock::time_point::max());
}

void KeyRevocationWatch::run(std::stop_token stop) {
  bool failing = false;
  while (!stop.stop_requested()) {
    try {
      if (!connection_ || !connection_->ok()) {
        listen();
        // Whatever was revoked before LISTEN took effect went unheard (while the connection
        // was down, or before the first one): forget every key once.
        listener_(std::nullopt);
        if (failing) log::info("listening for key revocations again", {});
        failing = false;
      }
      hear(stop);
      continue;
    } catch (const std::exception& error) {
      // A PgError (the connection lost, a deadline passed) or anything else (memory, a thread
      // resource, the listener): this thread must not end the process; the next round listens
      // afresh and forgets every cached key.
      connection_.reset();
      if (!failing) {
        log::warn(
            "not listening for key revocations: keys revoked by other instances are forgotten "
            "when their cache entry expires",
            {{"error", error.what()}, {"retry_in_ms", options_.check_every.count()}});
      }
      failing = true;
    }
    std::mutex mutex;
    std::condition_variable_any wake;
    std::unique_lock lock(mutex);
    wake.wait_for(lock, stop, options_.check_every, [] { return false; });
  }
  connection_.reset();
}

}  // namespace invited::store::postgres
