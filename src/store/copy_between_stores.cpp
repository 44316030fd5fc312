#include "store/copy_between_stores.hpp"

#include <algorithm>
#include <chrono>
#include <set>
#include <stdexcept>

#include "log/log.hpp"
#include "store/copied_tables.hpp"
#include "store/postgres/connection_url.hpp"
#include "store/postgres/schema.hpp"
#include "store/postgres/table_import.hpp"
#include "store/sqlite/schema.hpp"
#include "store/sqlite/table_export.hpp"

namespace invited::store {
namespace {

constexpr std::string_view kSqlite = "sqlite://";

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& name : names) out += (out.empty() ? "" : ", ") + name;
  return out;
}

// Every table of `schema` (one store's, named `store`) must be copied or left alone on purpose.
void check_tables_known(const std::vector<std::string>& schema, const std::string& store) {
  std::set<std::string> known;
  for (const char* table : copied_tables()) known.insert(table);
  for (const TableNotCopied& table : tables_not_copied()) known.insert(table.name);
  std::vector<std::string> unknown;
  for (const std::string& table : schema) {
    if (!known.contains(table)) unknown.push_back(table);
  }
  if (!unknown.empty()) {
    throw std::runtime_error(
        "the " + store + " schema has tables copy-to does not know (" + joined(unknown) +
        "): add each to copied_tables() in src/store/copied_tables.cpp, or "
        "to tables_not_copied() with the reason" +
        (store == "PostgreSQL" ? " (or, if they belong to another application, give copy-to "
                                 "a database of its own)"
                               : ""));
  }
}

// The columns to copy: those of the source, which the target must have too, and no others.
std::vector<std::string> shared_columns(const std::string& table,
                                        const std::vector<std::string>& source,
                                        const std::vector<std::string>& target) {
  std::vector<std::string> only_source;
  std::vector<std::string> only_target;
  for (const std::string& c : source) {
    if (std::find(target.begin(), target.end(), c) == target.end()) only_source.push_back(c);
  }
  for (const std::string& c : target) {
    if (std::find(source.begin(), source.end(), c) == source.end()) only_target.push_back(c);
  }
  if (only_source.empty() && only_target.empty()) return source;
  std::string what;
  if (!only_source.empty()) what += joined(only_source) + " only in the SQLite schema";
  if (!only_target.empty()) {
    what += (what.empty() ? "" : "; ") + joined(only_target) + " only in the PostgreSQL schema";
  }
  throw std::runtime_error("table " + table + " has columns on one side only (" + what +
                           "): the two stores' migrations of the same number must add the same "
                           "columns");
}

}  // namespace

CopyReport copy_between_stores(const StoreSettings& source, const std::string& target_url) {
  if (!std::string_view(source.url).starts_with(kSqlite) || source.url.size() == kSqlite.size()) {
    throw std::runtime_error(
        "copy-to copies from a SQLite database: give it with --database sqlite:///path/file.db "
        "(or INVITED_DATABASE), not " +
        describe_database(source.url));
  }
  if (!postgres::is_connection_url(target_url)) {
    auto scheme_end = target_url.find("://");
    std::string got = scheme_end == std::string::npos
                          ? "got no URL scheme"
                          : "got a " + target_url.substr(0, scheme_end + 3) + " URL";
    throw std::runtime_error(
        "TARGET_URL must name the PostgreSQL database to copy into, as "
        "postgresql://user:password@host:port/dbname (postgres:// too; add ?sslmode=require "
        "for a remote server) (" +
        got + ")");
  }
  const std::string path = source.url.substr(kSqlite.size());

  auto from = sqlite::open_table_export(path);
  const int version = from->schema_version();
  if (version != sqlite::latest_schema_version()) {
    throw std::runtime_error(
        "the source database is at schema version " + std::to_string(version) +
        ", this binary's is " + std::to_string(sqlite::latest_schema_version()) +
        (version < sqlite::latest_schema_version()
             ? ": run `invited migrate` with the same --database first (copy-to opens the "
               "source read-only)"
             : ": copy with the invited that last migrated it, or upgrade invited"));
  }
  check_tables_known(from->tables(), "SQLite");

  auto to = postgres::open_table_import(target_url, std::chrono::milliseconds(source.timeout_ms));
  if (to->schema_version() != version) {
    throw std::runtime_error("the target database is at schema version " +
                             std::to_string(to->schema_version()) + ", the source at " +
                             std::to_string(version) + ": both must be at this binary's version");
  }
  const std::vector<std::string> target_tables = to->tables();
  check_tables_known(target_tables, "PostgreSQL");
  const std::vector<std::string> source_tables = from->tables();

  CopyReport report{
      .schema_version = version, .target = postgres::mask_password(target_url), .tables = {}};
  for (const char* name : copied_tables()) {
    const std::string table = name;
    const bool in_source =
        std::find(source_tables.begin(), source_tables.end(), table) != source_tables.end();
    const bool in_target =
        std::find(target_tables.begin(), target_tables.end(), table) != target_tables.end();
    if (!in_source || !in_target) {
      throw std::runtime_error("table " + table + " of copied_tables() is missing from the " +
                               (in_source ? "PostgreSQL" : "SQLite") + " schema");
    }
    auto columns = shared_columns(table, from->columns(table), to->columns(table));
    std::int64_t read = 0;
    std::int64_t written = to->write(
        table, columns, [&](const RowSink& sink) { read = from->read(table, columns, sink); });
    if (written != read) {
      throw std::runtime_error("table " + table + ": read " + std::to_string(read) +
                               " rows but the target took " + std::to_string(written));
    }
    log::info("table copied", {{"table", table}, {"rows", written}});
    report.tables.push_back({table, written});
  }
  to->commit();
  return report;
}

}  // namespace invited::store
