#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include "domain/store.hpp"

namespace invited::app {

// The event log's background thread (domain/event_housekeeping.hpp): every `sweep_every` it
// records invitation.expired for invites whose expiry has passed (so an expiry is recorded within
// about that long of it: 5 s by default, well within the 60 s the contract allows), and prunes
// events older than `retention_days`. Each pass is one write unit of at most 500 rows (a prune
// pass looks at the 500 oldest events only, so an idle pass costs the same whatever the log's
// length), repeated at once while a pass comes back full. Times come from domain::now().
// A failed unit (the store unavailable) is tried again at the next pass. On PostgreSQL every
// instance sweeps; the units' serializable claims record each expiry once.
class EventSweeper {
 public:
  struct Options {
    int retention_days = 90;
    std::chrono::milliseconds sweep_every{5000};
  };
  EventSweeper(domain::Store& store, Options options);
  ~EventSweeper();
  EventSweeper(const EventSweeper&) = delete;
  EventSweeper& operator=(const EventSweeper&) = delete;

  // Starts the thread; stop() (or the destructor) ends it after the pass in hand.
  void start();
  void stop();
  // Passes completed in full (the expiry sweep, then retention, each unit committed), for
  // /metrics: a pass whose unit failed, or that a stop cut short, is not counted.
  std::uint64_t passes() const { return passes_.load(std::memory_order_relaxed); }

 private:
  void run();
  // Runs `pass` (a unit returning how many rows it handled) until it handles fewer than a full
  // pass (true) or a unit fails or the sweeper stops (false).
  template <typename Pass>
  bool drain(const char* what, Pass pass);

  domain::Store& store_;
  Options options_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::atomic<std::uint64_t> passes_{0};
  std::thread thread_;
};

}  // namespace invited::app
