#pragma once

#include <cstdint>
#include <optional>
#include <variant>
#include <vector>

#include "domain/records.hpp"
#include "store/list_reading.hpp"
#include "store/sqlite/connection.hpp"
#include "store/sqlite/list_position.hpp"

namespace invited::store::sqlite {

// The position of the row `SELECT time, id ...` finds, if any.
inline std::optional<ListPosition> position_of(Cursor& row) {
  if (!row.step()) return std::nullopt;
  return ListPosition{row.int64(0), row.uuid(1)};
}

// The count `sql` (a `SELECT COUNT(*)` of one row) finds with ?1 bound to `key`.
inline std::int64_t count_rows(Connection& db, const char* sql, domain::Pk key) {
  auto row = db.query(sql);
  row.bind(1, key);
  return row.step() ? row.int64(0) : 0;
}

}  // namespace invited::store::sqlite
