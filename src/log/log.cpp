#include "log/log.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>

#include "log/utf8.hpp"

namespace invited::log {
namespace {

std::atomic<int> g_min_level{static_cast<int>(Level::kInfo)};

std::string_view level_name(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
    case Level::kOff:
      return "off";
  }
  return "info";
}

spdlog::level::level_enum to_spdlog(Level level) {
  switch (level) {
    case Level::kDebug:
      return spdlog::level::debug;
    case Level::kInfo:
      return spdlog::level::info;
    case Level::kWarn:
      return spdlog::level::warn;
    case Level::kError:
      return spdlog::level::err;
    case Level::kOff:
      return spdlog::level::off;
  }
  return spdlog::level::info;
}

void append_timestamp(std::string& out) {
  using namespace std::chrono;
  auto now = system_clock::now();
  auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count();
  std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buffer[40];
  std::size_t length = std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(buffer + length, sizeof buffer - length, ".%03dZ", static_cast<int>(ms % 1000));
  out += buffer;
}

}  // namespace

void append_json_escaped(std::string& out, std::string_view text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (static_cast<unsigned char>(c) >= 0x80) {
      // Non-ASCII: a well-formed sequence as it is, anything else as U+FFFD.
      std::size_t length = utf8_sequence_length(text.substr(i));
      if (length == 0) {
        out += "\xEF\xBF\xBD";
      } else {
        out.append(text.data() + i, length);
        i += length - 1;
      }
      continue;
    }
    auto byte = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (byte < 0x20 || byte == 0x7f) {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\u%04x", byte);
          out += escaped;
        } else {
          out += c;
        }
    }
  }
}

void init(Level level) {
  auto logger = spdlog::stderr_logger_mt("invited");
  logger->set_pattern("%v");
  logger->set_level(to_spdlog(level));
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(logger);
  g_min_level.store(static_cast<int>(level));
}

bool parse_level(std::string_view text, Level& level) {
  for (Level candidate : {Level::kDebug, Level::kInfo, Level::kWarn, Level::kError, Level::kOff}) {
    if (level_name(candidate) == text) {
      level = candidate;
      return true;
    }
  }
  return false;
}

bool enabled(Level level) {
  return level != Level::kOff && static_cast<int>(level) >= g_min_level.load();
}

void write(Level level, std::string_view message, std::initializer_list<Field> fields) {
  if (!enabled(level)) return;
  std::string line;
  line.reserve(160);
  line += R"({"ts":")";
  append_timestamp(line);
  line += R"(","level":")";
  line += level_name(level);
  line += R"(","msg":")";
  append_json_escaped(line, message);
  line += '"';
  for (const Field& field : fields) {
    line += ",\"";
    append_json_escaped(line, field.key);
    line += "\":";
    if (auto* text = std::get_if<std::string_view>(&field.value)) {
      line += '"';
      append_json_escaped(line, *text);
      line += '"';
    } else if (auto* integer = std::get_if<std::int64_t>(&field.value)) {
      line += std::to_string(*integer);
    } else if (auto* real = std::get_if<double>(&field.value)) {
      char buffer[32];
      std::snprintf(buffer, sizeof buffer, "%.3f", *real);
      line += buffer;
    } else {
      line += std::get<bool>(field.value) ? "true" : "false";
    }
  }
  line += '}';
  spdlog::log(to_spdlog(level), "{}", line);
}

void flush() { spdlog::default_logger()->flush(); }

}  // namespace invited::log
