#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "domain/field_errors.hpp"
#include "domain/principal.hpp"
#include "domain/records.hpp"
#include "domain/types.hpp"
#include "domain/uuid.hpp"
#include "domain/webhooks.hpp"

namespace invited::domain {

// The event log of SPEC §9: what happened, who did it, and the object it happened to, recorded
// in the unit of work that made the change (event_store.hpp). This file holds the event types,
// the actor, the `data` each type carries (compact JSON text, built here once, so the log, the
// API and webhooks show the same object), the scoped-key visibility rule and the list's query.

// Exactly the types of SPEC §9. The number is what the store keeps; never reuse one.
enum class EventType : int {
  kInvitationCreated = 1,
  kInvitationAccepted = 2,
  kInvitationDeclined = 3,
  kInvitationRevoked = 4,
  kInvitationResent = 5,
  kInvitationExpired = 6,
  kInvitationDeliveryFailed = 7,
  kMembershipCreated = 20,
  kMembershipUpdated = 21,
  kMembershipDeleted = 22,
  kWebsiteCreated = 40,
  kWebsiteDeleted = 41,
  kWebsiteRestored = 42,
  kGroupCreated = 60,
  kGroupUpdated = 61,
  kGroupDeleted = 62,
  kApiKeyCreated = 80,
  kApiKeyRevoked = 81,
  kWebhookEndpointCreated = 100,
  kWebhookEndpointUpdated = 101,
  kWebhookEndpointDeleted = 102,
  kWebhookEndpointSecretRotated = 103,
};

// Every type, in the order above.
const std::vector<EventType>& all_event_types();
// "invitation.created", ...
std::string_view event_type_name(EventType type);
// The type named exactly so; nullopt for anything else.
std::optional<EventType> parse_event_type(std::string_view name);
// The types a `type` filter value names: one exact name, or "<family>.*" (every type whose name
// starts with "<family>."). nullopt when it names none.
std::optional<std::vector<EventType>> parse_event_type_pattern(std::string_view pattern);
// The status event of an invite closed with `status` (accepted, declined, expired, revoked).
EventType invite_closed_event(InviteStatus status);

// Who caused an event (SPEC §9 `actor`).
struct Actor {
  enum class Kind : int { kApiKey = 1, kInvitee = 2, kAdmin = 3, kSystem = 4 };
  Kind kind = Kind::kSystem;
  Uuid key_id;        // kApiKey
  std::string email;  // kInvitee: the address the invitation was sent to

  static Actor api_key(const Principal& principal) { return {Kind::kApiKey, principal.key_id, {}}; }
  static Actor invitee(std::string email) { return {Kind::kInvitee, {}, std::move(email)}; }
  static Actor admin() { return {Kind::kAdmin, {}, {}}; }
  static Actor system() { return {Kind::kSystem, {}, {}}; }
};
std::string_view actor_kind_name(Actor::Kind kind);

// An event to append to the log. Besides `data`, the store keeps what the filters and the
// scoped-key rule ask about: the website, group and user the event concerns (row keys) and the
// invitee's or member's folded address.
struct NewEvent {
  Pk org_pk = 0;
  EventType type = EventType::kInvitationCreated;
  UnixSeconds occurred_at = 0;
  Actor actor;
  std::optional<Pk> website_pk;
  std::optional<Pk> group_pk;
  std::optional<Pk> user_pk;
  std::string email_key;  // empty: none
  std::string data;       // one compact JSON object
};

// An event as the log shows it.
struct Event {
  Pk pk = 0;
  Uuid id;
  EventType type = EventType::kInvitationCreated;
  UnixSeconds occurred_at = 0;
  Actor actor;
  std::optional<Pk> website_pk;
  std::string data;
};

// Builders of each type's event (SPEC §9 `data`), at `now`.
//
// An invite as GET /api/v1/invites/{id} shows it (its status as effective at `now`).
// `user_pk`: the invitee's user when known (accepting), for the user_id filter.
NewEvent invite_event(EventType type, Pk org_pk, const InviteRecord& invite, const Actor& actor,
                      UnixSeconds now, std::optional<Pk> user_pk = std::nullopt);
// A membership: {"user_id", "email", "role", "target_type", "target_id"}.
struct MembershipFacts {
  Target target{};
  Uuid target_id;
  UserRef user;
  std::string email;
  Role role = Role::kViewer;
};
NewEvent membership_event(EventType type, Pk org_pk, const MembershipFacts& membership,
                          const Actor& actor, UnixSeconds now);
// The website object of the API (for .deleted, as it was).
NewEvent website_event(EventType type, Pk org_pk, const Website& website, const Actor& actor,
                       UnixSeconds now);
// The group object of the API (for .deleted, as it was).
NewEvent group_event(EventType type, Pk org_pk, const Group& group, const Actor& actor,
                     UnixSeconds now);
// The key as the key list shows it; never its secret.
NewEvent api_key_event(EventType type, Pk org_pk, const ApiKey& key, const Actor& actor,
                       UnixSeconds now);
// The endpoint as GET /api/v1/webhook-endpoints/{id} shows it; never its secret.
NewEvent webhook_endpoint_event(EventType type, Pk org_pk, const WebhookEndpoint& endpoint,
                                const Actor& actor, UnixSeconds now);

// Whether `principal` may see `event`: a global key sees every event of its organization; a
// scoped key only events that name a website, each in its allowlist. Group, key, webhook
// endpoint and organization-membership events name no website, so a scoped key never sees them.
bool can_see_event(const Principal& principal, const Event& event);

// GET /api/v1/events: the filters (each applied when set) and the page.
struct EventFilter {
  std::vector<EventType> types;  // any of these; empty: every type
  std::optional<Uuid> website_id;
  std::optional<Uuid> group_id;
  std::optional<Uuid> user_id;
  std::optional<std::string> email_key;
  std::optional<UnixSeconds> since;  // occurred_at >= since
  std::optional<UnixSeconds> until;  // occurred_at < until
  std::optional<Pk> scoped_key_pk;   // only events naming a website in this key's allowlist
};
struct EventPageRequest {
  std::int64_t limit = 40;  // 1..100
  std::optional<Uuid> starting_after;
  std::optional<Uuid> ending_before;
};

// The query parameters of GET /api/v1/events, as text (absent: nullopt; `type` repeatable).
struct EventQueryInput {
  std::vector<std::string> types;
  std::optional<std::string> limit;
  std::optional<std::string> starting_after;
  std::optional<std::string> ending_before;
  std::optional<std::string> website_id;
  std::optional<std::string> group_id;
  std::optional<std::string> user_id;
  std::optional<std::string> email;
  std::optional<std::string> since;
  std::optional<std::string> until;
};
struct EventQuery {
  EventFilter filter;
  EventPageRequest page;
};
// Checks every parameter, naming each bad one in `errors` (nullopt then): limit 1..100,
// cursors and ids UUIDs, at most one of starting_after / ending_before, each type a name or
// "<family>.*", email an address, since/until RFC 3339 times with since before until.
std::optional<EventQuery> validate_event_query(const EventQueryInput& input,
                                               const Principal& principal, FieldErrors& errors);

// Parses an RFC 3339 date-time ("2026-11-26T11:30:27Z", an offset such as "+02:00", optional
// fractional seconds, which are dropped) into Unix seconds; nullopt for anything else.
std::optional<UnixSeconds> parse_timestamp(std::string_view text);

}  // namespace invited::domain
