#include "domain/events.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <tuple>
#include <utility>

#include "domain/email.hpp"

namespace invited::domain {
namespace {

struct TypeName {
  EventType type;
  std::string_view name;
};

constexpr std::array<TypeName, 22> kTypeNames{{
    {EventType::kInvitationCreated, "invitation.created"},
    {EventType::kInvitationAccepted, "invitation.accepted"},
    {EventType::kInvitationDeclined, "invitation.declined"},
    {EventType::kInvitationRevoked, "invitation.revoked"},
    {EventType::kInvitationResent, "invitation.resent"},
    {EventType::kInvitationExpired, "invitation.expired"},
    {EventType::kInvitationDeliveryFailed, "invitation.delivery_failed"},
    {EventType::kMembershipCreated, "membership.created"},
    {EventType::kMembershipUpdated, "membership.updated"},
    {EventType::kMembershipDeleted, "membership.deleted"},
    {EventType::kWebsiteCreated, "website.created"},
    {EventType::kWebsiteDeleted, "website.deleted"},
    {EventType::kWebsiteRestored, "website.restored"},
    {EventType::kGroupCreated, "group.created"},
    {EventType::kGroupUpdated, "group.updated"},
    {EventType::kGroupDeleted, "group.deleted"},
    {EventType::kApiKeyCreated, "api_key.created"},
    {EventType::kApiKeyRevoked, "api_key.revoked"},
    {EventType::kWebhookEndpointCreated, "webhook_endpoint.created"},
    {EventType::kWebhookEndpointUpdated, "webhook_endpoint.updated"},
    {EventType::kWebhookEndpointDeleted, "webhook_endpoint.deleted"},
    {EventType::kWebhookEndpointSecretRotated, "webhook_endpoint.secret_rotated"},
}};

// A compact JSON object written field by field. Strings are escaped as JSON requires (quote,
// backslash, control characters); UTF-8 passes through as it is.
class JsonObject {
 public:
  JsonObject() { text_ = "{"; }
  JsonObject& string(std::string_view key, std::string_view value) {
    this->key(key);
    quoted(value);
    return *this;
  }
  JsonObject& null(std::string_view key) { return raw(key, "null"); }
  JsonObject& boolean(std::string_view key, bool value) {
    return raw(key, value ? "true" : "false");
  }
  JsonObject& timestamp(std::string_view key, UnixSeconds seconds) {
    return string(key, format_timestamp(seconds));
  }
  JsonObject& uuid(std::string_view key, const Uuid& id) {
    this->key(key);
    char out[36];
    id.write(out);
    text_ += '"';
    text_.append(out, sizeof out);
    text_ += '"';
    return *this;
  }
  JsonObject& uuids(std::string_view key, const std::vector<Uuid>& ids) {
    this->key(key);
    text_ += '[';
    for (std::size_t i = 0; i < ids.size(); ++i) {
      if (i) text_ += ',';
      char out[36];
      ids[i].write(out);
      text_ += '"';
      text_.append(out, sizeof out);
      text_ += '"';
    }
    text_ += ']';
    return *this;
  }
  JsonObject& strings(std::string_view key, const std::vector<std::string>& values) {
    this->key(key);
    text_ += '[';
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (i) text_ += ',';
      quoted(values[i]);
    }
    text_ += ']';
    return *this;
  }
  std::string done() {
    text_ += '}';
    return std::move(text_);
  }

 private:
  JsonObject& raw(std::string_view key, std::string_view value) {
    this->key(key);
    text_ += value;
    return *this;
  }
  void key(std::string_view key) {
    if (text_.size() > 1) text_ += ',';
    quoted(key);
    text_ += ':';
  }
  void quoted(std::string_view value) {
    static constexpr char kHex[] = "0123456789abcdef";
    text_ += '"';
    for (char c : value) {
      auto byte = static_cast<unsigned char>(c);
      if (c == '"' || c == '\\') {
        text_ += '\\';
        text_ += c;
      } else if (byte < 0x20) {
        text_ += "\\u00";
        text_ += kHex[byte >> 4];
        text_ += kHex[byte & 0xf];
      } else {
        text_ += c;
      }
    }
    text_ += '"';
  }

