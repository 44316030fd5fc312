#pragma once

#include <memory>
#include <string>

#include "store/table_copy.hpp"

namespace invited::store::sqlite {

// The SQLite database file at `path` as the source of a copy: opened read-only, holding the
// file's serve lock for its lifetime (so no `invited serve` writes to it meanwhile, and it is
// refused while one does), and reading everything inside one read transaction, so the copy sees
// one snapshot. Throws StoreError saying what to do when the file does not exist, cannot be
// read, or is being served.
std::unique_ptr<TableExport> open_table_export(const std::string& path);

}  // namespace invited::store::sqlite
