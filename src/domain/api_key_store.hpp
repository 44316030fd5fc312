#pragma once

#include <optional>

#include "domain/records.hpp"

namespace invited::domain {

// Storage of API keys: each belongs to one organization and is stored as the hash of its
// secret; a scoped key has an allowlist of websites. Part of a unit of work (domain/store.hpp).
class ApiKeyReadTx {
 public:
  virtual ~ApiKeyReadTx() = default;

  // The key with this hash, revoked or not; nullopt if none.
  virtual std::optional<ApiKey> find_api_key(const SecretHash& hash) = 0;
  virtual std::optional<ApiKey> find_api_key_by_id(Pk org_pk, const Uuid& id) = 0;
  // The key with this id in whichever organization holds it (ids are unique across them), for
  // the operator's commands; the API always looks keys up within the caller's organization.
  virtual std::optional<ApiKey> find_api_key_in_any_organization(const Uuid& id) = 0;
  // Oldest first (created_at, then id); revoked keys included.
  virtual Page<ApiKey> list_api_keys(Pk org_pk, const ListRequest& request) = 0;
};

class ApiKeyWriteTx : public virtual ApiKeyReadTx {
 public:
  // Stores the key and its allowlist (live websites of the key's organization).
  virtual ApiKey insert_api_key(const NewApiKey& key) = 0;
  // Sets revoked_at unless the key is revoked already.
  virtual void revoke_api_key(Pk key_pk, UnixSeconds now) = 0;
};

}  // namespace invited::domain
