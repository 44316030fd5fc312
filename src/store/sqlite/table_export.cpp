#include "store/sqlite/table_export.hpp"

#include <sqlite3.h>

#include <filesystem>
#include <memory>

#include "store/sqlite/connection.hpp"
#include "store/sqlite/schema.hpp"
#include "store/sqlite/serve_lock.hpp"

namespace invited::store::sqlite {
namespace {

// The tables of the schema; SQLite's own (sqlite_sequence, sqlite_stat1, ...) left out.
constexpr const char* kTables =
    "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE "
    "'\\' "
    "ORDER BY name";
constexpr const char* kColumns = "SELECT name FROM pragma_table_info(?1) ORDER BY cid";

std::string quoted(const std::string& name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

class SqliteTableExport final : public TableExport {
 public:
  explicit SqliteTableExport(const std::string& path)
      : lock_(checked(path),
              "stop it before copying, so that nothing it writes after the copy's snapshot is "
              "lost"),
        db_(path, Connection::Mode::kReadOnly) {
    // A deferred read transaction: its snapshot is taken by the first read (the version just
    // below) and every later read of this object sees that same snapshot.
    db_.exec("BEGIN");
    version_ = sqlite::schema_version(db_);
  }

  ~SqliteTableExport() override {
    try {
      db_.exec("COMMIT");
    } catch (const StoreError&) {
      // Nothing was written; closing the connection ends the transaction anyway.
    }
  }

  int schema_version() override { return version_; }

  std::vector<std::string> tables() override {
    std::vector<std::string> names;
    auto rows = db_.query(kTables);
    while (rows.step()) names.push_back(rows.text(0));
    return names;
  }

  std::vector<std::string> columns(const std::string& table) override {
    std::vector<std::string> names;
    auto rows = db_.query(kColumns);
    rows.bind(1, table);
    while (rows.step()) names.push_back(rows.text(0));
    return names;
  }

  std::int64_t read(const std::string& table, const std::vector<std::string>& columns,
                    const RowSink& sink) override {
    std::string sql = "SELECT ";
    for (std::size_t i = 0; i < columns.size(); ++i) sql += (i ? ", " : "") + quoted(columns[i]);
    sql += " FROM " + quoted(table);
    sqlite3_stmt* raw = nullptr;
    int code = sqlite3_prepare_v2(db_.handle(), sql.c_str(), -1, &raw, nullptr);
    std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> stmt(raw, sqlite3_finalize);
    if (code != SQLITE_OK)
      throw StoreError(code, "read " + table + ": " + sqlite3_errmsg(db_.handle()));
    std::vector<Cell> cells(columns.size());
    std::int64_t count = 0;
    while ((code = sqlite3_step(stmt.get())) == SQLITE_ROW) {
      for (std::size_t i = 0; i < columns.size(); ++i) {
        cells[i] = cell(stmt.get(), static_cast<int>(i));
      }
      sink(cells);
      ++count;
    }
    if (code != SQLITE_DONE) {
      throw StoreError(code, "read " + table + ": " + sqlite3_errmsg(db_.handle()));
    }
    return count;
  }

 private:
  static const std::string& checked(const std::string& path) {
    if (!std::filesystem::exists(path)) {
      throw StoreError(0, "the source database " + path +
                              " does not exist: --database must name the SQLite file to copy "
                              "from (sqlite:///absolute/path.db or sqlite://./relative.db)");
    }
    return path;
  }

  static Cell cell(sqlite3_stmt* stmt, int column) {
    switch (sqlite3_column_type(stmt, column)) {
      case SQLITE_INTEGER:
        return Cell{.kind = Cell::Kind::kInteger,
                    .integer = sqlite3_column_int64(stmt, column),
                    .bytes = {}};
      case SQLITE_TEXT: {
        auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, column));
        return Cell{.kind = Cell::Kind::kText,
                    .integer = 0,
                    .bytes = {text, static_cast<std::size_t>(sqlite3_column_bytes(stmt, column))}};
      }
      case SQLITE_BLOB: {
        auto* data = static_cast<const char*>(sqlite3_column_blob(stmt, column));
        return Cell{.kind = Cell::Kind::kBytes,
                    .integer = 0,
                    .bytes = {data, static_cast<std::size_t>(sqlite3_column_bytes(stmt, column))}};
      }
      case SQLITE_NULL:
        return Cell{};
      default:  // SQLITE_FLOAT: no column of the schema holds one
        throw StoreError(0,
                         "a column holds a floating-point value, which no column of the "
                         "schema should: the database was changed outside invited");
    }
  }

  ServeLock lock_;
  Connection db_;
  int version_ = 0;
};

}  // namespace

std::unique_ptr<TableExport> open_table_export(const std::string& path) {
  return std::make_unique<SqliteTableExport>(path);
}

}  // namespace invited::store::sqlite
