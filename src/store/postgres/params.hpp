#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "domain/uuid.hpp"
#include "store/postgres/types.hpp"

namespace invited::store::postgres {

// The parameters of one statement, $1, $2, ... in the order they are added. Every value is
// copied in and sent in PostgreSQL's binary format with its type named, so the server never
// guesses a type and never parses text: int8 as 8 bytes, uuid as its 16 bytes, bytea as raw
// bytes, arrays (uuid[], int8[], text[]) as one binary array value, e.g. for
// `WHERE id = ANY ($1)`. Text must be valid UTF-8 (the server checks it).
class Params {
 public:
  Params() = default;

  Params& add(std::int64_t value);
  Params& add(int value) { return add(static_cast<std::int64_t>(value)); }
  Params& add(bool value);
  Params& add(std::string_view text);
  Params& add(const std::string& text) { return add(std::string_view(text)); }
  Params& add(const char* text) { return add(std::string_view(text)); }
  Params& add(const domain::Uuid& id);
  Params& add_bytea(std::string_view bytes);
  Params& add(std::span<const domain::Uuid> ids);
  Params& add(std::span<const std::int64_t> values);
  Params& add(std::span<const std::string> texts);
  Params& add(const std::vector<domain::Uuid>& ids) { return add(std::span(ids)); }
  Params& add(const std::vector<std::int64_t>& values) { return add(std::span(values)); }
  Params& add(const std::vector<std::string>& texts) { return add(std::span(texts)); }
  // SQL NULL of `type`.
  Params& add_null(Type type);
  // The value, or NULL of the value's type.
  template <typename T>
  Params& add(const std::optional<T>& value) {
    if (value) return add(*value);
    return add_null(type_of(static_cast<const T*>(nullptr)));
  }

  int size() const { return static_cast<int>(types_.size()); }
  bool empty() const { return types_.empty(); }

  // The arrays libpq's PQsendQueryParams / PQsendQueryPrepared take. Valid until the next add().
  const unsigned* types() const { return types_.data(); }
  const char* const* values() const;
  const int* lengths() const { return lengths_.data(); }
  const int* formats() const { return formats_.data(); }

 private:
  static Type type_of(const std::int64_t*) { return Type::kInt8; }
  static Type type_of(const int*) { return Type::kInt8; }
  static Type type_of(const bool*) { return Type::kBool; }
  static Type type_of(const std::string*) { return Type::kText; }
  static Type type_of(const std::string_view*) { return Type::kText; }
  static Type type_of(const domain::Uuid*) { return Type::kUuid; }

  Params& push(Type type, std::string bytes);

  std::vector<unsigned> types_;
  std::vector<std::string> data_;
  std::vector<int> lengths_;
  std::vector<int> formats_;
  std::vector<bool> nulls_;
  mutable std::vector<const char*> pointers_;
};

}  // namespace invited::store::postgres
