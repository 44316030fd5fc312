#include "http/router.hpp"

#include <algorithm>

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

void add_allowed(std::string& allow, Method method) {
  auto name = method_name(method);
  // Compare whole names: "GET" must not be found inside another.
  std::string_view rest = allow;
  while (!rest.empty()) {
    auto comma = rest.find(", ");
    if (rest.substr(0, comma) == name) return;
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 2);
  }
  if (!allow.empty()) allow += ", ";
  allow += name;
}

}  // namespace

bool is_uuid_text(std::string_view text) {
  if (text.size() != 36) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
      return false;
    }
  }
  return true;
}

void Router::add(Method method, std::string_view pattern, Handler handler) {
  auto known = std::find(patterns_.begin(), patterns_.end(), pattern);
  std::size_t pattern_index = static_cast<std::size_t>(known - patterns_.begin());
  if (known == patterns_.end()) patterns_.emplace_back(pattern);
  Route route{method, std::string(pattern), pattern_index, {}, 0, std::move(handler)};
  for (auto segment : split_path(pattern)) {
    bool placeholder = segment.size() >= 2 && segment.front() == '{' && segment.back() == '}';
    route.segments.emplace_back(placeholder ? "{}" : std::string(segment));
    if (!placeholder) ++route.literals;
  }
  routes_.push_back(std::move(route));
}

Router::Match Router::match(Method method, std::string_view path) const {
  Match result;
  auto segments = split_path(path);
  for (auto segment : segments) {
    if (segment.empty()) return result;
  }
  const Route* best = nullptr;
  const Route* best_get = nullptr;  // serves HEAD when no route takes HEAD itself
  std::vector<const Route*> matching;
  for (const Route& route : routes_) {
    if (route.segments.size() != segments.size()) continue;
    bool matches = true;
    for (std::size_t i = 0; i < segments.size() && matches; ++i) {
      matches =
          route.segments[i] == "{}" ? is_uuid_text(segments[i]) : route.segments[i] == segments[i];
    }
    if (!matches) continue;
    matching.push_back(&route);
    if (route.method == method && (!best || route.literals > best->literals)) best = &route;
    if (route.method == Method::kGet && (!best_get || route.literals > best_get->literals)) {
      best_get = &route;
    }
  }
  if (matching.empty()) return result;
  // Only the most literal patterns describe the path: /invites/bulk is not /invites/{id}.
  std::size_t most_literal = 0;
  for (const Route* route : matching) most_literal = std::max(most_literal, route->literals);
  for (const Route* route : matching) {
    if (route->literals != most_literal) continue;
    add_allowed(result.allow, route->method);
    if (route->method == Method::kGet) add_allowed(result.allow, Method::kHead);
  }
  if (!best && method == Method::kHead) best = best_get;
  if (!best || best->literals != most_literal) {
    result.kind = Match::Kind::kMethodNotAllowed;
    result.pattern = matching.front()->pattern;
    result.pattern_index = matching.front()->pattern_index;
    for (const Route* route : matching) {
      if (route->literals == most_literal) {
        result.pattern = route->pattern;
        result.pattern_index = route->pattern_index;
        break;
      }
    }
    return result;
  }
  result.kind = Match::Kind::kFound;
  result.handler = &best->handler;
  result.pattern = best->pattern;
  result.pattern_index = best->pattern_index;
  for (std::size_t i = 0; i < segments.size(); ++i) {
    if (best->segments[i] == "{}") result.params.emplace_back(segments[i]);
  }
  return result;
}

}  // namespace invited::http
