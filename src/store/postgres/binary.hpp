#pragma once

#include <cstdint>
#include <string>
#include <string_view>

// PostgreSQL's binary wire format for integers: big-endian, two's complement.
namespace invited::store::postgres::binary {

inline void put_int32(std::string& out, std::int32_t value) {
  auto bits = static_cast<std::uint32_t>(value);
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((bits >> shift) & 0xff);
}

inline void put_int64(std::string& out, std::int64_t value) {
  auto bits = static_cast<std::uint64_t>(value);
  for (int shift = 56; shift >= 0; shift -= 8) out += static_cast<char>((bits >> shift) & 0xff);
}

// Reads a big-endian integer of `bytes.size()` bytes (2, 4 or 8), sign-extended.
inline std::int64_t get_int(std::string_view bytes) {
  std::uint64_t bits = 0;
  for (char byte : bytes) bits = (bits << 8) | static_cast<unsigned char>(byte);
  int unused = 64 - 8 * static_cast<int>(bytes.size());
  if (unused > 0 && unused < 64) {
    std::uint64_t sign = std::uint64_t{1} << (8 * bytes.size() - 1);
    if (bits & sign) bits |= ~std::uint64_t{0} << (8 * bytes.size());
  }
  return static_cast<std::int64_t>(bits);
}

}  // namespace invited::store::postgres::binary
