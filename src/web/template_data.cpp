#include "web/template_data.hpp"

namespace invited::web {

kainjow::mustache::data targets_data(const std::vector<domain::InvitationTarget>& targets) {
  kainjow::mustache::data list{kainjow::mustache::data::type::list};
  for (const auto& target : targets) {
    kainjow::mustache::data item;
    item.set("name", target.name);
    if (!target.url.empty()) item.set("url", target.url);
    item.set("role", std::string(domain::role_name(target.role)));
    list.push_back(item);
  }
  return list;
}

}  // namespace invited::web
