#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "domain/field_errors.hpp"
#include "domain/types.hpp"
#include "domain/uuid.hpp"

namespace invited::domain {

// Webhook endpoints and the rules of their deliveries (SPEC §9). Pure functions: no I/O,
// thread-safe.

// An organization holds at most this many endpoints; one more is 409 conflict.
inline constexpr int kMaxWebhookEndpoints = 16;
inline constexpr std::size_t kMaxWebhookUrlLength = 2048;
inline constexpr std::size_t kMaxWebhookDescriptionLength = 500;
// A delivery is attempted at most this many times on its own (the retry schedule below).
inline constexpr int kMaxWebhookAttempts = 8;
// A rotated-out secret keeps signing beside the new one this long.
inline constexpr std::int64_t kPreviousSecretMs = 24LL * 3600 * 1000;
// An endpoint whose delivery finally fails is disabled when it had no success this long.
inline constexpr std::int64_t kDisableAfterNoSuccessMs = 5LL * 24 * 3600 * 1000;

// Every event type of SPEC §9, exactly.
std::span<const std::string_view> webhook_event_types();

// An endpoint as stored. `secret` and `previous_secret` never leave the service except in the
// one response that issues a secret.
struct WebhookEndpoint {
  Pk pk = 0;
  Uuid id;
  Pk org_pk = 0;
  std::string url;
  std::optional<std::string> description;
  std::vector<std::string> event_types;  // empty: every type
  bool enabled = true;
  std::string secret;
  std::optional<std::string> previous_secret;
  std::optional<std::int64_t> previous_until_ms;
  UnixSeconds created_at = 0;
  UnixSeconds updated_at = 0;
};

// A create or PATCH request, validated. For PATCH an absent member leaves the field as it is;
// `description` present and empty clears it.
struct WebhookEndpointChange {
  std::optional<std::string> url;
  std::optional<std::vector<std::string>> event_types;
  std::optional<bool> enabled;
  std::optional<std::string> description;
};

// Checks a create (`creating`: url required) or PATCH request's fields, adding each failure to
// `errors`. `allow_insecure` is --webhook-allow-insecure: then http:// and loopback/private
// address literals are accepted too. A host name is not resolved here: the address it resolves
// to is checked when the worker connects (is_public_address).
std::optional<WebhookEndpointChange> validate_webhook_endpoint(
    const std::optional<std::string>& url, const std::optional<std::vector<std::string>>& types,
    std::optional<bool> enabled, const std::optional<std::string>& description, bool creating,
    bool allow_insecure, FieldErrors& errors);

// Why `url` is not an acceptable endpoint, or nullopt when it is.
std::optional<std::string> webhook_url_problem(std::string_view url, bool allow_insecure);

// Whether an IP address (4 or 16 bytes, network order) is one the internet routes to a third
// party: false for loopback, private (RFC 1918, unique local), link-local (cloud metadata
// 169.254.169.254 included), carrier-grade NAT, unspecified, multicast, reserved and
// documentation ranges, and IPv4-mapped or -translated forms of those.
bool is_public_address(std::span<const std::uint8_t> address);
// The same for an address literal (dotted IPv4 or IPv6 text); nullopt when `text` is none.
std::optional<bool> is_public_address_literal(std::string_view text);

// The stored form of a subscription list and back (" a b " between spaces; "" for all).
std::string stored_event_types(const std::vector<std::string>& types);
std::vector<std::string> parse_stored_event_types(std::string_view stored);
// Whether an endpoint subscribed to `types` (empty: all) receives `type`.
bool webhook_subscribes(const std::vector<std::string>& types, std::string_view type);

// A new signing secret: "whsec_" and the standard base64 of 32 random bytes.
std::string issue_webhook_secret();

// The Standard Webhooks signature of one delivery: "v1,<base64 HMAC-SHA256 over
// "<id>.<timestamp>.<body>" keyed with the base64-decoded part of `secret` after "whsec_">.
// nullopt when `secret` is not of that form.
std::optional<std::string> sign_webhook(std::string_view secret, std::string_view id,
                                        std::int64_t timestamp, std::string_view body);

// The webhook-signature header: the current secret's signature, then the previous one's while
// it still signs at `now_ms`, space-separated.
std::string webhook_signature_header(const WebhookEndpoint& endpoint, std::string_view id,
                                     std::int64_t timestamp, std::string_view body,
                                     std::int64_t now_ms);

// What happens after attempt number `attempt` (1-based) of a delivery failed: the delay before
// the next one (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h), or nullopt once the schedule is
// spent (the delivery has failed).
std::optional<std::int64_t> webhook_retry_delay_ms(int attempt);

// Whether a finally failed delivery disables its endpoint: no success since
// `last_success_ms` (or, never, since the endpoint's creation) for kDisableAfterNoSuccessMs.
bool webhook_endpoint_should_disable(std::optional<std::int64_t> last_success_ms,
                                     UnixSeconds created_at, std::int64_t now_ms);

}  // namespace invited::domain
