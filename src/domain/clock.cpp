#include "domain/clock.hpp"

#include <chrono>

namespace invited::domain {

Instant now() {
  using namespace std::chrono;
  return {duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count()};
}

}  // namespace invited::domain
