#include "domain/resources.hpp"

#include <algorithm>

#include "domain/text.hpp"

namespace invited::domain {
namespace {

// The host of an absolute http(s) URL, or nullopt if `url` is not one.
std::optional<std::string> http_url_host(std::string_view url) {
  std::string_view rest;
  for (std::string_view scheme : {"https://", "http://"}) {
    if (url.size() > scheme.size() &&
        std::equal(scheme.begin(), scheme.end(), url.begin(), [](char a, char b) {
          return a == std::tolower(static_cast<unsigned char>(b));
        })) {
      rest = url.substr(scheme.size());
      break;
    }
  }
  if (rest.empty()) return std::nullopt;
  std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  auto at = authority.rfind('@');
  if (at != std::string_view::npos) authority.remove_prefix(at + 1);
  std::string_view host = authority;
  if (!host.empty() && host.front() == '[') {
    auto close = host.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = host.substr(0, close + 1);
  } else {
    host = host.substr(0, host.find(':'));
  }
  if (host.empty()) return std::nullopt;
  return std::string(host);
}

bool has_whitespace(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) { return c == ' ' || c == '\t'; });
}

}  // namespace

std::vector<Uuid> parse_distinct_ids(std::string_view field, const std::vector<std::string>& ids,
                                     FieldErrors& errors) {
  std::vector<Uuid> parsed;
  parsed.reserve(ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    std::string item = std::string(field) + "[" + std::to_string(i) + "]";
    auto id = Uuid::parse(ids[i]);
    if (!id) {
      errors.add(std::move(item), "must be a UUID such as 123e4567-e89b-12d3-a456-426614174000");
      continue;
    }
    if (std::find(parsed.begin(), parsed.end(), *id) != parsed.end()) {
      errors.add(std::move(item), "repeats an earlier id; each id may appear only once");
      continue;
    }
    parsed.push_back(*id);
  }
  return parsed;
}

std::optional<std::string> validate_resource_name(std::string_view field,
                                                  const std::optional<std::string>& name,
                                                  bool required, FieldErrors& errors) {
  if (!name) {
    if (required && !errors.has(field)) errors.add(std::string(field), "is required");
    return std::nullopt;
  }
  if (name->empty() || !is_valid_name(*name, kMaxResourceNameLength)) {
    errors.add(std::string(field), "must be 1 to 200 characters with no control characters");
    return std::nullopt;
  }
  return name;
}

std::optional<NewWebsiteRequest> validate_new_website(const std::optional<std::string>& url,
                                                      const std::optional<std::string>& name,
                                                      FieldErrors& errors) {
  std::optional<std::string> host;
  if (!url) {
    if (!errors.has("url")) errors.add("url", "is required");
  } else {
    if (url->size() <= kMaxUrlLength && !has_control_characters(*url) && !has_whitespace(*url)) {
      host = http_url_host(*url);
    }
    if (!host) {
      errors.add("url",
                 "must be an absolute http:// or https:// URL with a host, at most 2048 "
                 "characters, without spaces");
    }
  }
  auto valid_name = validate_resource_name("name", name, false, errors);
  if (!errors.empty()) return std::nullopt;
  return NewWebsiteRequest{*url, valid_name ? *valid_name : *host};
}

std::optional<NewGroupRequest> validate_new_group(
    const std::optional<std::string>& name,
    const std::optional<std::vector<std::string>>& website_ids, FieldErrors& errors) {
  auto valid_name = validate_resource_name("name", name, true, errors);
  std::vector<Uuid> ids;
  if (website_ids) {
    if (website_ids->size() > kMaxGroupWebsites) {
      errors.add("website_ids", "must contain at most 1000 items");
    } else {
      ids = parse_distinct_ids("website_ids", *website_ids, errors);
    }
  }
  if (!errors.empty()) return std::nullopt;
  return NewGroupRequest{*valid_name, std::move(ids)};
}

}  // namespace invited::domain
