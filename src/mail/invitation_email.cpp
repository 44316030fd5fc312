#include "mail/invitation_email.hpp"

#include <ctime>
#include <kainjow/mustache.hpp>

#include "web/templates.hpp"

namespace invited::mail {
namespace mustache = kainjow::mustache;

namespace {

std::string summary(const domain::Invitation& invitation) {
  std::size_t websites = 0;
  std::size_t groups = 0;
  for (const auto& target : invitation.targets) {
    if (target.kind == domain::TargetKind::kWebsite) ++websites;
    if (target.kind == domain::TargetKind::kGroup) ++groups;
  }
  auto count = [](std::size_t n, const char* one, const char* many) {
    return std::to_string(n) + " " + (n == 1 ? one : many);
  };
  if (websites && groups) return count(websites, "website", "websites") + " and " +
                                 count(groups, "group", "groups");
  if (groups) return count(groups, "group", "groups");
  if (websites) return count(websites, "website", "websites");
  return "the organization";
}

std::string render(std::string_view name, const mustache::data& data) {
  mustache::mustache view{std::string(web::template_text(name))};
  return view.render(data);
}

}  // namespace

std::string human_date(domain::UnixSeconds seconds) {
  std::time_t t = static_cast<std::time_t>(seconds);
  std::tm utc{};
  gmtime_r(&t, &utc);
  char buffer[64];
  std::strftime(buffer, sizeof buffer, "%d %B %Y, %H:%M UTC", &utc);
  std::string text = buffer;
  if (text.front() == '0') text.erase(0, 1);
  return text;
}

RenderedEmail render_invitation(const domain::Invitation& invitation,
                                const std::string& accept_url) {
  mustache::data data;
  data.set("organization", invitation.organization_name);
  std::string greeting;
  if (invitation.first_name) greeting = *invitation.first_name;
  if (invitation.last_name) greeting += (greeting.empty() ? "" : " ") + *invitation.last_name;
  if (!greeting.empty()) data.set("greeting_name", greeting);
  data.set("summary", summary(invitation));
  mustache::data targets{mustache::data::type::list};
  for (const auto& target : invitation.targets) {
    mustache::data item;
    item.set("name", target.name);
    if (!target.url.empty()) item.set("url", target.url);
    item.set("role", std::string(domain::role_name(target.role)));
    targets.push_back(item);
  }
  data.set("targets", targets);
  data.set("accept_url", accept_url);
  data.set("expires", human_date(invitation.expires_at));

  RenderedEmail email;
  email.subject = invitation.organization_name + " invited you to " + summary(invitation);
  email.text = render("invitation_email.txt.mustache", data);
  email.html = render("invitation_email.html.mustache", data);
  return email;
}

}  // namespace invited::mail
