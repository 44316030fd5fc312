#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "http/message.hpp"
#include "metrics/duration_histogram.hpp"

namespace invited::http {

// The requests of one route and method: how long they took and how they were answered.
struct RouteRequestStats {
  std::string route;        // a router pattern (/api/v1/websites/{id}) or kUnmatchedRoute
  std::string_view method;  // GET, HEAD, ..., OTHER (method_name)
  metrics::DurationCounts duration;
  // Responses per status class: 2xx, 3xx, 4xx, 5xx.
  static constexpr std::array<std::string_view, 4> kClasses = {"2xx", "3xx", "4xx", "5xx"};
  std::array<std::uint64_t, kClasses.size()> responses{};
};

// The route label of requests that no pattern describes: unknown paths, and requests answered
// before they were routed (malformed, or refused for the connection bounds). Never a pattern,
// which starts with '/'.
inline constexpr std::string_view kUnmatchedRoute = "unmatched";

// Per route and method: a duration histogram and counts of responses per status class.
//
// The routes are fixed at construction (the router's patterns), so the label set is bounded
// whatever paths clients send: a request is counted under its route's pattern, never its path.
// record() takes no lock (relaxed atomics), from any thread; snapshot() may run meanwhile and
// then sees a request in its histogram and not yet in its status class, or the reverse.
class RequestMetrics {
 public:
  // `routes`: the labels of the routes, each once. A last slot, kUnmatchedRoute, is added.
  explicit RequestMetrics(std::vector<std::string> routes);

  // The slot of kUnmatchedRoute.
  std::size_t unmatched() const { return routes_.size() - 1; }

  // Counts one response. `route` is an index into the constructor's `routes`, or unmatched().
  void record(std::size_t route, Method method, int status, std::chrono::nanoseconds duration);

  // Every route and method that has answered at least one request, routes in their order.
  std::vector<RouteRequestStats> snapshot() const;

 private:
  static constexpr std::size_t kMethods = static_cast<std::size_t>(Method::kOther) + 1;
  struct Series {
    metrics::DurationHistogram duration;
    std::array<std::atomic<std::uint64_t>, RouteRequestStats::kClasses.size()> responses{};
  };

  std::vector<std::string> routes_;
  std::unique_ptr<Series[]> series_;  // routes_.size() × kMethods, by route then method
};

}  // namespace invited::http
