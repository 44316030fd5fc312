#pragma once

#include <optional>
#include <string>
#include <vector>

#include "domain/clock.hpp"
#include "domain/email.hpp"
#include "domain/records.hpp"
#include "domain/result.hpp"
#include "domain/store.hpp"

namespace invited::domain {

// A new API key: its stored record and the secret, shown once.
struct IssuedApiKey {
  ApiKey key;
  std::string secret;
};

struct NewApiKeyRequest {
  std::string name;
  std::vector<Uuid> website_ids;  // empty: a global key
};

// Creates an API key for `org_pk`. Scoped keys name live websites of that organization; an
// unknown id fails with kValidation naming it, and nothing is written.
Result<IssuedApiKey> create_api_key(WriteTx& tx, Pk org_pk, const NewApiKeyRequest& request,
                                    Instant now);

struct NewOrganization {
  Organization organization;
  IssuedApiKey global_key;
  std::optional<UserRef> owner;
};

// Creates an organization with one global API key and, given `owner_email`, that user (found or
// created) as its owner.
Result<NewOrganization> create_organization(WriteTx& tx, std::string_view name,
                                            const std::optional<Email>& owner_email, Instant now);

}  // namespace invited::domain
