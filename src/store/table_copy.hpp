#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace invited::store {

// One value of a row on its way from one store to another, in the source's own terms: an
// integer (keys, times, flags, enums), text, or bytes (uuids, hashes). The importing store
// converts it to its column's type and refuses a value that does not fit.
struct Cell {
  enum class Kind { kNull, kInteger, kText, kBytes };
  Kind kind = Kind::kNull;
  std::int64_t integer = 0;  // kInteger
  std::string_view bytes;    // kText (UTF-8) and kBytes
};

// Receives the rows of one table, one call per row, its cells in the order of the columns asked
// for. The cells (and the bytes they point at) are valid during the call only.
using RowSink = std::function<void(std::span<const Cell> row)>;

// A store's tables as a source of a copy (`invited admin copy-to`): everything it reads comes
// from one snapshot, taken when it was opened, and it writes nothing. Not thread-safe.
class TableExport {
 public:
  virtual ~TableExport() = default;

  // The schema version of the source (its migrations' number).
  virtual int schema_version() = 0;
  // The names of the tables of its schema (the engine's own bookkeeping tables left out).
  virtual std::vector<std::string> tables() = 0;
  // The columns of `table`, in the schema's order.
  virtual std::vector<std::string> columns(const std::string& table) = 0;
  // Sends every row of `table` to `sink`, with the cells of `columns`; returns the rows sent.
  virtual std::int64_t read(const std::string& table, const std::vector<std::string>& columns,
                            const RowSink& sink) = 0;
};

// A store's tables as the target of a copy: an empty database, migrated to the current schema,
// filled in one transaction that commit() ends; destroying it before commit() writes nothing.
// Every call throws std::runtime_error with a message saying what failed and what to do.
class TableImport {
 public:
  virtual ~TableImport() = default;

  virtual int schema_version() = 0;
  virtual std::vector<std::string> tables() = 0;
  virtual std::vector<std::string> columns(const std::string& table) = 0;
  // Inserts the rows `feed` sends into the sink it is given, into `columns` of `table`, as a
  // set (never a statement per row); returns the rows inserted. Row keys are kept as they come.
  virtual std::int64_t write(const std::string& table, const std::vector<std::string>& columns,
                             const std::function<void(const RowSink&)>& feed) = 0;
  // Moves every generated key past the highest copied key and commits.
  virtual void commit() = 0;
};

}  // namespace invited::store
