#include "mail/invitation_email.hpp"

#include <kainjow/mustache.hpp>

#include "web/template_data.hpp"
#include "web/templates.hpp"
#include "web/wording.hpp"

namespace invited::mail {
namespace mustache = kainjow::mustache;

namespace {

std::string render(std::string_view name, const mustache::data& data) {
  mustache::mustache view{std::string(web::template_text(name))};
  return view.render(data);
}

}  // namespace

RenderedEmail render_invitation(const domain::Invitation& invitation,
                                const std::string& accept_url) {
  mustache::data data;
  data.set("organization", invitation.organization_name);
  std::string greeting;
  if (invitation.first_name) greeting = *invitation.first_name;
  if (invitation.last_name) greeting += (greeting.empty() ? "" : " ") + *invitation.last_name;
  if (!greeting.empty()) data.set("greeting_name", greeting);
  data.set("summary", web::describe_targets(invitation.targets));
  data.set("targets", web::targets_data(invitation.targets));
  data.set("accept_url", accept_url);
  data.set("expires", web::human_date(invitation.expires_at));

  RenderedEmail email;
  email.subject =
      invitation.organization_name + " invited you to " + web::describe_targets(invitation.targets);
  email.text = render("invitation_email.txt.mustache", data);
  email.html = render("invitation_email.html.mustache", data);
  return email;
}

}  // namespace invited::mail
