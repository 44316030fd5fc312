#pragma once

#include <kainjow/mustache.hpp>
#include <string_view>
#include <vector>

#include "domain/records.hpp"

namespace invited::web {

// The {{#targets}} list shared by the invitation email and the accept page: name, url (websites
// only), href (the url, when is_http_link allows it) and role of every target.
kainjow::mustache::data targets_data(const std::vector<domain::InvitationTarget>& targets);

// Whether `url` may be the href of a link: an absolute http:// or https:// URL (scheme in any
// case) without whitespace or control characters. Anything else (javascript:, data:, a relative
// path) is shown as text, never linked. The template still escapes it.
bool is_http_link(std::string_view url);

}  // namespace invited::web
