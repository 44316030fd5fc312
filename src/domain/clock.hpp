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

}  // namespace invited::domain
