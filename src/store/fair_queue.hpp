#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

namespace invited::store {

// Units of work queued per tenant, handed to a pool of workers in turns: each pop takes the
// next unit of the next tenant in round-robin order, so a tenant with one unit queued waits for
// at most one unit of every other tenant, however many they queued. A tenant also runs at most
// `per_tenant_limit` units at once (the pool keeps workers for the others) — except kShared,
// the lane of reads made for no tenant in particular (key lookups, single rows), which takes
// turns like a tenant but is not limited.
//
// Not thread-safe: the owner guards it with its own mutex.
template <typename Unit>
class FairQueue {
 public:
  using Tenant = std::int64_t;
  static constexpr Tenant kShared = -1;

  explicit FairQueue(std::size_t per_tenant_limit) : limit_(per_tenant_limit) {}

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  void push(Tenant tenant, Unit unit) {
    auto& lane = lanes_[tenant];
    if (lane.empty()) turns_.push_back(tenant);
    lane.push_back(std::move(unit));
    ++size_;
  }

  // The next unit a free worker may run, or nullopt when every queued unit belongs to a tenant
  // at its limit. The caller reports the unit's end with finished().
  std::optional<std::pair<Tenant, Unit>> pop() {
    for (std::size_t i = 0; i < turns_.size(); ++i) {
      Tenant tenant = turns_[i];
      if (tenant != kShared && running_[tenant] >= limit_) continue;
      auto lane = lanes_.find(tenant);
      std::pair<Tenant, Unit> next{tenant, std::move(lane->second.front())};
      lane->second.pop_front();
      --size_;
      turns_.erase(turns_.begin() + static_cast<std::ptrdiff_t>(i));
      if (lane->second.empty()) {
        lanes_.erase(lane);
      } else {
        turns_.push_back(tenant);  // its next unit waits for everyone else's turn
      }
      ++running_[tenant];
      return next;
    }
    return std::nullopt;
  }

  // Whether pop() would hand out a unit now.
  bool has_runnable() const {
    for (Tenant tenant : turns_) {
      if (tenant == kShared) return true;
      auto it = running_.find(tenant);
      if (it == running_.end() || it->second < limit_) return true;
    }
    return false;
  }

  // The smallest `key(unit)` among the units at the front of each tenant's lane: with units
  // pushed in the order of `key` (e.g. their deadlines, when every unit has the same timeout),
  // the smallest of the whole queue. Nullopt when empty.
  template <typename Key>
  auto min_front(Key key) const -> std::optional<decltype(key(std::declval<const Unit&>()))> {
    std::optional<decltype(key(std::declval<const Unit&>()))> least;
    for (const auto& [tenant, lane] : lanes_) {
      auto value = key(lane.front());
      if (!least || value < *least) least = value;
    }
    return least;
  }

  // Removes and returns, from the front of each lane, the units for which `expired(unit)` holds
  // (for units pushed in deadline order: every unit whose deadline has passed). They never
  // count as running.
  template <typename Expired>
  std::vector<Unit> take_expired(Expired expired) {
    std::vector<Unit> taken;
    for (auto lane = lanes_.begin(); lane != lanes_.end();) {
      while (!lane->second.empty() && expired(lane->second.front())) {
        taken.push_back(std::move(lane->second.front()));
        lane->second.pop_front();
        --size_;
      }
      if (lane->second.empty()) {
        std::erase(turns_, lane->first);
        lane = lanes_.erase(lane);
      } else {
        ++lane;
      }
    }
    return taken;
  }

  void finished(Tenant tenant) {
    auto it = running_.find(tenant);
    if (it != running_.end() && --it->second == 0) running_.erase(it);
  }

 private:
  std::size_t limit_;
  std::size_t size_ = 0;
  std::unordered_map<Tenant, std::deque<Unit>> lanes_;
  std::deque<Tenant> turns_;  // tenants with queued units, next turn first
  std::unordered_map<Tenant, std::size_t> running_;
};

}  // namespace invited::store
