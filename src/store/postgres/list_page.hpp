#pragma once

#include <compare>
#include <cstdint>
#include <limits>
#include <optional>
#include <variant>
#include <vector>

#include "domain/records.hpp"
#include "domain/uuid.hpp"
#include "store/list_reading.hpp"
#include "store/postgres/result.hpp"

namespace invited::store::postgres {

// Where a cursor page (SPEC §5) starts: the sort key of the last item seen, a stored time and
// an id. Compares as the SQL row value `(time, id)` does: by time, then by id (uuid compares
// bytewise in PostgreSQL, as the 16-byte BLOB does in SQLite).
struct ListPosition {
  std::int64_t time = 0;
  domain::Uuid id;

  auto operator<=>(const ListPosition&) const = default;

  // Before every item of a list in ascending order (every stored time is greater).
  static ListPosition before_first() { return {std::numeric_limits<std::int64_t>::min(), {}}; }
};

// The position in the first row of `SELECT time, id ...`, if any.
inline std::optional<ListPosition> position_of(const Result& rows) {
  if (rows.rows() == 0) return std::nullopt;
  return ListPosition{rows.int64(0, 0), rows.uuid(0, 1)};
}

}  // namespace invited::store::postgres
