#pragma once

#include <boost/json.hpp>

#include "domain/records.hpp"

namespace invited::api {

// The JSON shape of each resource (SPEC §5), in one place.
boost::json::object website_json(const domain::Website& website);
boost::json::object group_json(const domain::Group& group);
boost::json::object member_json(const domain::Member& member);

}  // namespace invited::api
