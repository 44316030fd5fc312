#pragma once

#include <span>

namespace invited::store {

// The tables `invited admin copy-to` copies, in the order it copies them: each table's foreign
// keys point at tables earlier in the list. THE place a new table joins the copy: every table of
// both schemas must be here or in tables_not_copied(), or the copy refuses to run (and the test
// of the copy fails), so no table can be forgotten.
std::span<const char* const> copied_tables();

// A table of a store's schema that the copy leaves alone, and why.
struct TableNotCopied {
  const char* name;
  const char* why;
};
std::span<const TableNotCopied> tables_not_copied();

}  // namespace invited::store
