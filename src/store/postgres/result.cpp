#include "store/postgres/result.hpp"

#include <libpq-fe.h>

#include <charconv>

#include "store/postgres/binary.hpp"
#include "store/postgres/error.hpp"
#include "store/postgres/types.hpp"

namespace invited::store::postgres {
namespace {

[[noreturn]] void fail(const std::string& message) {
  throw PgError(FailureKind::kInternal, "", message);
}

constexpr unsigned oid(Type type) { return static_cast<unsigned>(type); }

}  // namespace

Result::~Result() {
  if (result_ != nullptr) PQclear(result_);
}

Result& Result::operator=(Result&& other) noexcept {
  if (this != &other) {
    if (result_ != nullptr) PQclear(result_);
    result_ = other.result_;
    other.result_ = nullptr;
  }
  return *this;
}

int Result::rows() const { return result_ == nullptr ? 0 : PQntuples(result_); }

int Result::columns() const { return result_ == nullptr ? 0 : PQnfields(result_); }

std::int64_t Result::affected() const {
  if (result_ == nullptr) return 0;
  const char* text = PQcmdTuples(result_);
  std::int64_t count = 0;
  std::from_chars(text, text + std::char_traits<char>::length(text), count);
  return count;
}

bool Result::is_null(int row, int column) const {
  if (row < 0 || row >= rows() || column < 0 || column >= columns()) {
    fail("no value at row " + std::to_string(row) + ", column " + std::to_string(column));
  }
  return PQgetisnull(result_, row, column) != 0;
}

std::string_view Result::value(int row, int column, std::initializer_list<unsigned> types,
                               const char* wanted) const {
  if (is_null(row, column)) {
    fail("column " + std::to_string(column) + " (" + PQfname(result_, column) + ") is NULL");
  }
  if (PQfformat(result_, column) != 1) fail("results are read in binary format only");
  unsigned type = PQftype(result_, column);
  bool known = false;
  for (unsigned t : types) known = known || t == type;
  if (!known) {
    fail("column " + std::to_string(column) + " (" + PQfname(result_, column) + ") has type " +
         std::to_string(type) + ", not " + wanted);
  }
  return {PQgetvalue(result_, row, column),
          static_cast<std::size_t>(PQgetlength(result_, row, column))};
}

std::int64_t Result::int64(int row, int column) const {
  std::string_view bytes =
      value(row, column, {oid(Type::kInt2), oid(Type::kInt4), oid(Type::kInt8), oid(Type::kOid)},
            "an integer");
  if (PQftype(result_, column) == oid(Type::kOid)) {
    return static_cast<std::int64_t>(static_cast<std::uint32_t>(binary::get_int(bytes)));
  }
  return binary::get_int(bytes);
}

bool Result::boolean(int row, int column) const {
  return value(row, column, {oid(Type::kBool)}, "boolean") == std::string_view("\1", 1);
}

std::string Result::text(int row, int column) const {
  constexpr unsigned kName = 19;
  return std::string(value(row, column, {oid(Type::kText), oid(Type::kVarchar), kName}, "text"));
}

std::string Result::bytea(int row, int column) const {
  return std::string(value(row, column, {oid(Type::kBytea)}, "bytea"));
}

domain::Uuid Result::uuid(int row, int column) const {
  std::string_view bytes = value(row, column, {oid(Type::kUuid)}, "uuid");
  domain::Uuid::Bytes raw{};
  if (bytes.size() != raw.size()) fail("uuid is not 16 bytes");
  for (std::size_t i = 0; i < raw.size(); ++i) raw[i] = static_cast<std::uint8_t>(bytes[i]);
  return domain::Uuid(raw);
}

std::optional<std::int64_t> Result::optional_int64(int row, int column) const {
  if (is_null(row, column)) return std::nullopt;
  return int64(row, column);
}

std::optional<std::string> Result::optional_text(int row, int column) const {
  if (is_null(row, column)) return std::nullopt;
  return text(row, column);
}

std::optional<domain::Uuid> Result::optional_uuid(int row, int column) const {
  if (is_null(row, column)) return std::nullopt;
  return uuid(row, column);
}

}  // namespace invited::store::postgres
