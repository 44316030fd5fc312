#include "store/postgres/table_import.hpp"

#include <algorithm>
#include <limits>
#include <map>
#include <stdexcept>

#include "store/copied_tables.hpp"
#include "store/postgres/binary.hpp"
#include "store/postgres/connection.hpp"
#include "store/postgres/schema.hpp"

namespace invited::store::postgres {
namespace {

constexpr const char* kTables =
    "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename";
// Each column's name, type and whether it is an identity column (a generated row key).
constexpr const char* kColumns =
    "SELECT a.attname, t.typname, a.attidentity <> '' FROM pg_attribute a "
    "JOIN pg_type t ON t.oid = a.atttypid "
    "WHERE a.attrelid = to_regclass(format('%I.%I', current_schema(), $1::text)) "
    "AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum";

// Rows are sent to the server in chunks of about this size.
constexpr std::size_t kChunkBytes = std::size_t{1} << 20;

std::string identifier(const std::string& name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string literal(const std::string& text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

bool is_not_copied(const std::string& table) {
  auto skipped = tables_not_copied();
  return std::any_of(skipped.begin(), skipped.end(),
                     [&](const TableNotCopied& t) { return table == t.name; });
}

void put_int16(std::string& out, std::int16_t value) {
  auto bits = static_cast<std::uint16_t>(value);
  out += static_cast<char>(bits >> 8);
  out += static_cast<char>(bits & 0xff);
}

struct Column {
  std::string name;
  std::string type;  // pg_type.typname: int2, int4, int8, bool, uuid, bytea, text
  bool identity = false;
};

const char* kind_name(Cell::Kind kind) {
  switch (kind) {
    case Cell::Kind::kNull:
      return "NULL";
    case Cell::Kind::kInteger:
      return "an integer";
    case Cell::Kind::kText:
      return "text";
    case Cell::Kind::kBytes:
      return "bytes";
  }
  return "a value";
}

// Appends `cell` as the binary COPY field of `column` (length, then the value in PostgreSQL's
// binary format). Throws std::runtime_error for a value the column's type cannot hold.
void put_field(std::string& out, const std::string& table, const Column& column, const Cell& cell,
               std::int64_t row) {
  auto refuse = [&](const std::string& why) {
    throw std::runtime_error("cannot copy " + table + "." + column.name + " of row " +
                             std::to_string(row) + ": " + why);
  };
  if (cell.kind == Cell::Kind::kNull) {
    binary::put_int32(out, -1);
    return;
  }
  const std::string& type = column.type;
  auto integer_in = [&](std::int64_t low, std::int64_t high) {
    if (cell.kind != Cell::Kind::kInteger) {
      refuse(std::string("the source holds ") + kind_name(cell.kind) + " where " + type +
             " needs an integer");
    }
    if (cell.integer < low || cell.integer > high) {
      refuse(std::to_string(cell.integer) + " does not fit in " + type);
    }
    return cell.integer;
  };
  if (type == "int8") {
    std::int64_t value = integer_in(std::numeric_limits<std::int64_t>::min(),
                                    std::numeric_limits<std::int64_t>::max());
    binary::put_int32(out, 8);
    binary::put_int64(out, value);
  } else if (type == "int4") {
    auto value = integer_in(std::numeric_limits<std::int32_t>::min(),
                            std::numeric_limits<std::int32_t>::max());
    binary::put_int32(out, 4);
    binary::put_int32(out, static_cast<std::int32_t>(value));
  } else if (type == "int2") {
    auto value = integer_in(std::numeric_limits<std::int16_t>::min(),
                            std::numeric_limits<std::int16_t>::max());
    binary::put_int32(out, 2);
    put_int16(out, static_cast<std::int16_t>(value));
  } else if (type == "bool") {
    auto value = integer_in(0, 1);
    binary::put_int32(out, 1);
    out += static_cast<char>(value);
  } else if (type == "uuid") {
    if (cell.kind != Cell::Kind::kBytes || cell.bytes.size() != 16) {
      refuse(std::string("the source holds ") + kind_name(cell.kind) + " of " +
             std::to_string(cell.bytes.size()) + " bytes where a uuid needs 16 bytes");
    }
    binary::put_int32(out, 16);
    out += cell.bytes;
  } else if (type == "bytea") {
    if (cell.kind != Cell::Kind::kBytes) {
      refuse(std::string("the source holds ") + kind_name(cell.kind) + " where bytea needs bytes");
    }
    binary::put_int32(out, static_cast<std::int32_t>(cell.bytes.size()));
    out += cell.bytes;
  } else if (type == "text") {
    if (cell.kind != Cell::Kind::kText) {
      refuse(std::string("the source holds ") + kind_name(cell.kind) + " where text needs text");
    }
    binary::put_int32(out, static_cast<std::int32_t>(cell.bytes.size()));
    out += cell.bytes;
  } else {
    refuse("its PostgreSQL type " + type +
           " is one copy-to does not convert yet (src/store/postgres/table_import.cpp)");
  }
}

class PostgresTableImport final : public TableImport {
 public:
  PostgresTableImport(const std::string& url, std::chrono::milliseconds connect_timeout)
      : db_(Connection::Options{.url = url, .application_name = "invited copy-to"},
            Clock::now() + connect_timeout) {
    // A copy of a big database takes as long as it takes; Ctrl-C ends it with nothing written.
    db_.set_deadline(Clock::time_point::max());
    refuse_rows();  // before migrating: a refused target is not written to at all
    postgres::migrate(db_);
    version_ = postgres::schema_version(db_);
    db_.exec("BEGIN ISOLATION LEVEL READ COMMITTED");
    in_transaction_ = true;
    std::string lock;
    for (const std::string& table : tables()) {
      if (is_not_copied(table)) continue;
      lock += (lock.empty() ? "" : ", ") + identifier(table);
    }
    // No other client writes the copied tables until the copy commits or rolls back, so the
    // emptiness checked next stays true.
    if (!lock.empty()) db_.exec("LOCK TABLE " + lock + " IN EXCLUSIVE MODE");
    refuse_rows();
  }

  ~PostgresTableImport() override {
    if (!in_transaction_ || !db_.ok()) return;
    try {
      db_.exec("ROLLBACK");
    } catch (const PgError&) {
      db_.close();  // closing rolls back too
    }
  }

  int schema_version() override { return version_; }

  std::vector<std::string> tables() override {
    Result rows = db_.query_once(kTables);
    std::vector<std::string> names;
    for (int i = 0; i < rows.rows(); ++i) names.push_back(rows.text(i, 0));
    return names;
  }

  std::vector<std::string> columns(const std::string& table) override {
    std::vector<std::string> names;
    for (const Column& column : columns_of(table)) names.push_back(column.name);
    return names;
  }

  std::int64_t write(const std::string& table, const std::vector<std::string>& names,
                     const std::function<void(const RowSink&)>& feed) override {
    std::vector<Column> all = columns_of(table);
    std::vector<Column> columns;
    std::string sql = "COPY " + identifier(table) + " (";
    for (const std::string& name : names) {
      auto found =
          std::find_if(all.begin(), all.end(), [&](const Column& c) { return c.name == name; });
      if (found == all.end()) throw std::runtime_error("no column " + table + "." + name);
      sql += (columns.empty() ? "" : ", ") + identifier(name);
      columns.push_back(*found);
    }
    sql += ") FROM STDIN (FORMAT binary)";
    for (const Column& column : columns) {
      if (column.identity) identities_.emplace_back(table, column.name);
    }
    return db_.copy_in(sql, [&](const Connection::CopySend& send) {
      std::string chunk("PGCOPY\n\377\r\n\0", 11);
      binary::put_int32(chunk, 0);  // flags
      binary::put_int32(chunk, 0);  // header extension length
      std::int64_t row = 0;
      feed([&](std::span<const Cell> cells) {
        ++row;
        if (cells.size() != columns.size()) {
          throw std::runtime_error("a row of " + table + " came with the wrong number of cells");
        }
        put_int16(chunk, static_cast<std::int16_t>(columns.size()));
        for (std::size_t i = 0; i < cells.size(); ++i) {
          put_field(chunk, table, columns[i], cells[i], row);
        }
        if (chunk.size() >= kChunkBytes) {
          send(chunk);
          chunk.clear();
        }
      });
      put_int16(chunk, -1);  // the end of the data
      send(chunk);
    });
  }

  void commit() override {
    // The next generated key of each table follows the highest copied one (a table copied
    // empty keeps its sequence at the start).
    for (const auto& [table, column] : identities_) {
      db_.query_once("SELECT setval(pg_get_serial_sequence(" + literal(identifier(table)) + ", " +
                     literal(column) + "), m) FROM (SELECT max(" + identifier(column) +
                     ") AS m FROM " + identifier(table) + ") AS highest WHERE m IS NOT NULL");
    }
    db_.exec("COMMIT");
    in_transaction_ = false;
  }

 private:
  std::vector<Column> columns_of(const std::string& table) {
    Result rows = db_.query_once(kColumns, Params().add(table));
    std::vector<Column> columns;
    for (int i = 0; i < rows.rows(); ++i) {
      columns.push_back(Column{rows.text(i, 0), rows.text(i, 1), rows.boolean(i, 2)});
    }
    return columns;
  }

  // Throws, naming them, when tables of the database (those the copy leaves alone aside) hold
  // rows.
  void refuse_rows() {
    std::string sql;
    for (const std::string& table : tables()) {
      if (is_not_copied(table)) continue;
      sql += (sql.empty() ? "" : " UNION ALL ") + std::string("SELECT ") + literal(table) +
             "::text, EXISTS (SELECT 1 FROM " + identifier(table) + ")";
    }
    if (sql.empty()) return;
    Result rows = db_.query_once(sql);
    std::string holding;
    for (int i = 0; i < rows.rows(); ++i) {
      if (rows.boolean(i, 1)) holding += (holding.empty() ? "" : ", ") + rows.text(i, 0);
    }
    if (holding.empty()) return;
    throw std::runtime_error(
        "the target database " + db_.masked_url() + " is not empty (rows in " + holding +
        "): copy-to fills an empty database only, so that nothing there is overwritten or "
        "mixed with the copy. Give the URL of a new database (CREATE DATABASE name OWNER "
        "role), or drop and recreate this one, then run copy-to again");
  }

  Connection db_;
  int version_ = 0;
  bool in_transaction_ = false;
  std::vector<std::pair<std::string, std::string>> identities_;  // (table, column) written
};

}  // namespace

std::unique_ptr<TableImport> open_table_import(const std::string& url,
                                               std::chrono::milliseconds connect_timeout) {
  return std::make_unique<PostgresTableImport>(url, connect_timeout);
}

}  // namespace invited::store::postgres
