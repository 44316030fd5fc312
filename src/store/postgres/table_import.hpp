#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "store/table_copy.hpp"

namespace invited::store::postgres {

// The PostgreSQL database `url` (a libpq URI) as the target of a copy. Opening it connects
// (waiting at most `connect_timeout`), refuses a database whose tables hold any row (the tables
// of copied_tables.hpp's tables_not_copied() aside), applies pending migrations (as `invited
// migrate` does: a database without the schema gets it), then begins the one transaction the
// copy runs in, holding every copied table IN EXCLUSIVE MODE and checking again that they are
// empty. Rows are sent with COPY FROM STDIN in binary format; identity keys are kept as copied
// and their sequences moved past them at commit(). Throws PgError (the password of `url` never
// in its message) or std::runtime_error saying what to fix.
std::unique_ptr<TableImport> open_table_import(const std::string& url,
                                               std::chrono::milliseconds connect_timeout);

}  // namespace invited::store::postgres
