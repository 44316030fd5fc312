#pragma once

#include <algorithm>
#include <vector>

#include "domain/types.hpp"
#include "domain/uuid.hpp"

namespace invited::domain {

// Who is calling: the API key behind a request and what it may reach. A global key reaches every
// website of its organization; a scoped key only those in its allowlist, and nothing that needs
// the whole organization.
struct Principal {
  Pk org_pk = 0;
  Uuid org_id;
  Pk key_pk = 0;
  Uuid key_id;
  bool scoped = false;
  std::vector<Pk> allowed_website_pks;  // sorted; meaningful only when scoped

  bool can_reach_website(Pk website_pk) const {
    return !scoped ||
           std::binary_search(allowed_website_pks.begin(), allowed_website_pks.end(), website_pk);
  }
};

}  // namespace invited::domain
