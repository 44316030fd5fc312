#include "app/event_sweeper.hpp"

#include "domain/event_housekeeping.hpp"
#include "log/log.hpp"

namespace invited::app {
namespace {

constexpr int kPassRows = 500;

}  // namespace

EventSweeper::EventSweeper(domain::Store& store, Options options)
    : store_(store), options_(options) {}

EventSweeper::~EventSweeper() { stop(); }

void EventSweeper::start() {
  thread_ = std::thread([this] { run(); });
}

void EventSweeper::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

template <typename Pass>
bool EventSweeper::drain(const char* what, Pass pass) {
  for (;;) {
    int handled = 0;
    domain::Status status = store_.write_and_wait([&](domain::WriteTx& tx) -> domain::Status {
      handled = pass(tx);
      return {};
    });
    if (!status) {
      log::warn("event log housekeeping failed; trying again later",
                {{"what", what}, {"error", status.error().message}});
      return false;
    }
    if (handled < kPassRows) return true;
    std::lock_guard lock(mutex_);
    if (stopping_) return false;
  }
}

void EventSweeper::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    const bool swept = drain("expiry sweep", [](domain::WriteTx& tx) {
      return domain::record_expired_invites(tx, domain::now(), kPassRows);
    });
    const bool pruned = drain("event retention", [this](domain::WriteTx& tx) {
      return domain::prune_events(tx, domain::now(), options_.retention_days, kPassRows);
    });
    if (swept && pruned) passes_.fetch_add(1, std::memory_order_relaxed);
    lock.lock();
    wake_.wait_for(lock, options_.sweep_every, [this] { return stopping_; });
  }
}

}  // namespace invited::app
