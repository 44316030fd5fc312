#pragma once

#include <optional>
#include <string>
#include <vector>

#include "domain/clock.hpp"
#include "domain/email.hpp"
#include "domain/field_errors.hpp"
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

// POST /api/v1/api-keys: a name (1..200 characters) and optional website ids (at most 1000,
// distinct) that make the key scoped.
std::optional<NewApiKeyRequest> validate_new_api_key(
    const std::optional<std::string>& name,
    const std::optional<std::vector<std::string>>& website_ids, FieldErrors& errors);

// Creates an API key for `org_pk`. Scoped keys name live websites of that organization; an
// unknown id fails with kValidation and is named in `errors`, and nothing is written. Records
// api_key.created with `actor` (the admin CLI's by default; the API passes the calling key).
Result<IssuedApiKey> create_api_key(WriteTx& tx, Pk org_pk, const NewApiKeyRequest& request,
                                    Instant now, FieldErrors& errors,
                                    const Actor& actor = Actor::admin());

// Revokes a key of `org_pk` (idempotent). It stops working on the next request. kNotFound if
// the organization has no such key. Records api_key.revoked with `actor` when it revokes (not
// for a key revoked already): every caller, the API and the admin CLI, goes through here.
Result<ApiKey> revoke_api_key(WriteTx& tx, Pk org_pk, const Uuid& key_id, Instant now,
                              const Actor& actor = Actor::admin());

// Revokes the key `key_id` of whichever organization holds it (idempotent): the operator's
// `invited admin revoke-key`. kNotFound if no organization has such a key. The same revocation as
// the API's, in the caller's unit of work, recorded with the actor `admin`.
Result<ApiKey> revoke_api_key_in_any_organization(WriteTx& tx, const Uuid& key_id, Instant now);

struct NewOrganization {
  Organization organization;
  IssuedApiKey global_key;
  std::optional<UserRef> owner;
};

// Creates an organization with one global API key and, given `owner_email`, that user (found or
// created) as its owner. Records api_key.created and the owner's membership.created (actor admin).
Result<NewOrganization> create_organization(WriteTx& tx, std::string_view name,
                                            const std::optional<Email>& owner_email, Instant now);

}  // namespace invited::domain
