#pragma once

#include <cstdint>

#include "domain/types.hpp"

namespace invited::domain {

// The moment a unit of work runs at. The domain never reads a clock itself: callers pass the
// time in, so rules are tested at any instant.
struct Instant {
  std::int64_t unix_ms = 0;

  UnixSeconds seconds() const { return unix_ms / 1000; }
  static Instant from_seconds(UnixSeconds seconds) { return {seconds * 1000}; }
};

// Reads the system clock. Defined in clock.cpp; the one place time enters.
Instant now();

#ifdef INVITED_TEST_CLOCK
// Test builds only (the sanitized build the black-box tests run; never a release): moves now()
// forward by `ms` from this moment on, for every thread, and returns the new now(). Lets a test
// reach an expiry or a retry schedule days away without waiting. Only forward: time as the
// service sees it never runs back. The database's own clock (PostgreSQL's now(), which leases
// and shared rate windows use) does not move.
Instant advance_test_clock(std::int64_t ms);
#endif

}  // namespace invited::domain
