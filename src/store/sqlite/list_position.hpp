#pragma once

#include <compare>
#include <cstdint>
#include <limits>

#include "domain/uuid.hpp"

namespace invited::store::sqlite {

// Where a cursor page (SPEC §5) starts: the sort key of the last item seen, a stored time and
// an id. Keys compare as the SQL row value `(time, id)` does: by time, then bytewise by id.
struct ListPosition {
  std::int64_t time = 0;
  domain::Uuid id;

  auto operator<=>(const ListPosition&) const = default;

  // Before every item of a list in ascending order (every stored time is greater).
  static ListPosition before_first() { return {std::numeric_limits<std::int64_t>::min(), {}}; }
  // Before every item of a list in descending order (every stored time is smaller).
  static ListPosition before_first_descending() {
    return {std::numeric_limits<std::int64_t>::max(), {}};
  }
};

}  // namespace invited::store::sqlite
