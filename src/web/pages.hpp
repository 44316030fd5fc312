#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "domain/invitations.hpp"

namespace invited::web {

// The HTML pages under /invites/. Every supplied value is HTML-escaped by the templates; the
// pages carry no script. Each returns a complete document.

// The invitation before the person decides, with Accept and Decline forms that post `token`.
std::string accept_page(const domain::OpenInvitation& open, std::string_view token);
// What the person now has after accepting.
std::string accepted_page(const domain::AcceptedInvitation& accepted);
std::string declined_page(const domain::OpenInvitation& declined);
// A page with a heading and one sentence: errors and simple outcomes.
std::string message_page(std::string_view heading, std::string_view message);

// Headers every page is sent with: a Content-Security-Policy that allows only the page's own
// inline stylesheet (by hash) and form posts to this origin, no framing, no caching, and no
// Referer (the token is in the URL).
const std::vector<std::pair<std::string, std::string>>& page_headers();

}  // namespace invited::web
