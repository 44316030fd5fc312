#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "metrics/duration_histogram.hpp"

namespace invited::app {

// Pieces of the Prometheus text exposition format (version 0.0.4) for GET /metrics. Each
// appends to `out`. A family is one HELP and one TYPE line followed by its samples; every
// sample of a family must follow its header before the next family starts.

// name="value" pairs of one sample; values are escaped here (backslash, double quote, newline).
using Labels = std::vector<std::pair<std::string_view, std::string_view>>;

// The HELP and TYPE lines of a family: `type` is counter, gauge or histogram.
void write_family(std::string& out, std::string_view name, std::string_view type,
                  std::string_view help);

// One sample line: NAME{labels} VALUE (no braces without labels).
void write_sample(std::string& out, std::string_view name, const Labels& labels,
                  std::string_view value);

// The samples of one histogram of durations in seconds, `name` ending in _seconds:
// NAME_bucket{labels,le="..."} cumulative counts up to le="+Inf", then NAME_sum and NAME_count.
void write_duration_samples(std::string& out, std::string_view name, const Labels& labels,
                            const metrics::DurationCounts& counts);

// Milliseconds as seconds with six decimals (so a sum that grows never gets shorter).
std::string seconds_text(double ms);

}  // namespace invited::app
