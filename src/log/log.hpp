#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <variant>

namespace invited::log {

// Structured logs: one JSON object per line on stderr, {"ts","level","msg",...fields}.
// Callers never pass secrets (API keys, invite tokens) as fields. Thread-safe.

enum class Level { kDebug, kInfo, kWarn, kError, kOff };

struct Field {
  std::string_view key;
  std::variant<std::string_view, std::int64_t, double, bool> value;

  Field(std::string_view k, std::string_view v) : key(k), value(v) {}
  Field(std::string_view k, const std::string& v) : key(k), value(std::string_view(v)) {}
  Field(std::string_view k, const char* v) : key(k), value(std::string_view(v)) {}
  Field(std::string_view k, std::int64_t v) : key(k), value(v) {}
  Field(std::string_view k, int v) : key(k), value(static_cast<std::int64_t>(v)) {}
  Field(std::string_view k, std::uint64_t v) : key(k), value(static_cast<std::int64_t>(v)) {}
  Field(std::string_view k, double v) : key(k), value(v) {}
  Field(std::string_view k, bool v) : key(k), value(v) {}
};

// Sets up the stderr sink and the minimum level. Call once at start, before other threads log.
void init(Level level);
// Parses "debug", "info", "warn", "error" or "off".
bool parse_level(std::string_view text, Level& level);
bool enabled(Level level);

void write(Level level, std::string_view message, std::initializer_list<Field> fields = {});
inline void debug(std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::kDebug, m, f);
}
inline void info(std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::kInfo, m, f);
}
inline void warn(std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::kWarn, m, f);
}
inline void error(std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::kError, m, f);
}

// Flushes buffered lines (called at exit).
void flush();

// Appends `text` to `out` as the inside of a JSON string: quotes, backslashes and control
// characters escaped, and any ill-formed UTF-8 replaced with U+FFFD (log/utf8.hpp), so every
// line is valid JSON whatever bytes a request carried.
void append_json_escaped(std::string& out, std::string_view text);

}  // namespace invited::log
