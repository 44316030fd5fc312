#pragma once

#include <optional>
#include <string>
#include <vector>

#include "domain/field_errors.hpp"
#include "domain/uuid.hpp"

namespace invited::domain {

inline constexpr std::size_t kMaxUrlLength = 2048;
inline constexpr std::size_t kMaxResourceNameLength = 200;
inline constexpr std::size_t kMaxGroupWebsites = 1000;

// POST /api/v1/websites: an absolute http(s) URL with a host, at most 2048 characters, no
// whitespace or control characters; an optional name (1..200 characters), defaulting to the
// URL's host.
struct NewWebsiteRequest {
  std::string url;
  std::string name;
};

std::optional<NewWebsiteRequest> validate_new_website(const std::optional<std::string>& url,
                                                      const std::optional<std::string>& name,
                                                      FieldErrors& errors);

// POST /api/v1/groups: a name (1..200 characters) and up to 1000 distinct website ids.
struct NewGroupRequest {
  std::string name;
  std::vector<Uuid> website_ids;
};

std::optional<NewGroupRequest> validate_new_group(
    const std::optional<std::string>& name,
    const std::optional<std::vector<std::string>>& website_ids, FieldErrors& errors);

// The ids of a list field: each must be a UUID and appear once; failures are reported as
// `field[i]`.
std::vector<Uuid> parse_distinct_ids(std::string_view field, const std::vector<std::string>& ids,
                                     FieldErrors& errors);

// Validates a name field of a resource: present (when `required`), 1..200 characters, no
// control characters.
std::optional<std::string> validate_resource_name(std::string_view field,
                                                  const std::optional<std::string>& name,
                                                  bool required, FieldErrors& errors);

}  // namespace invited::domain
