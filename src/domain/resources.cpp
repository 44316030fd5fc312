#include "domain/resources.hpp"

#include <algorithm>

#include "domain/messages.hpp"
#include "domain/text.hpp"

namespace invited::domain {
namespace {

// The host of an absolute http(s) URL, or nullopt if `url` is not one.
std::optional<std::string> http_url_host(std::string_view url) {
  std::string_view rest;
  for (std::string_view scheme : {"https://", "http://"}) {
    if (url.size() > scheme.size() &&
        std::equal(scheme.begin(), scheme.end(), url.begin(), [](char a, char b) {
          return a == std::tolower(static_cast<unsigned char>(b));
        })) {
      rest = url.substr(scheme.size());
      break;
    }
  }
  if (rest.empty()) return std::nullopt;
  std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  auto at = authority.rfind('@');
  if (at != std::string_view::npos) authority.remove_prefix(at + 1);
  std::string_view host = authority;
  if (!host.empty() && host.front() == '[') {
    auto close = host.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = host.substr(0, close + 1);
  } else {
    host = host.substr(0, host.find(':'));
  }
  if (host.empty()) return std::nullopt;
  return std::string(host);
}

bool has_whitespace(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) { return c == ' ' || c == '\t'; });
}

}  // namespace

std::vector<Uuid> parse_distinct_ids(std::string_view field, const std::vector<std::string>& ids,
                                     FieldErrors& errors) {
  std::vector<Uuid> parsed;
  parsed.reserve(ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    std::string item = std::string(field) + "[" + std::to_string(i) + "]";
    auto id = Uuid::parse(ids[i]);
    if (!id) {
      errors.add(std::move(item), "must be a UUID such as 123e4567-e89b-12d3-a456-426614174000");
      continue;
    }
    if (std::find(parsed.begin(), parsed.end(), *id) != parsed.end()) {
      errors.add(std::move(item), "repeats an earlier id; each id may appear only once");
      continue;
    }
    parsed.push_back(*id);
  }
  return parsed;
}

std::optional<std::string> validate_resource_name(std::string_view field,
                                                  const std::optional<std::string>& name,
                                                  bool required, FieldErrors& errors) {
  if (!name) {
    if (required && !errors.has(field)) errors.add(std::string(field), "is required");
    return std::nullopt;
  }
  if (name->empty() || !is_valid_name(*name, kMaxResourceNameLength)) {
    errors.add(std::string(field),
               "must be 1 to 200 characters with no control, bidirectional or line-separator "
               "characters");
    return std::nullopt;
  }
  return name;
}

std::optional<NewWebsiteRequest> validate_new_website(const std::optional<std::string>& url,
                                                      const std::optional<std::string>& name,
                                                      FieldErrors& errors) {
  std::optional<std::string> host;
  if (!url) {
    if (!errors.has("url")) errors.add("url", "is required");
  } else {
    if (url->size() <= kMaxUrlLength && !has_control_characters(*url) && !has_whitespace(*url)) {
      host = http_url_host(*url);
    }
    if (!host) {
      errors.add("url",
                 "must be an absolute http:// or https:// URL with a host, at most 2048 "
                 "characters, without spaces");
    }
  }
  auto valid_name = validate_resource_name("name", name, false, errors);
  if (!errors.empty()) return std::nullopt;
  return NewWebsiteRequest{*url, valid_name ? *valid_name : *host};
}

std::vector<Uuid> parse_website_id_list(std::string_view field,
                                        const std::optional<std::vector<std::string>>& ids,
                                        FieldErrors& errors) {
  if (!ids) return {};
  if (ids->size() > kMaxGroupWebsites) {
    errors.add(std::string(field), "must contain at most 1000 items");
    return {};
  }
  return parse_distinct_ids(field, *ids, errors);
}

std::optional<NewGroupRequest> validate_new_group(
    const std::optional<std::string>& name,
    const std::optional<std::vector<std::string>>& website_ids, FieldErrors& errors) {
  auto valid_name = validate_resource_name("name", name, true, errors);
  auto ids = parse_website_id_list("website_ids", website_ids, errors);
  if (!errors.empty()) return std::nullopt;
  return NewGroupRequest{*valid_name, std::move(ids)};
}

std::optional<GroupPatch> validate_group_patch(
    const std::optional<std::string>& name,
    const std::optional<std::vector<std::string>>& add_website_ids,
    const std::optional<std::vector<std::string>>& remove_website_ids, FieldErrors& errors) {
  GroupPatch patch;
  patch.name = validate_resource_name("name", name, false, errors);
  patch.add_website_ids = parse_website_id_list("add_website_ids", add_website_ids, errors);
  patch.remove_website_ids =
      parse_website_id_list("remove_website_ids", remove_website_ids, errors);
  for (std::size_t i = 0; i < patch.remove_website_ids.size(); ++i) {
    const auto& id = patch.remove_website_ids[i];
    if (std::find(patch.add_website_ids.begin(), patch.add_website_ids.end(), id) !=
        patch.add_website_ids.end()) {
      errors.add("remove_website_ids[" + std::to_string(i) + "]",
                 "is also in add_website_ids; a website can be added or removed, not both");
    }
  }
  if (!errors.empty()) return std::nullopt;
  return patch;
}

