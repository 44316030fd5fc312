#include "app/prometheus_text.hpp"

#include <cstdio>

namespace invited::app {
namespace {

void append_escaped(std::string& out, std::string_view text, bool quote) {
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (quote && c == '"') {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

void append_labels(std::string& out, const Labels& labels, std::string_view le = {}) {
  if (labels.empty() && le.empty()) return;
  out += '{';
  bool first = true;
  for (const auto& [name, value] : labels) {
    if (!first) out += ',';
    first = false;
    out += name;
    out += "=\"";
    append_escaped(out, value, true);
    out += '"';
  }
  if (!le.empty()) {
    if (!first) out += ',';
    out += "le=\"";
    out += le;
    out += '"';
  }
  out += '}';
}

// A bucket's upper bound in seconds, shortest form: 0.0005, 0.01, 2.5, 5.
std::string bound_text(double ms) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", ms / 1000.0);
  return text;
}

}  // namespace

std::string seconds_text(double ms) {
  char text[48];
  std::snprintf(text, sizeof text, "%.6f", ms / 1000.0);
  return text;
}

void write_family(std::string& out, std::string_view name, std::string_view type,
                  std::string_view help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  append_escaped(out, help, false);
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

void write_sample(std::string& out, std::string_view name, const Labels& labels,
                  std::string_view value) {
  out += name;
  append_labels(out, labels);
  out += ' ';
  out += value;
  out += '\n';
}

void write_duration_samples(std::string& out, std::string_view name, const Labels& labels,
                            const metrics::DurationCounts& counts) {
  const std::string base(name);
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < counts.buckets.size(); ++i) {
    cumulative += counts.buckets[i];
    const std::string bound = i < metrics::DurationCounts::kBoundsMs.size()
                                  ? bound_text(metrics::DurationCounts::kBoundsMs[i])
                                  : "+Inf";
    out += base;
    out += "_bucket";
    append_labels(out, labels, bound);
    out += ' ';
    out += std::to_string(cumulative);
    out += '\n';
  }
  write_sample(out, base + "_sum", labels, seconds_text(counts.sum_ms));
  // The count is the +Inf bucket's: with relaxed counters, `count` itself may lag the buckets.
  write_sample(out, base + "_count", labels, std::to_string(cumulative));
}

}  // namespace invited::app
