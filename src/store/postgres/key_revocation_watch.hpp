#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>

#include "store/postgres/connection.hpp"
#include "store/service_store.hpp"

namespace invited::store::postgres {

// The channel revocations are notified on: revoke_api_key (api_keys.cpp) notifies the key's row
// key as its payload, in the revoking transaction, so PostgreSQL delivers it when (and only if)
// the revocation commits.
inline constexpr const char* kKeyRevokedChannel = "invited_api_key_revoked";

// Hears revocations of API keys committed by any session on the database (LISTEN on
// kKeyRevokedChannel) and calls the listener with each key's row key, on a thread of its own
// with a connection of its own, outside the pool.
//
// The connection is checked every `check_every` (a round trip, so a connection that died
// silently is noticed); when it is lost (the server restarted, the backend was terminated) the
// thread reconnects, every `check_every` until it succeeds, and then calls listener(nullopt):
// whatever was revoked meanwhile went unheard, so the cache forgets every key (it does so after
// the first LISTEN too, for what was revoked before it). Destroying the
// watch stops the thread and closes its connection: at once while it waits, and against a
// server that stopped answering within one connect or round trip (`timeout`) at most, plus the
// notification wait's `check_every`. Thread-safe.
class KeyRevocationWatch final : public Subscription {
 public:
  struct Options {
    std::string url;  // libpq URI; its password is never logged
    // Bound on connecting and on each statement of the watch's connection.
    std::chrono::milliseconds timeout{5000};
    std::chrono::milliseconds check_every{1000};
  };

  KeyRevocationWatch(Options options, KeyRevokedListener listener);
  ~KeyRevocationWatch() override;
  KeyRevocationWatch(const KeyRevocationWatch&) = delete;
  KeyRevocationWatch& operator=(const KeyRevocationWatch&) = delete;

 private:
  void run(std::stop_token stop);
  // Connects and listens; throws PgError when the server cannot be reached.
  void listen();
  // Waits up to `check_every` for notifications and passes them on; then checks the connection.
  void hear(std::stop_token stop);

  Options options_;
  KeyRevokedListener listener_;
  std::unique_ptr<Connection> connection_;  // used by the thread only
  std::jthread thread_;
};

}  // namespace invited::store::postgres
