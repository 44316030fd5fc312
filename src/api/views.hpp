#pragma once

#include <boost/json.hpp>
#include <vector>

#include "domain/records.hpp"

namespace invited::api {

// The JSON shape of each resource (SPEC §5), in one place.
boost::json::object website_json(const domain::Website& website);
boost::json::object group_json(const domain::Group& group);
boost::json::object member_json(const domain::Member& member);

// A JSON array of `render(item)` for every item.
template <typename T, typename Render>
boost::json::array to_json_array(const std::vector<T>& items, Render render) {
  boost::json::array array;
  array.reserve(items.size());
  for (const auto& item : items) array.push_back(render(item));
  return array;
}

}  // namespace invited::api