  std::string text_;
};

std::string folded(std::string_view address) {
  std::string key(address);
  for (char& c : key) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return key;
}

NewEvent base_event(EventType type, Pk org_pk, const Actor& actor, UnixSeconds now) {
  NewEvent event;
  event.org_pk = org_pk;
  event.type = type;
  event.occurred_at = now;
  event.actor = actor;
  return event;
}

void set_target(NewEvent& event, Target target) {
  if (target.kind == TargetKind::kWebsite) event.website_pk = target.pk;
  if (target.kind == TargetKind::kGroup) event.group_pk = target.pk;
}

}  // namespace

const std::vector<EventType>& all_event_types() {
  static const std::vector<EventType> kAll = [] {
    std::vector<EventType> all;
    for (const auto& entry : kTypeNames) all.push_back(entry.type);
    return all;
  }();
  return kAll;
}

std::string_view event_type_name(EventType type) {
  for (const auto& entry : kTypeNames) {
    if (entry.type == type) return entry.name;
  }
  return "unknown";
}

std::optional<EventType> parse_event_type(std::string_view name) {
  for (const auto& entry : kTypeNames) {
    if (entry.name == name) return entry.type;
  }
  return std::nullopt;
}

std::optional<std::vector<EventType>> parse_event_type_pattern(std::string_view pattern) {
  if (pattern.size() > 2 && pattern.substr(pattern.size() - 2) == ".*") {
    std::string_view prefix = pattern.substr(0, pattern.size() - 1);  // keeps the dot
    std::vector<EventType> types;
    for (const auto& entry : kTypeNames) {
      if (entry.name.substr(0, prefix.size()) == prefix) types.push_back(entry.type);
    }
    if (types.empty()) return std::nullopt;
    return types;
  }
  auto type = parse_event_type(pattern);
  if (!type) return std::nullopt;
  return std::vector<EventType>{*type};
}

EventType invite_closed_event(InviteStatus status) {
  switch (status) {
    case InviteStatus::kAccepted:
      return EventType::kInvitationAccepted;
    case InviteStatus::kDeclined:
      return EventType::kInvitationDeclined;
    case InviteStatus::kExpired:
      return EventType::kInvitationExpired;
    case InviteStatus::kRevoked:
    case InviteStatus::kPending:
      break;
  }
  return EventType::kInvitationRevoked;
}

std::string_view actor_kind_name(Actor::Kind kind) {
  switch (kind) {
    case Actor::Kind::kApiKey:
      return "api_key";
    case Actor::Kind::kInvitee:
      return "invitee";
    case Actor::Kind::kAdmin:
      return "admin";
    case Actor::Kind::kSystem:
      return "system";
  }
  return "system";
}

NewEvent invite_event(EventType type, Pk org_pk, const InviteRecord& invite, const Actor& actor,
                      UnixSeconds now, std::optional<Pk> user_pk) {
  NewEvent event = base_event(type, org_pk, actor, now);
  set_target(event, {invite.kind, invite.target_pk});
  event.user_pk = user_pk;
  event.email_key = folded(invite.email);
  JsonObject data;
  data.uuid("id", invite.id)
      .string("email", invite.email)
      .string("type", target_kind_name(invite.kind));
  switch (invite.kind) {
    case TargetKind::kWebsite:
      data.uuid("website_id", invite.target_id);
      break;
    case TargetKind::kGroup:
      data.uuid("group_id", invite.target_id);
      break;
    case TargetKind::kOrganization:
      data.uuid("organization_id", invite.target_id);
      break;
  }
  data.string("role", role_name(invite.role))
      .string("status", invite_status_name(invite.effective_status(now)))
      .string("delivery", delivery_name(invite.delivery))
      .timestamp("created_at", invite.created_at)
      .timestamp("expires_at", invite.expires_at);
  event.data = data.done();
  return event;
}

