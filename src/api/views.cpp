#include "api/views.hpp"

#include "api/json_io.hpp"

namespace invited::api {
namespace json = boost::json;

json::object website_json(const domain::Website& website) {
  return json::object{{"id", uuid_json(website.id)},
                      {"url", website.url},
                      {"name", website.name},
                      {"org_id", uuid_json(website.org_id)},
                      {"created_at", timestamp_json(website.created_at)}};
}

json::object group_json(const domain::Group& group) {
  json::array website_ids;
  website_ids.reserve(group.website_ids.size());
  for (const auto& id : group.website_ids) website_ids.push_back(uuid_json(id));
  return json::object{{"id", uuid_json(group.id)},
                      {"name", group.name},
                      {"org_id", uuid_json(group.org_id)},
                      {"website_ids", std::move(website_ids)},
                      {"created_at", timestamp_json(group.created_at)}};
}

json::object member_json(const domain::Member& member) {
  return json::object{{"user_id", uuid_json(member.user_id)},
                      {"email", member.email},
                      {"first_name", optional_json(member.first_name)},
                      {"last_name", optional_json(member.last_name)},
                      {"email_verified", member.email_verified},
                      {"role", domain::role_name(member.role)},
                      {"access_type", domain::access_type_name(member.access_type)},
                      {"created_at", timestamp_json(member.created_at)}};
}

}  // namespace invited::api
