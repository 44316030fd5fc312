#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "http/message.hpp"

namespace invited::http {

// Maps method + path to a handler. Patterns are literal segments and `{name}` placeholders
// (one whole segment each): /api/v1/websites/{id}/members. A placeholder matches only a UUID
// (8-4-4-4-12 hex digits, either case): every id in this API is one, so a path whose id is
// malformed names no resource and is "no route" (404) before any key check. A path that matches
// several patterns is served by the one with the most literal segments. A GET route also
// answers HEAD. Not thread-safe to modify; safe to match from many threads once built.
class Router {
 public:
  void add(Method method, std::string_view pattern, Handler handler);

  // What Match::pattern_index holds when no pattern matched.
  static constexpr std::size_t kNoPattern = static_cast<std::size_t>(-1);

  struct Match {
    enum class Kind { kFound, kNotFound, kMethodNotAllowed } kind = Kind::kNotFound;
    const Handler* handler = nullptr;
    std::string pattern;
    std::size_t pattern_index = kNoPattern;  // pattern's place in patterns(), for metrics
    std::vector<std::string> params;
    // For kFound and kMethodNotAllowed: every method the path answers, in registration order,
    // HEAD after GET: "GET, HEAD, POST".
    std::string allow;
  };

  // A path with a trailing slash or empty segments matches nothing.
  Match match(Method method, std::string_view path) const;

  // Every pattern added, once each (several methods may share one), in the order of their first
  // add(): the bounded set of labels a request can be counted under.
  const std::vector<std::string>& patterns() const { return patterns_; }

 private:
  struct Route {
    Method method;
    std::string pattern;
    std::size_t pattern_index = 0;      // in patterns_
    std::vector<std::string> segments;  // "{}" for a placeholder
    std::size_t literals = 0;           // how many segments are literal
    Handler handler;
  };
  std::vector<Route> routes_;
  std::vector<std::string> patterns_;
};

// Whether `text` is a UUID in canonical 8-4-4-4-12 form (hex digits in either case).
bool is_uuid_text(std::string_view text);

}  // namespace invited::http