NewEvent membership_event(EventType type, Pk org_pk, const MembershipFacts& membership,
                          const Actor& actor, UnixSeconds now) {
  NewEvent event = base_event(type, org_pk, actor, now);
  set_target(event, membership.target);
  event.user_pk = membership.user.pk;
  event.email_key = folded(membership.email);
  event.data = JsonObject()
                   .uuid("user_id", membership.user.id)
                   .string("email", membership.email)
                   .string("role", role_name(membership.role))
                   .string("target_type", target_kind_name(membership.target.kind))
                   .uuid("target_id", membership.target_id)
                   .done();
  return event;
}

NewEvent website_event(EventType type, Pk org_pk, const Website& website, const Actor& actor,
                       UnixSeconds now) {
  NewEvent event = base_event(type, org_pk, actor, now);
  event.website_pk = website.pk;
  event.data = JsonObject()
                   .uuid("id", website.id)
                   .string("url", website.url)
                   .string("name", website.name)
                   .uuid("org_id", website.org_id)
                   .timestamp("created_at", website.created_at)
                   .done();
  return event;
}

NewEvent group_event(EventType type, Pk org_pk, const Group& group, const Actor& actor,
                     UnixSeconds now) {
  NewEvent event = base_event(type, org_pk, actor, now);
  event.group_pk = group.pk;
  event.data = JsonObject()
                   .uuid("id", group.id)
                   .string("name", group.name)
                   .uuid("org_id", group.org_id)
                   .uuids("website_ids", group.website_ids)
                   .timestamp("created_at", group.created_at)
                   .done();
  return event;
}

NewEvent api_key_event(EventType type, Pk org_pk, const ApiKey& key, const Actor& actor,
                       UnixSeconds now) {
  NewEvent event = base_event(type, org_pk, actor, now);
  JsonObject data;
  data.uuid("key_id", key.id)
      .string("name", key.name)
      .boolean("scoped", key.scoped)
      .uuids("website_ids", key.website_ids)
      .timestamp("created_at", key.created_at);
  if (key.revoked_at) {
    data.timestamp("revoked_at", *key.revoked_at);
  } else {
    data.null("revoked_at");
  }
  event.data = data.done();
  return event;
}

NewEvent webhook_endpoint_event(EventType type, Pk org_pk, const WebhookEndpoint& endpoint,
                                const Actor& actor, UnixSeconds now) {
  NewEvent event = base_event(type, org_pk, actor, now);
  JsonObject data;
  data.uuid("id", endpoint.id).string("url", endpoint.url);
  if (endpoint.event_types.empty()) {
    data.null("event_types");
  } else {
    data.strings("event_types", endpoint.event_types);
  }
  data.boolean("enabled", endpoint.enabled);
  if (endpoint.description) {
    data.string("description", *endpoint.description);
  } else {
    data.null("description");
  }
  data.timestamp("created_at", endpoint.created_at).timestamp("updated_at", endpoint.updated_at);
  event.data = data.done();
  return event;
}

bool can_see_event(const Principal& principal, const Event& event) {
  if (!principal.scoped) return true;
  return event.website_pk && principal.can_reach_website(*event.website_pk);
}

