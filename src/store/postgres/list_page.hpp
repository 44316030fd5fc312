#pragma once

#include <compare>
#include <cstdint>
#include <limits>
#include <optional>
#include <variant>
#include <vector>

#include "domain/records.hpp"
#include "domain/uuid.hpp"
#include "store/postgres/result.hpp"

namespace invited::store::postgres {

// Where a cursor page (SPEC §5) starts: the sort key of the last item seen, a stored time and
// an id. Compares as the SQL row value `(time, id)` does: by time, then by id (uuid compares
// bytewise in PostgreSQL, as the 16-byte BLOB does in SQLite).
struct ListPosition {
  std::int64_t time = 0;
  domain::Uuid id;

  // Before every item of a list in ascending order (every stored time is greater).
  static ListPosition before_first() { return {std::numeric_limits<std::int64_t>::min(), {}}; }
};

// Reads one page of a list in either form of SPEC §5. The list's statement reads its items in
// list order after a position, with a LIMIT and an OFFSET:
//   `read(after, limit, offset, items)`  appends the items;
//   `locate(id)`                          the position of a cursor's item, nullopt if this list
//                                         cannot hold it;
//   `count()`                             the number of items in the whole list (page form).
// The page form reads from `start` with an offset and counts; the cursor form seeks past the
// cursor's position and reads one item more than asked, to learn whether more follow.
template <typename T, typename Position, typename Locate, typename Read, typename Count>
domain::Page<T> read_list(const domain::ListRequest& request, const Position& start, Locate locate,
                          Read read, Count count) {
  domain::Page<T> page;
  if (const auto* numbered = std::get_if<domain::PageRequest>(&request)) {
    page.total = count();
    read(start, numbered->size, numbered->num * numbered->size, page.items);
    return page;
  }
  const auto& cursor = std::get<domain::CursorRequest>(request);
  Position after = start;
  if (cursor.starting_after) {
    std::optional<Position> found = locate(*cursor.starting_after);
    if (!found) {
      page.unknown_cursor = true;
      return page;
    }
    after = *found;
  }
  read(after, cursor.limit + 1, 0, page.items);
  if (static_cast<std::int64_t>(page.items.size()) > cursor.limit) {
    page.items.pop_back();
    page.has_more = true;
  }
  return page;
}

// The position in the first row of `SELECT time, id ...`, if any.
inline std::optional<ListPosition> position_of(const Result& rows) {
  if (rows.rows() == 0) return std::nullopt;
  return ListPosition{rows.int64(0, 0), rows.uuid(0, 1)};
}

}  // namespace invited::store::postgres
