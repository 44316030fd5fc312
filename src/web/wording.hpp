#pragma once

#include <string>
#include <vector>

#include "domain/records.hpp"

namespace invited::web {

// Phrases shared by the pages and the invitation email, so both say the same thing.

// "3 websites", "1 website and 2 groups of websites", "the whole organization".
std::string describe_targets(const std::vector<domain::InvitationTarget>& targets);

// "5 December 2026 at 00:33 UTC".
std::string human_date(domain::UnixSeconds seconds);

}  // namespace invited::web