namespace {

std::optional<Uuid> parse_id(std::string_view field, const std::optional<std::string>& text,
                             FieldErrors& errors) {
  if (!text) return std::nullopt;
  auto id = Uuid::parse(*text);
  if (!id) {
    errors.add(std::string(field), "must be a UUID such as 123e4567-e89b-12d3-a456-426614174000");
  }
  return id;
}

bool digits(std::string_view text, std::size_t from, std::size_t count, int& out) {
  if (from + count > text.size()) return false;
  out = 0;
  for (std::size_t i = from; i < from + count; ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
    out = out * 10 + (text[i] - '0');
  }
  return true;
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

}  // namespace

std::optional<UnixSeconds> parse_timestamp(std::string_view text) {
  // YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)
  int year, month, day, hour, minute, second;
  if (text.size() < 20 || !digits(text, 0, 4, year) || text[4] != '-' ||
      !digits(text, 5, 2, month) || text[7] != '-' || !digits(text, 8, 2, day) ||
      (text[10] != 'T' && text[10] != 't') || !digits(text, 11, 2, hour) || text[13] != ':' ||
      !digits(text, 14, 2, minute) || text[16] != ':' || !digits(text, 17, 2, second)) {
    return std::nullopt;
  }
  std::size_t at = 19;
  if (at < text.size() && text[at] == '.') {
    std::size_t start = ++at;
    while (at < text.size() && text[at] >= '0' && text[at] <= '9') ++at;
    if (at == start) return std::nullopt;
  }
  std::int64_t offset = 0;
  std::string_view zone = text.substr(at);
  if (zone == "Z" || zone == "z") {
  } else if (zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && zone[3] == ':') {
    int oh, om;
    if (!digits(zone, 1, 2, oh) || !digits(zone, 4, 2, om) || oh > 23 || om > 59) {
      return std::nullopt;
    }
    offset = (oh * 60 + om) * 60 * (zone[0] == '+' ? 1 : -1);
  } else {
    return std::nullopt;
  }
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month < 1 || month > 12 || day < 1 || day > kDays[month - 1] || hour > 23 || minute > 59 ||
      second > 60) {
    return std::nullopt;
  }
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (month == 2 && day == 29 && !leap) return std::nullopt;
  std::int64_t days =
      days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  return days * 86400 + hour * 3600 + minute * 60 + std::min(second, 59) - offset;
}

std::optional<EventQuery> validate_event_query(const EventQueryInput& input,
                                               const Principal& principal, FieldErrors& errors) {
  EventQuery query;
  if (input.limit) {
    std::int64_t limit = 0;
    const std::string& text = *input.limit;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), limit);
    if (ec != std::errc() || end != text.data() + text.size() || limit < 1 || limit > 100) {
      errors.add("limit", "must be an integer from 1 to 100");
    } else {
      query.page.limit = limit;
    }
  }
  query.page.starting_after = parse_id("starting_after", input.starting_after, errors);
  query.page.ending_before = parse_id("ending_before", input.ending_before, errors);
  if (input.starting_after && input.ending_before) {
    errors.add("ending_before", "cannot be combined with starting_after; page one way at a time");
  }
  for (const std::string& pattern : input.types) {
    auto types = parse_event_type_pattern(pattern);
    if (!types) {
      errors.add("type",
                 "must be an event type such as invitation.accepted, or a family such as "
                 "invitation.*");
      continue;
    }
    for (EventType type : *types) {
      if (std::find(query.filter.types.begin(), query.filter.types.end(), type) ==
          query.filter.types.end()) {
        query.filter.types.push_back(type);
      }
    }
  }
  query.filter.website_id = parse_id("website_id", input.website_id, errors);
  query.filter.group_id = parse_id("group_id", input.group_id, errors);
  query.filter.user_id = parse_id("user_id", input.user_id, errors);
  if (input.email) {
    auto email = Email::parse(*input.email);
    if (!email) {
      errors.add("email", "must be an email address such as someone@example.com");
    } else {
      query.filter.email_key = email->key();
    }
  }
  for (auto [field, text, out] : {std::tuple{"since", &input.since, &query.filter.since},
                                  std::tuple{"until", &input.until, &query.filter.until}}) {
    if (!*text) continue;
    *out = parse_timestamp(**text);
    if (!*out) errors.add(field, "must be an RFC 3339 time such as 2026-11-26T11:30:27Z");
  }
  if (query.filter.since && query.filter.until && *query.filter.since >= *query.filter.until) {
    errors.add("until", "must be later than since");
  }
  if (principal.scoped) query.filter.scoped_key_pk = principal.key_pk;
  if (!errors.empty()) return std::nullopt;
  return query;
}

}  // namespace invited::domain
