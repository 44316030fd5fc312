#include "store/postgres/params.hpp"

#include "store/postgres/binary.hpp"

namespace invited::store::postgres {
namespace {

// PostgreSQL's binary array format, one dimension, no NULL elements: ndim, has-null flag,
// element type, then (size, lower bound 1), then each element as (length, bytes).
template <typename Element, typename Encode>
std::string encode_array(Type element_type, std::span<const Element> elements, Encode encode) {
  std::string out;
  binary::put_int32(out, elements.empty() ? 0 : 1);
  binary::put_int32(out, 0);
  binary::put_int32(out, static_cast<std::int32_t>(element_type));
  if (!elements.empty()) {
    binary::put_int32(out, static_cast<std::int32_t>(elements.size()));
    binary::put_int32(out, 1);
  }
  for (const Element& element : elements) {
    std::string bytes = encode(element);
    binary::put_int32(out, static_cast<std::int32_t>(bytes.size()));
    out += bytes;
  }
  return out;
}

std::string uuid_bytes(const domain::Uuid& id) {
  return std::string(reinterpret_cast<const char*>(id.bytes().data()), id.bytes().size());
}

std::string int8_bytes(std::int64_t value) {
  std::string out;
  binary::put_int64(out, value);
  return out;
}

}  // namespace

Params& Params::push(Type type, std::string bytes) {
  types_.push_back(static_cast<unsigned>(type));
  lengths_.push_back(static_cast<int>(bytes.size()));
  formats_.push_back(1);
  nulls_.push_back(false);
  data_.push_back(std::move(bytes));
  return *this;
}

Params& Params::add(std::int64_t value) { return push(Type::kInt8, int8_bytes(value)); }

Params& Params::add(bool value) { return push(Type::kBool, std::string(1, value ? '\1' : '\0')); }

Params& Params::add(std::string_view text) { return push(Type::kText, std::string(text)); }

Params& Params::add(const domain::Uuid& id) { return push(Type::kUuid, uuid_bytes(id)); }

Params& Params::add_bytea(std::string_view bytes) { return push(Type::kBytea, std::string(bytes)); }

Params& Params::add(std::span<const domain::Uuid> ids) {
  return push(Type::kUuidArray, encode_array(Type::kUuid, ids, uuid_bytes));
}

Params& Params::add(std::span<const std::int64_t> values) {
  return push(Type::kInt8Array, encode_array(Type::kInt8, values, int8_bytes));
}

Params& Params::add(std::span<const std::string> texts) {
  return push(Type::kTextArray,
              encode_array(Type::kText, texts, [](const std::string& text) { return text; }));
}

Params& Params::add_null(Type type) {
  push(type, {});
  nulls_.back() = true;
  lengths_.back() = 0;
  return *this;
}

const char* const* Params::values() const {
  pointers_.resize(data_.size());
  for (std::size_t i = 0; i < data_.size(); ++i) {
    pointers_[i] = nulls_[i] ? nullptr : data_[i].data();
  }
  return pointers_.data();
}

}  // namespace invited::store::postgres
