#include "http/cors.hpp"

#include <algorithm>
#include <cctype>

namespace invited::http {
namespace {

constexpr std::string_view kScope = "/api/";
constexpr std::string_view kExample = "https://app.example.com or http://localhost:3000";

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool is_host_name(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  return std::all_of(host.begin(), host.end(),
                     [](unsigned char c) { return std::isalnum(c) || c == '-' || c == '.'; });
}

bool is_ipv6_literal(std::string_view host) {
  if (host.size() < 4 || host.front() != '[' || host.back() != ']') return false;
  return std::all_of(host.begin() + 1, host.end() - 1,
                     [](unsigned char c) { return std::isxdigit(c) || c == ':' || c == '.'; });
}

// `text` as an origin in normalized form (lower-case, default port dropped), or why it is not
// one: a phrase that says what to fix.
std::variant<std::string, std::string> normalize(std::string_view text) {
  using Outcome = std::variant<std::string, std::string>;
  auto refuse = [](std::string why) { return Outcome(std::in_place_index<1>, std::move(why)); };
  if (text == "*") return refuse("a wildcard is not allowed; list each origin");
  const std::string folded = lower(text);
  std::string_view rest = folded;
  std::string_view scheme;
  for (std::string_view candidate : {"https://", "http://"}) {
    if (rest.starts_with(candidate)) scheme = candidate;
  }
  if (scheme.empty()) return refuse("it must start with http:// or https://");
  rest.remove_prefix(scheme.size());
  if (rest.find('*') != std::string_view::npos) {
    return refuse("a wildcard is not allowed; list each origin");
  }
  if (rest.find('@') != std::string_view::npos) return refuse("drop the user name");
  if (auto cut = rest.find_first_of("/?#"); cut != std::string_view::npos) {
    return refuse(rest[cut] == '/' && cut + 1 == rest.size()
                      ? "drop the trailing slash: an origin has no path"
                      : "drop everything after the host and port: an origin has no path, query "
                        "or fragment");
  }
  std::string_view host = rest;
  std::string_view port;
  auto colon = rest.rfind(':');
  if (colon != std::string_view::npos && rest.find(']', colon) == std::string_view::npos) {
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
    const bool digits =
        !port.empty() && port.size() <= 5 &&
        std::all_of(port.begin(), port.end(), [](unsigned char c) { return std::isdigit(c); });
    if (!digits || std::stoi(std::string(port)) < 1 || std::stoi(std::string(port)) > 65535) {
      return refuse("the port must be a number from 1 to 65535");
    }
    port.remove_prefix(std::min(port.find_first_not_of('0'), port.size()));
  }
  if (!is_host_name(host) && !is_ipv6_literal(host)) {
    return refuse("it needs a host name or IP address after the scheme");
  }
  const bool default_port =
      (scheme == "https://" && port == "443") || (scheme == "http://" && port == "80");
  std::string origin = std::string(scheme) + std::string(host);
  if (!port.empty() && !default_port) {
    origin += ':';
    origin += port;
  }
  return Outcome(std::in_place_index<0>, std::move(origin));
}

bool in_scope(const Request& request) { return request.path.starts_with(kScope); }

bool has_header(const Response& response, std::string_view name) {
  return std::any_of(response.headers.begin(), response.headers.end(),
                     [name](const auto& header) { return header.first == name; });
}

}  // namespace

std::variant<CorsPolicy, std::string> CorsPolicy::parse(std::string_view list) {
  CorsPolicy policy;
  if (trim(list).empty()) return policy;
  std::size_t start = 0;
  while (start <= list.size()) {
    auto comma = list.find(',', start);
    if (comma == std::string_view::npos) comma = list.size();
    std::string_view entry = trim(list.substr(start, comma - start));
    if (entry.empty()) {
      return std::string(
                 "--cors-origins has an empty entry; separate origins with single "
                 "commas, such as ") +
             std::string(kExample);
    }
    auto origin = normalize(entry);
    if (origin.index() == 1) {
      return "--cors-origins \"" + std::string(entry) +
             "\" is not an origin: " + std::get<1>(origin) +
             " (an origin is scheme://host[:port], such as " + std::string(kExample) + ")";
    }
    policy.origins_.push_back(std::get<0>(std::move(origin)));
    start = comma + 1;
  }
  return policy;
}

std::optional<std::string> CorsPolicy::allowed_origin(const Request& request) const {
  if (origins_.empty()) return std::nullopt;
  auto origin = request.header("origin");
  if (!origin) return std::nullopt;
  auto normalized = normalize(*origin);
  if (normalized.index() != 0) return std::nullopt;
  if (std::find(origins_.begin(), origins_.end(), std::get<0>(normalized)) == origins_.end()) {
    return std::nullopt;
  }
  return std::string(*origin);
}

std::optional<Response> CorsPolicy::preflight(const Request& request,
                                              std::string_view allow) const {
  if (request.method != Method::kOptions || !in_scope(request)) return std::nullopt;
  auto origin = allowed_origin(request);
  if (!origin) return std::nullopt;
  Response response;
  response.status = 204;
  response.content_type.clear();
  response.headers = {
      {"access-control-allow-origin", *origin},
      {"access-control-allow-methods", std::string(allow)},
      {"access-control-allow-headers", std::string(kAllowedHeaders)},
      {"access-control-max-age", std::to_string(kMaxAgeSeconds)},
      {"vary", "origin"},
  };
  return response;
}

void CorsPolicy::add_headers(const Request& request, Response& response) const {
  if (origins_.empty() || !in_scope(request)) return;
  if (has_header(response, "access-control-allow-origin")) return;
  if (!has_header(response, "vary")) response.headers.emplace_back("vary", "origin");
  auto origin = allowed_origin(request);
  if (!origin) return;
  response.headers.emplace_back("access-control-allow-origin", std::move(*origin));
  response.headers.emplace_back("access-control-expose-headers", std::string(kExposedHeaders));
}

}  // namespace invited::http
