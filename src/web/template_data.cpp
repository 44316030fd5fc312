#include "web/template_data.hpp"

#include <cctype>

namespace invited::web {

kainjow::mustache::data targets_data(const std::vector<domain::InvitationTarget>& targets) {
  kainjow::mustache::data list{kainjow::mustache::data::type::list};
  for (const auto& target : targets) {
    kainjow::mustache::data item;
    item.set("name", target.name);
    if (!target.url.empty()) item.set("url", target.url);
    if (is_http_link(target.url)) item.set("href", target.url);
    item.set("role", std::string(domain::role_name(target.role)));
    list.push_back(item);
  }
  return list;
}

bool is_http_link(std::string_view url) {
  auto starts_with = [url](std::string_view scheme) {
    if (url.size() <= scheme.size()) return false;
    for (std::size_t i = 0; i < scheme.size(); ++i) {
      if (std::tolower(static_cast<unsigned char>(url[i])) != scheme[i]) return false;
    }
    return true;
  };
  if (!starts_with("http://") && !starts_with("https://")) return false;
  for (char c : url) {
    auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte == 0x7f) return false;
  }
  return true;
}

}  // namespace invited::web
