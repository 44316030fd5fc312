#include "domain/organizations.hpp"

#include <algorithm>

#include "domain/resources.hpp"
#include "domain/secret.hpp"

namespace invited::domain {

std::optional<NewApiKeyRequest> validate_new_api_key(
    const std::optional<std::string>& name,
    const std::optional<std::vector<std::string>>& website_ids, FieldErrors& errors) {
  auto valid_name = validate_resource_name("name", name, true, errors);
  auto ids = parse_website_id_list("website_ids", website_ids, errors);
  if (!errors.empty()) return std::nullopt;
  return NewApiKeyRequest{*valid_name, std::move(ids)};
}

Result<IssuedApiKey> create_api_key(WriteTx& tx, Pk org_pk, const NewApiKeyRequest& request,
                                    Instant now, FieldErrors& errors, const Actor& actor) {
  std::vector<Pk> website_pks =
      resolve_websites(tx, org_pk, "website_ids", request.website_ids, errors);
  if (!errors.empty()) return Error{ErrorCode::kValidation, errors.summary()};
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
  tx.record_event(api_key_event(EventType::kApiKeyCreated, org_pk, key, actor, now.seconds()));
  return IssuedApiKey{std::move(key), std::move(secret.plain)};
}

Result<NewOrganization> create_organization(WriteTx& tx, std::string_view name,
                                            const std::optional<Email>& owner_email, Instant now) {
  NewOrganization created;
  created.organization = tx.insert_organization(Uuid::v7(now.unix_ms), name, now.seconds());
  FieldErrors no_websites;
  auto key = create_api_key(tx, created.organization.pk, {"default", {}}, now, no_websites,
                            Actor::admin());
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
    if (tx.add_membership_if_absent({TargetKind::kOrganization, created.organization.pk}, owner.pk,
                                    Role::kOwner, now.seconds())) {
      tx.record_event(membership_event(
          EventType::kMembershipCreated, created.organization.pk,
          MembershipFacts{.target = {TargetKind::kOrganization, created.organization.pk},
                          .target_id = created.organization.id,
                          .user = owner,
                          .email = owner_email->address(),
                          .role = Role::kOwner},
          Actor::admin(), now.seconds()));
    }
    created.owner = owner;
  }
  return created;
}

Result<ApiKey> revoke_api_key_in_any_organization(WriteTx& tx, const Uuid& key_id, Instant now) {
  auto key = tx.find_api_key_in_any_organization(key_id);
  if (!key) return Error{ErrorCode::kNotFound, "no API key has the id " + key_id.str()};
  return revoke_api_key(tx, key->org_pk, key_id, now, Actor::admin());
}

Result<ApiKey> revoke_api_key(WriteTx& tx, Pk org_pk, const Uuid& key_id, Instant now,
                              const Actor& actor) {
  auto key = tx.find_api_key_by_id(org_pk, key_id);
  if (!key) return Error{ErrorCode::kNotFound, "API key not found"};
  if (!key->revoked_at) {
    tx.revoke_api_key(key->pk, now.seconds());
    key->revoked_at = now.seconds();
    tx.record_event(api_key_event(EventType::kApiKeyRevoked, org_pk, *key, actor, now.seconds()));
  }
  return *key;
}

}  // namespace invited::domain
