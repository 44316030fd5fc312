#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "domain/uuid.hpp"

struct pg_result;

namespace invited::store::postgres {

// The rows one statement returned, in binary format (Connection asks for it). Owns its PGresult.
// Rows and columns are 0-based. The getters check the column's type: reading a NULL through a
// non-optional getter, or a column of another type, throws PgError (kInternal), since either is
// a bug in the calling code.
class Result {
 public:
  Result() = default;
  explicit Result(pg_result* result) : result_(result) {}
  ~Result();
  Result(Result&& other) noexcept : result_(other.result_) { other.result_ = nullptr; }
  Result& operator=(Result&& other) noexcept;
  Result(const Result&) = delete;
  Result& operator=(const Result&) = delete;

  int rows() const;
  int columns() const;
  // Rows an INSERT, UPDATE, DELETE (or MERGE) changed or returned; 0 for other commands.
  std::int64_t affected() const;

  bool is_null(int row, int column) const;
  // smallint, integer, bigint or oid.
  std::int64_t int64(int row, int column) const;
  bool boolean(int row, int column) const;
  // text, varchar or name.
  std::string text(int row, int column) const;
  // The bytes of a bytea.
  std::string bytea(int row, int column) const;
  domain::Uuid uuid(int row, int column) const;

  std::optional<std::int64_t> optional_int64(int row, int column) const;
  std::optional<std::string> optional_text(int row, int column) const;
  std::optional<domain::Uuid> optional_uuid(int row, int column) const;

 private:
  // The raw bytes of a non-NULL value of a column whose type is one of `types`.
  std::string_view value(int row, int column, std::initializer_list<unsigned> types,
                         const char* wanted) const;

  pg_result* result_ = nullptr;
};

}  // namespace invited::store::postgres
