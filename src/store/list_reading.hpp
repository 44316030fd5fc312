#pragma once

#include <cstdint>
#include <optional>
#include <variant>

#include "domain/records.hpp"

namespace invited::store {

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

}  // namespace invited::store
