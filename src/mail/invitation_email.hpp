#pragma once

#include <string>

#include "domain/records.hpp"

namespace invited::mail {

struct RenderedEmail {
  std::string subject;
  std::string text;
  std::string html;
};

// The consolidated invitation: names the organization, lists every website (name and URL) or
// group with its role, states the expiry, and links to `accept_url`. Every supplied value is
// HTML-escaped in the HTML part.
RenderedEmail render_invitation(const domain::Invitation& invitation,
                                const std::string& accept_url);

}  // namespace invited::mail
