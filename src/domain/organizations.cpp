#include "domain/organizations.hpp"

#include <algorithm>

#include "domain/secret.hpp"

namespace invited::domain {

Result<IssuedApiKey> create_api_key(WriteTx& tx, Pk org_pk, const NewApiKeyRequest& request,
                                    Instant now) {
  std::vector<Pk> website_pks;
  for (const Uuid& id : request.website_ids) {
    auto pk = tx.find_live_website_pk(org_pk, id);
    if (!pk) {
      return Error{ErrorCode::kValidation,
                   "website " + id.str() + " is not a website of this organization"};
    }
    website_pks.push_back(*pk);
  }
  std::sort(website_pks.begin(), website_pks.end());
  IssuedSecret secret = issue_secret("ik_");
  ApiKey key = tx.insert_api_key(NewApiKey{.id = Uuid::v7(now.unix_ms),
                                           .org_pk = org_pk,
                                           .name = request.name,
                                           .hash = secret.hash,
                                           .scoped = !request.website_ids.empty(),
                                           .website_pks = std::move(website_pks),
                                           .created_at = now.seconds()});
  key.website_ids = request.website_ids;
  return IssuedApiKey{std::move(key), std::move(secret.plain)};
}

Result<NewOrganization> create_organization(WriteTx& tx, std::string_view name,
                                            const std::optional<Email>& owner_email, Instant now) {
  NewOrganization created;
  created.organization = tx.insert_organization(Uuid::v7(now.unix_ms), name, now.seconds());
  auto key = create_api_key(tx, created.organization.pk, {"default", {}}, now);
  if (!key) return key.error();
  created.global_key = std::move(*key);
  created.global_key.key.org_id = created.organization.id;
  if (owner_email) {
    UserRef owner = tx.insert_user_if_absent(NewUser{.id = Uuid::v7(now.unix_ms),
                                                     .email_address = owner_email->address(),
                                                     .email_key = owner_email->key(),
                                                     .first_name = std::nullopt,
                                                     .last_name = std::nullopt,
                                                     .email_verified = false,
                                                     .created_at = now.seconds()});
    tx.add_membership_if_absent({TargetKind::kOrganization, created.organization.pk}, owner.pk,
                                Role::kOwner, now.seconds());
    created.owner = owner;
  }
  return created;
}

}  // namespace invited::domain
