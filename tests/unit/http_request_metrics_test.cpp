#include <gtest/gtest.h>

#include <algorithm>

#include "http/request_metrics.hpp"

namespace invited::http {
namespace {

using std::chrono::milliseconds;

TEST(RequestMetrics, CountsPerRouteMethodAndStatusClass) {
  RequestMetrics metrics({"/a", "/b/{id}"});
  EXPECT_TRUE(metrics.snapshot().empty()) << "no series before the first request";
  metrics.record(1, Method::kGet, 200, milliseconds(3));
  metrics.record(1, Method::kGet, 404, milliseconds(30));
  metrics.record(1, Method::kHead, 204, milliseconds(1));
  metrics.record(metrics.unmatched(), Method::kOther, 501, milliseconds(0));
  metrics.record(99, Method::kPost, 404, milliseconds(0));  // out of range: unmatched

  auto rows = metrics.snapshot();
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0].route, "/b/{id}");
  EXPECT_EQ(rows[0].method, "GET");
  EXPECT_EQ(rows[0].duration.count, 2u);
  EXPECT_EQ(rows[0].responses, (std::array<std::uint64_t, 4>{1, 0, 1, 0}));
  EXPECT_NEAR(rows[0].duration.sum_ms, 33.0, 0.01);
  EXPECT_EQ(rows[1].method, "HEAD");
  EXPECT_EQ(rows[2].route, kUnmatchedRoute);
  EXPECT_EQ(rows[2].method, "POST");
  EXPECT_EQ(rows[3].route, kUnmatchedRoute);
  EXPECT_EQ(rows[3].method, "OTHER");
  EXPECT_EQ(rows[3].responses, (std::array<std::uint64_t, 4>{0, 0, 0, 1}));
}

TEST(RequestMetrics, BucketsByUpperBound) {
  RequestMetrics metrics({"/a"});
  metrics.record(0, Method::kGet, 200, milliseconds(2));  // le 2 ms
  metrics.record(0, Method::kGet, 200, std::chrono::seconds(60));
  auto counts = metrics.snapshot().at(0).duration;
  const auto& bounds = metrics::DurationCounts::kBoundsMs;
  std::size_t two =
      static_cast<std::size_t>(std::find(bounds.begin(), bounds.end(), 2.0) - bounds.begin());
  EXPECT_EQ(counts.buckets[two], 1u);
  EXPECT_EQ(counts.buckets.back(), 1u) << "past the last bound: the +Inf bucket";
}

}  // namespace
}  // namespace invited::http