std::vector<Pk> resolve_websites(TenancyReadTx& tx, Pk org_pk, std::string_view field,
                                 const std::vector<Uuid>& ids, FieldErrors& errors) {
  std::vector<Pk> pks;
  pks.reserve(ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    auto pk = tx.find_live_website_pk(org_pk, ids[i]);
    if (!pk) {
      errors.add(std::string(field) + "[" + std::to_string(i) + "]",
                 "is not a website of this organization");
      continue;
    }
    pks.push_back(*pk);
  }
  return pks;
}

namespace {

Error group_not_found() { return not_found(TargetKind::kGroup); }
Error website_not_found() { return not_found(TargetKind::kWebsite); }
Error unknown_websites() { return {ErrorCode::kValidation, "unknown website ids"}; }

}  // namespace

Result<Website> create_website(WriteTx& tx, const Principal& principal,
                               const NewWebsiteRequest& request, Instant now) {
  Website website = tx.insert_website(principal.org_pk, Uuid::v7(now.unix_ms), request.url,
                                      request.name, now.seconds());
  website.org_id = principal.org_id;
  tx.record_event(website_event(EventType::kWebsiteCreated, principal.org_pk, website,
                                Actor::api_key(principal), now.seconds()));
  return website;
}

Result<Group> create_group(WriteTx& tx, const Principal& principal, const NewGroupRequest& request,
                           Instant now, FieldErrors& errors) {
  const Pk org_pk = principal.org_pk;
  auto website_pks = resolve_websites(tx, org_pk, "website_ids", request.website_ids, errors);
  if (!errors.empty()) return unknown_websites();
  auto id = Uuid::v7(now.unix_ms);
  tx.insert_group(org_pk, id, request.name, website_pks, now.seconds());
  auto group = tx.find_group(org_pk, id);
  if (!group) return group_not_found();
  tx.record_event(group_event(EventType::kGroupCreated, org_pk, *group, Actor::api_key(principal),
                              now.seconds()));
  return *group;
}

Result<Group> patch_group(WriteTx& tx, const Principal& principal, const Uuid& group_id,
                          const GroupPatch& patch, Instant now, FieldErrors& errors) {
  const Pk org_pk = principal.org_pk;
  auto before = tx.find_group(org_pk, group_id);
  if (!before) return group_not_found();
  const std::optional<Pk> group_pk = before->pk;
  auto add = resolve_websites(tx, org_pk, "add_website_ids", patch.add_website_ids, errors);
  if (!errors.empty()) return unknown_websites();
  std::vector<Pk> remove;
  for (const Uuid& id : patch.remove_website_ids) {
    if (auto website = tx.find_website_including_deleted(org_pk, id)) remove.push_back(website->pk);
  }
  if (patch.name) tx.rename_group(*group_pk, *patch.name);
  if (!add.empty()) tx.add_group_websites(*group_pk, add);
  if (!remove.empty()) tx.remove_group_websites(*group_pk, remove);
  auto group = tx.find_group(org_pk, group_id);
  if (!group) return group_not_found();
  // Only a change is an event: a patch that renames to the same name or adds present websites
  // changes nothing.
  if (group->name != before->name || group->website_ids != before->website_ids) {
    tx.record_event(group_event(EventType::kGroupUpdated, org_pk, *group, Actor::api_key(principal),
                                now.seconds()));
  }
  return *group;
}

namespace {

// The invitation.revoked event of each pending invite a deletion closed.
void record_revoked(WriteTx& tx, const Principal& principal,
                    const std::vector<InviteRecord>& revoked, UnixSeconds now) {
  std::vector<NewEvent> events;
  events.reserve(revoked.size());
  for (const InviteRecord& invite : revoked) {
    events.push_back(invite_event(EventType::kInvitationRevoked, principal.org_pk, invite,
                                  Actor::api_key(principal), now));
  }
  tx.record_events(events);
}

}  // namespace

Status delete_group(WriteTx& tx, const Principal& principal, const Uuid& group_id, Instant now) {
  auto group = tx.find_group(principal.org_pk, group_id);
  if (!group) return group_not_found();
  tx.delete_group(group->pk, now.seconds());
  auto revoked = tx.revoke_pending_invites({TargetKind::kGroup, group->pk}, now.seconds());
  tx.record_event(group_event(EventType::kGroupDeleted, principal.org_pk, *group,
                              Actor::api_key(principal), now.seconds()));
  record_revoked(tx, principal, revoked, now.seconds());
  return {};
}

Result<Website> delete_website(WriteTx& tx, const Principal& principal, const Uuid& website_id,
                               Instant now) {
  auto website = tx.find_website_including_deleted(principal.org_pk, website_id);
  if (!website) return website_not_found();
  if (!website->deleted_at) {
    tx.record_event(website_event(EventType::kWebsiteDeleted, principal.org_pk, *website,
                                  Actor::api_key(principal), now.seconds()));
    website->deleted_at = now.seconds();
    tx.set_website_deleted(website->pk, website->deleted_at);
    auto revoked = tx.revoke_pending_invites({TargetKind::kWebsite, website->pk}, now.seconds());
    record_revoked(tx, principal, revoked, now.seconds());
  }
  return *website;
}

Result<Website> restore_website(WriteTx& tx, const Principal& principal, const Uuid& website_id,
                                Instant now) {
  auto website = tx.find_website_including_deleted(principal.org_pk, website_id);
  if (!website) return website_not_found();
  if (website->deleted_at) {
    website->deleted_at.reset();
    tx.set_website_deleted(website->pk, std::nullopt);
    tx.record_event(website_event(EventType::kWebsiteRestored, principal.org_pk, *website,
                                  Actor::api_key(principal), now.seconds()));
  }
  return *website;
}

}  // namespace invited::domain
