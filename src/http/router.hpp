#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "http/message.hpp"

namespace invited::http {

// Maps method + path to a handler. Patterns are literal segments and `{name}` placeholders
// (one whole segment each): /api/v1/websites/{id}/members. Not thread-safe to modify; safe to
// match from many threads once built.
class Router {
 public:
  void add(Method method, std::string_view pattern, Handler handler);

  struct Match {
    enum class Kind { kFound, kNotFound, kMethodNotAllowed } kind = Kind::kNotFound;
    const Handler* handler = nullptr;
    std::string pattern;
    std::vector<std::string> params;
    std::string allow;  // for kMethodNotAllowed: "GET, POST"
  };

  // A path with a trailing slash or empty segments matches nothing.
  Match match(Method method, std::string_view path) const;

 private:
  struct Route {
    Method method;
    std::string pattern;
    std::vector<std::string> segments;  // "{}" for a placeholder
    Handler handler;
  };
  std::vector<Route> routes_;
};

}  // namespace invited::http
