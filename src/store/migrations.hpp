#pragma once

#include <span>

namespace invited::store {

// One schema step. Versions start at 1 and rise by one; `sql` is the file's text, compiled in
// from src/store/<backend>/migrations/NNNN_name.sql by the build.
struct Migration {
  int version;
  const char* name;
  const char* sql;
};

std::span<const Migration> sqlite_migrations();
std::span<const Migration> postgres_migrations();

}  // namespace invited::store
