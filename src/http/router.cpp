#include "http/router.hpp"

namespace invited::http {
namespace {

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> segments;
  if (path.empty() || path.front() != '/') return segments;
  path.remove_prefix(1);
  while (true) {
    auto slash = path.find('/');
    segments.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return segments;
}

}  // namespace

void Router::add(Method method, std::string_view pattern, Handler handler) {
  Route route{method, std::string(pattern), {}, std::move(handler)};
  for (auto segment : split_path(pattern)) {
    bool placeholder = segment.size() >= 2 && segment.front() == '{' && segment.back() == '}';
    route.segments.emplace_back(placeholder ? "{}" : std::string(segment));
  }
  routes_.push_back(std::move(route));
}

Router::Match Router::match(Method method, std::string_view path) const {
  Match result;
  auto segments = split_path(path);
  for (auto segment : segments) {
    if (segment.empty()) return result;
  }
  for (const Route& route : routes_) {
    if (route.segments.size() != segments.size()) continue;
    std::vector<std::string> params;
    bool matches = true;
    for (std::size_t i = 0; i < segments.size() && matches; ++i) {
      if (route.segments[i] == "{}") {
        params.emplace_back(segments[i]);
      } else {
        matches = route.segments[i] == segments[i];
      }
    }
    if (!matches) continue;
    if (route.method == method) {
      result.kind = Match::Kind::kFound;
      result.handler = &route.handler;
      result.pattern = route.pattern;
      result.params = std::move(params);
      return result;
    }
    result.kind = Match::Kind::kMethodNotAllowed;
    result.pattern = route.pattern;
    if (result.allow.find(method_name(route.method)) == std::string::npos) {
      if (!result.allow.empty()) result.allow += ", ";
      result.allow += method_name(route.method);
    }
  }
  return result;
}

}  // namespace invited::http
