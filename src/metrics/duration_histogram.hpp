#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace invited::metrics {

// A distribution of durations, counted in fixed buckets (the shape of a Prometheus histogram).
// Every duration histogram of the service (store units, HTTP requests) has these buckets.
struct DurationCounts {
  // Upper bounds of the buckets in milliseconds; a last bucket holds everything above. Fine
  // below 50 ms, where reads and durable writes fall; coarse up to the 5 s that a store unit
  // may take (--db-timeout-ms) and a request may wait for it.
  static constexpr std::array<double, 16> kBoundsMs = {0.5, 1,  2,   5,   10,  15,   20,   25,
                                                       35,  50, 100, 250, 500, 1000, 2500, 5000};

  std::array<std::uint64_t, kBoundsMs.size() + 1> buckets{};  // per bucket, not cumulative
  std::uint64_t count = 0;
  double sum_ms = 0;
  double max_ms = 0;
};

// Records durations from any thread (relaxed atomics: a snapshot taken while another thread
// records may count a duration in `count` and not yet in its bucket). Monotonic.
class DurationHistogram {
 public:
  void record(std::chrono::nanoseconds duration) {
    std::int64_t us = std::chrono::duration_cast<std::chrono::microseconds>(duration).count();
    double ms = static_cast<double>(us) / 1000.0;
    std::size_t bucket = 0;
    while (bucket < DurationCounts::kBoundsMs.size() && ms > DurationCounts::kBoundsMs[bucket]) {
      ++bucket;
    }
    buckets_[bucket].fetch_add(1, std::memory_order_relaxed);
    count_.fetch_add(1, std::memory_order_relaxed);
    sum_us_.fetch_add(us, std::memory_order_relaxed);
    std::int64_t max = max_us_.load(std::memory_order_relaxed);
    while (us > max && !max_us_.compare_exchange_weak(max, us, std::memory_order_relaxed)) {
    }
  }

  DurationCounts snapshot() const {
    DurationCounts counts;
    for (std::size_t i = 0; i < buckets_.size(); ++i) {
      counts.buckets[i] = buckets_[i].load(std::memory_order_relaxed);
    }
    counts.count = count_.load(std::memory_order_relaxed);
    counts.sum_ms = static_cast<double>(sum_us_.load(std::memory_order_relaxed)) / 1000.0;
    counts.max_ms = static_cast<double>(max_us_.load(std::memory_order_relaxed)) / 1000.0;
    return counts;
  }

 private:
  std::array<std::atomic<std::uint64_t>, DurationCounts::kBoundsMs.size() + 1> buckets_{};
  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::int64_t> sum_us_{0};
  std::atomic<std::int64_t> max_us_{0};
};

}  // namespace invited::metrics
