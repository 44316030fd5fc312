#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <variant>

#include "domain/records.hpp"

namespace invited::store {

// Ends a cursor page whose statement read up to `limit` + 1 items: the one past `limit` only
// says that more follow (`has_more`) and is dropped. `reversed`: the statement read them in the
// opposite of list order (a page before a cursor, nearest first), so they are turned back.
template <typename T>
void end_cursor_page(domain::Page<T>& page, std::int64_t limit, bool reversed = false) {
  if (static_cast<std::int64_t>(page.items.size()) > limit) {
    page.items.pop_back();
    page.has_more = true;
  }
  if (reversed) std::reverse(page.items.begin(), page.items.end());
}

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
  end_cursor_page(page, cursor.limit);
  return page;
}

}  // namespace invited::store
