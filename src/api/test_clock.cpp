// POST /_test/clock: lets a black-box test move the service's clock forward (domain::now()), so
// an expiry, a retry schedule or a retention period days away is reached without waiting.
// Compiled only into test builds (INVITED_TEST_CLOCK: the sanitized build the tests run); a
// release build has no such route and answers 404. No API key: a test build is never exposed.
#include "api/routes.hpp"

#ifdef INVITED_TEST_CLOCK
#include <boost/json.hpp>
#include <variant>

#include "api/json_io.hpp"
#include "domain/clock.hpp"
#endif

namespace invited::api {

void register_test_clock(http::Router& router) {
#ifdef INVITED_TEST_CLOCK
  // Body {"advance_ms": N} (N >= 0) moves the clock N ms forward; answers {"now_ms"}, the
  // service's time from then on. {} reads it.
  router.add(
      http::Method::kPost, "/_test/clock", [](http::Request& request, http::Respond respond) {
        auto body = read_json_object(request);
        if (auto* response = std::get_if<http::Response>(&body))
          return respond(std::move(*response));
        const auto& object = std::get<boost::json::object>(body);
        std::int64_t advance = 0;
        if (const auto* value = object.if_contains("advance_ms")) {
          if (!value->is_int64() || value->as_int64() < 0) {
            return respond(error_response(
                400, "validation_error", "advance_ms must be a whole number of milliseconds >= 0"));
          }
          advance = value->as_int64();
        }
        const auto now = domain::advance_test_clock(advance);
        respond(json_response(200, boost::json::object{{"now_ms", now.unix_ms}}));
      });
#else
  (void)router;
#endif
}

}  // namespace invited::api
