#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "domain/secret.hpp"
#include "domain/types.hpp"
#include "domain/uuid.hpp"

namespace invited::domain {

// The rows the domain reads and writes, in its own words. The store maps them to tables.

struct Organization {
  Pk pk = 0;
  Uuid id;
  std::string name;
  UnixSeconds created_at = 0;
};

struct Website {
  Pk pk = 0;
  Uuid id;
  Uuid org_id;
  std::string url;
  std::string name;
  UnixSeconds created_at = 0;
  std::optional<UnixSeconds> deleted_at;
};

struct Group {
  Pk pk = 0;
  Uuid id;
  Uuid org_id;
  std::string name;
  std::vector<Uuid> website_ids;  // live websites only, oldest first
  UnixSeconds created_at = 0;
};

struct UserRef {
  Pk pk = 0;
  Uuid id;
};

// Transient argument structs hold views: they live only for the call they are passed to.
struct NewUser {
  Uuid id;
  std::string_view email_address;
  std::string_view email_key;
  std::optional<std::string_view> first_name;
  std::optional<std::string_view> last_name;
  bool email_verified = false;
  UnixSeconds created_at = 0;
};

// One row of a members list: a user and the strongest role through which they reach the target.
struct Member {
  Uuid user_id;
  std::string email;
  std::optional<std::string> first_name;
  std::optional<std::string> last_name;
  bool email_verified = false;
  Role role = Role::kViewer;
  AccessType access_type = AccessType::kWebsite;
  UnixSeconds created_at = 0;
};

struct ApiKey {
  Pk pk = 0;
  Uuid id;
  Pk org_pk = 0;
  Uuid org_id;
  std::string name;
  bool scoped = false;
  std::vector<Pk> website_pks;  // sorted; the allowlist of a scoped key
  std::vector<Uuid> website_ids;
  UnixSeconds created_at = 0;
  std::optional<UnixSeconds> revoked_at;
};

struct NewApiKey {
  Uuid id;
  Pk org_pk = 0;
  std::string name;
  SecretHash hash{};
  bool scoped = false;
  std::vector<Pk> website_pks;
  UnixSeconds created_at = 0;
};

// An email-mode request's invites share one batch: one expiry, one email at a time. A batch is
// created without a usable token; each claim of its email mints one (domain/outbox.hpp).
struct NewBatch {
  Uuid id;
  Pk org_pk = 0;
  std::string_view email_address;
  std::optional<std::string_view> first_name;
  std::optional<std::string_view> last_name;
  UnixSeconds created_at = 0;
  UnixSeconds expires_at = 0;
};

struct NewInvite {
  Uuid id;
  Pk org_pk = 0;
  Pk batch_pk = 0;
  std::string_view email_key;  // the batch's address, folded
  Target target{};
  Role role = Role::kViewer;
  UnixSeconds created_at = 0;
  UnixSeconds expires_at = 0;
};

// A queued invitation email. It holds no token: the claim that sends it mints one.
struct NewEmail {
  Uuid message_id;  // stable across retries: becomes the Message-ID header
  Pk batch_pk = 0;
  std::string to_address;
  UnixSeconds created_at = 0;
};

// A queued email as the worker that claimed it sees it.
struct OutboxEmail {
  Pk pk = 0;
  Uuid message_id;
  Pk batch_pk = 0;
  std::string to_address;
  int attempts = 0;  // made so far, the claimed one included
  UnixSeconds created_at = 0;
};

// One line of an invitation email: what the person is invited to and with which role.
struct InvitationTarget {
  TargetKind kind = TargetKind::kWebsite;
  std::string name;
  std::string url;  // websites only
  Role role = Role::kViewer;
};

// What an invitation email or accept page shows for one batch.
struct Invitation {
  Pk batch_pk = 0;
  std::string organization_name;
  std::string email;
  std::optional<std::string> first_name;
  std::optional<std::string> last_name;
  UnixSeconds expires_at = 0;
  std::vector<InvitationTarget> targets;  // the batch's pending invites, oldest first
};

// An invitation batch as one of its tokens finds it.
struct Batch {
  Pk pk = 0;
  Uuid id;
  Pk org_pk = 0;
  UnixSeconds expires_at = 0;
  std::optional<UnixSeconds> used_at;  // accepted or declined
  int pending_invites = 0;
};

// One invite of a batch, with what it points at.
struct BatchInvite {
  Pk pk = 0;
  Uuid id;
  TargetKind kind = TargetKind::kWebsite;
  Pk target_pk = 0;
  Uuid target_id;
  std::string target_name;
  std::string target_url;   // websites only
  bool target_live = true;  // false once the website or group was deleted
  Role role = Role::kViewer;
  InviteStatus status = InviteStatus::kPending;
  std::string email;
  std::optional<std::string> first_name;
  std::optional<std::string> last_name;
};

// An invite as the API shows it. `status` is as stored; effective_status() also derives
// kExpired for a pending invite past its expiry.
struct InviteRecord {
  Pk pk = 0;
  Uuid id;
  Pk batch_pk = 0;
  std::string email;
  TargetKind kind = TargetKind::kWebsite;
  Pk target_pk = 0;
  Uuid target_id;
  Role role = Role::kViewer;
  InviteStatus status = InviteStatus::kPending;
  Delivery delivery = Delivery::kQueued;
  UnixSeconds created_at = 0;
  UnixSeconds expires_at = 0;
  Pk org_pk = 0;

  InviteStatus effective_status(UnixSeconds now) const {
    return status == InviteStatus::kPending && now >= expires_at ? InviteStatus::kExpired : status;
  }
};

// Filters of GET /api/v1/invites; each is applied when set.
struct InviteFilter {
  std::optional<InviteStatus> status;  // kPending and kExpired are told apart by `now`
  UnixSeconds now = 0;
  std::optional<std::string> email_key;
  // Only invites to this website of the organization, deleted or not; an id that names none
  // matches nothing.
  std::optional<Uuid> website_id;
  // Only invites to this live group of the organization; an id that names none matches nothing.
  std::optional<Uuid> group_id;
  std::optional<Pk> scoped_key_pk;  // only website invites within this key's allowlist
};

// A website a user reaches in one organization, with the strongest role and how.
struct UserWebsite {
  Uuid website_id;
  std::string url;
  std::string name;
  Role role = Role::kViewer;
  AccessType access_type = AccessType::kWebsite;
};

// A response kept for an Idempotency-Key.
struct IdempotentResponse {
  SecretHash request_hash{};
  int status = 0;
  std::string body;  // as the API keeps it: sealed under a key only its caller can derive
  UnixSeconds created_at = 0;
};

// The two forms of a list read (SPEC §5). Every list has one order; both forms follow it.
//
// The page form: page `num` of `size` items, with the count of the whole list. Its cost grows
// with the list (the count, and the items skipped before a deep page).
struct PageRequest {
  std::int64_t num = 0;    // 0-based
  std::int64_t size = 40;  // 1..100
};

// The cursor form: up to `limit` items after the item `starting_after` (from the start when
// absent). A page costs the same whatever the list's length.
struct CursorRequest {
  std::int64_t limit = 40;  // 1..100
  std::optional<Uuid> starting_after;
};

using ListRequest = std::variant<PageRequest, CursorRequest>;

template <typename T>
struct Page {
  std::vector<T> items;
  std::int64_t total = 0;  // page form only: items in the whole list
  bool has_more = false;   // cursor form only: items follow this page
  // Cursor form only: `starting_after` names nothing this list can hold (unknown, another
  // organization's, outside a scoped key's allowlist, or a member no longer in the list).
  bool unknown_cursor = false;
};

}  // namespace invited::domain
