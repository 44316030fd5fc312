#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "store/open_store.hpp"

namespace invited::store {

// What a copy did: the schema version both databases are at, the target as a log line may show
// it (no password), and the rows copied per table, in copy order.
struct CopyReport {
  struct Table {
    std::string name;
    std::int64_t rows = 0;
  };
  int schema_version = 0;
  std::string target;
  std::vector<Table> tables;
};

// `invited admin copy-to`: copies every table of copied_tables() (store/copied_tables.hpp), row
// keys and ids kept, from the SQLite database `source.url` (opened read-only, one snapshot; the
// copy holds its serve lock, so it is refused while a service serves the file) into the empty
// PostgreSQL database `target_url` (migrated first if it has no schema), in one transaction of
// the target. Refuses, writing nothing: a target holding any row, a source or target schema with
// a table that is in neither list of copied_tables.hpp, a table whose columns differ between the
// two schemas, a source at another schema version than this binary's. Uses source.timeout_ms to
// bound connecting to the target. Throws std::runtime_error saying what to fix; the target's
// password never appears in it.
CopyReport copy_between_stores(const StoreSettings& source, const std::string& target_url);

}  // namespace invited::store
