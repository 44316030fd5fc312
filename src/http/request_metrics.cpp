#include "http/request_metrics.hpp"

#include <algorithm>

namespace invited::http {

RequestMetrics::RequestMetrics(std::vector<std::string> routes) : routes_(std::move(routes)) {
  routes_.emplace_back(kUnmatchedRoute);
  series_ = std::make_unique<Series[]>(routes_.size() * kMethods);
}

void RequestMetrics::record(std::size_t route, Method method, int status,
                            std::chrono::nanoseconds duration) {
  if (route >= routes_.size()) route = unmatched();
  Series& series = series_[route * kMethods + static_cast<std::size_t>(method)];
  series.duration.record(duration);
  // Handlers answer with a final status (>= 200); anything past 5xx counts there.
  const int status_class = std::clamp(status / 100, 2, 5);
  series.responses[static_cast<std::size_t>(status_class - 2)].fetch_add(1,
                                                                         std::memory_order_relaxed);
}

std::vector<RouteRequestStats> RequestMetrics::snapshot() const {
  std::vector<RouteRequestStats> rows;
  for (std::size_t route = 0; route < routes_.size(); ++route) {
    for (std::size_t method = 0; method < kMethods; ++method) {
      const Series& series = series_[route * kMethods + method];
      metrics::DurationCounts duration = series.duration.snapshot();
      if (duration.count == 0) continue;
      RouteRequestStats row{.route = routes_[route],
                            .method = method_name(static_cast<Method>(method)),
                            .duration = duration,
                            .responses = {}};
      for (std::size_t i = 0; i < row.responses.size(); ++i) {
        row.responses[i] = series.responses[i].load(std::memory_order_relaxed);
      }
      rows.push_back(std::move(row));
    }
  }
  return rows;
}

}  // namespace invited::http
