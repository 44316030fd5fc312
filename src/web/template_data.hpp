#pragma once

#include <kainjow/mustache.hpp>
#include <vector>

#include "domain/records.hpp"

namespace invited::web {

// The {{#targets}} list shared by the invitation email and the accept page: name, url (websites
// only) and role of every target.
kainjow::mustache::data targets_data(const std::vector<domain::InvitationTarget>& targets);

}  // namespace invited::web
