#include "domain/clock.hpp"

#include <atomic>
#include <chrono>

namespace invited::domain {

#ifdef INVITED_TEST_CLOCK
namespace {
std::atomic<std::int64_t> test_clock_offset_ms{0};
}  // namespace

Instant advance_test_clock(std::int64_t ms) {
  if (ms > 0) test_clock_offset_ms.fetch_add(ms, std::memory_order_relaxed);
  return now();
}
#endif

Instant now() {
  using namespace std::chrono;
  const std::int64_t ms =
      duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
#ifdef INVITED_TEST_CLOCK
  return {ms + test_clock_offset_ms.load(std::memory_order_relaxed)};
#else
  return {ms};
#endif
}

}  // namespace invited::domain
