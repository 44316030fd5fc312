#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace invited::domain {

// A 16-byte UUID. Public ids are UUIDs; the store keys rows by integers and keeps these bytes
// beside them. Text form is canonical lower-case 8-4-4-4-12.
class Uuid {
 public:
  using Bytes = std::array<std::uint8_t, 16>;

  Uuid() = default;
  explicit Uuid(const Bytes& bytes) : bytes_(bytes) {}

  // Parses the 36-character hyphenated form, either case. Returns nullopt for anything else
  // (braces, urn: prefix, missing hyphens).
  static std::optional<Uuid> parse(std::string_view text);
  // Version 7 (time-ordered) for new rows, so inserts append to the id index. Ids one thread
  // makes within one millisecond increase in the order they are made. Thread-safe.
  static Uuid v7(std::int64_t unix_ms);
  // Version 4 (random). Thread-safe.
  static Uuid v4();

  const Bytes& bytes() const { return bytes_; }
  // The Unix milliseconds a version 7 id carries (its first 48 bits, as v7() wrote them).
  std::int64_t v7_unix_ms() const;
  std::string str() const;
  // Writes the 36 characters of str() to `out`.
  void write(char* out) const;

  auto operator<=>(const Uuid&) const = default;

 private:
  Bytes bytes_{};
};

}  // namespace invited::domain
