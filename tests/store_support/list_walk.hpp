// Helpers shared by the store tests of both backends (tests/unit/store_sqlite_test.cpp,
// tests/postgres/member_lists_test.cpp): numbered addresses and a checked walk over a list's
// cursor pages.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "domain/records.hpp"
#include "domain/uuid.hpp"

namespace invited::testing_support {

// "<prefix><n>@example.com". (Built by appending: GCC 12 at -O3 warns falsely about
// "literal" + std::string.)
inline std::string numbered_email(std::string_view prefix, int n) {
  std::string email(prefix);
  email += std::to_string(n);
  email += "@example.com";
  return email;
}

// Every item of a list, read in cursor pages of `limit` (SPEC §5), each page checked: full
// pages say has_more, the last one does not, and no cursor is unknown.
template <typename T, typename List, typename IdOf>
std::vector<T> walk_cursor(List list, IdOf id_of, std::int64_t limit) {
  std::vector<T> all;
  std::optional<domain::Uuid> after;
  for (int pages = 0; pages < 100000; ++pages) {
    domain::Page<T> page = list(domain::ListRequest{domain::CursorRequest{limit, after}});
    EXPECT_FALSE(page.unknown_cursor);
    EXPECT_LE(static_cast<std::int64_t>(page.items.size()), limit);
    all.insert(all.end(), page.items.begin(), page.items.end());
    if (!page.has_more) break;
    EXPECT_EQ(static_cast<std::int64_t>(page.items.size()), limit);
    if (page.items.empty()) break;
    after = id_of(page.items.back());
  }
  return all;
}

}  // namespace invited::testing_support
