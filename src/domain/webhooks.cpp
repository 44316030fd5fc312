#include "domain/webhooks.hpp"

#include <arpa/inet.h>
#include <sodium.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>

namespace invited::domain {
namespace {

constexpr std::array<std::string_view, 27> kEventTypes{
    "invitation.created",
    "invitation.accepted",
    "invitation.declined",
    "invitation.revoked",
    "invitation.resent",
    "invitation.expired",
    "invitation.delivery_failed",
    "membership.created",
    "membership.updated",
    "membership.deleted",
    "website.created",
    "website.deleted",
    "website.restored",
    "group.created",
    "group.updated",
    "group.deleted",
    "api_key.created",
    "api_key.revoked",
    "webhook_endpoint.created",
    "webhook_endpoint.updated",
    "webhook_endpoint.deleted",
    "webhook_endpoint.secret_rotated",
    // The prefix forms: every type of one resource.
    "invitation.*",
    "membership.*",
    "website.*",
    "group.*",
    "api_key.*",
};
// webhook_endpoint.* is accepted too (kept apart: the array above is printed in messages).
constexpr std::string_view kEndpointPrefix = "webhook_endpoint.*";
constexpr std::string_view kSecretPrefix = "whsec_";
constexpr std::size_t kSecretBytes = 32;
constexpr std::array<std::int64_t, kMaxWebhookAttempts - 1> kRetryDelaysMs{
    5'000, 5 * 60'000, 30 * 60'000, 2 * 3'600'000, 5 * 3'600'000, 10 * 3'600'000, 10 * 3'600'000};

bool known_type(std::string_view type) {
  return type == kEndpointPrefix ||
         std::find(kEventTypes.begin(), kEventTypes.end(), type) != kEventTypes.end();
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool public_ipv4(const std::uint8_t* a) {
  const auto in = [&](std::uint8_t b0, std::uint8_t b1, int prefix) {
    const std::uint32_t value = (std::uint32_t{a[0]} << 24) | (std::uint32_t{a[1]} << 16) |
                                (std::uint32_t{a[2]} << 8) | a[3];
    const std::uint32_t net = (std::uint32_t{b0} << 24) | (std::uint32_t{b1} << 16);
    const std::uint32_t mask = prefix == 0 ? 0 : ~std::uint32_t{0} << (32 - prefix);
    return (value & mask) == (net & mask);
  };
  const auto in24 = [&](std::uint8_t b0, std::uint8_t b1, std::uint8_t b2) {
    return a[0] == b0 && a[1] == b1 && a[2] == b2;
  };
  return !(in(0, 0, 8) || in(10, 0, 8) || in(100, 64, 10) || in(127, 0, 8) || in(169, 254, 16) ||
           in(172, 16, 12) || in24(192, 0, 0) || in24(192, 0, 2) || in(192, 168, 16) ||
           in(198, 18, 15) || in24(198, 51, 100) || in24(203, 0, 113) ||
           a[0] >= 224);  // multicast, reserved, broadcast
}

bool public_ipv6(const std::uint8_t* a) {
  static constexpr std::uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  static constexpr std::uint8_t kNat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
  if (std::memcmp(a, kMapped, 12) == 0 || std::memcmp(a, kNat64, 12) == 0) {
    return public_ipv4(a + 12);
  }
  if (a[0] == 0x20 && a[1] == 0x02) return public_ipv4(a + 2);         // 6to4
  if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0d && a[3] == 0xb8) {  // documentation
    return false;
  }
  return (a[0] & 0xe0) == 0x20;  // global unicast 2000::/3; everything else is not public
}

struct UrlParts {
  std::string scheme;
  std::string host;  // without brackets
  bool bracketed = false;
};

std::optional<UrlParts> split_url(std::string_view url, std::string& problem) {
  for (unsigned char c : url) {
    if (c <= 0x20 || c >= 0x7f) {
      problem = "must be an absolute URL without spaces or non-ASCII characters";
      return std::nullopt;
    }
  }
  const auto colon = url.find("://");
  if (colon == std::string_view::npos) {
    problem = "must be an absolute https:// URL";
    return std::nullopt;
  }
  UrlParts parts;
  parts.scheme = lower(url.substr(0, colon));
  std::string_view rest = url.substr(colon + 3);
  std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  if (authority.find('@') != std::string_view::npos) {
    problem = "must not carry a user name or password";
    return std::nullopt;
  }
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) {
      problem = "has an IPv6 address without its closing ]";
      return std::nullopt;
    }
    parts.host = std::string(authority.substr(1, close - 1));
    parts.bracketed = true;
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        problem = "has text after its IPv6 address";
        return std::nullopt;
      }
      port = after.substr(1);
    }
  } else {
    const auto port_colon = authority.find(':');
    parts.host = lower(authority.substr(0, port_colon));
    if (port_colon != std::string_view::npos) port = authority.substr(port_colon + 1);
  }
  if (parts.host.empty()) {
    problem = "must name a host";
    return std::nullopt;
  }
  if (!parts.bracketed) {
    for (char c : parts.host) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_') {
        problem = "has a host name with a character other than letters, digits, '.', '-', '_'";
        return std::nullopt;
      }
    }
  }
  if (!port.empty() || authority.ends_with(':')) {
    int value = 0;
    bool digits = !port.empty() && port.size() <= 5;
    for (char c : port) {
      if (!std::isdigit(static_cast<unsigned char>(c))) digits = false;
      if (digits) value = value * 10 + (c - '0');
    }
    if (!digits || value < 1 || value > 65535) {
      problem = "has a port outside 1..65535";
      return std::nullopt;
    }
  }
  return parts;
}

}  // namespace

std::span<const std::string_view> webhook_event_types() { return std::span(kEventTypes).first(22); }

bool is_public_address(std::span<const std::uint8_t> address) {
  if (address.size() == 4) return public_ipv4(address.data());
  if (address.size() == 16) return public_ipv6(address.data());
  return false;
}

std::optional<bool> is_public_address_literal(std::string_view text) {
  const std::string host(text);
  std::uint8_t bytes[16];
  if (inet_pton(AF_INET6, host.c_str(), bytes) == 1) return public_ipv6(bytes);
  // inet_aton also reads the forms resolvers and libcurl accept ("127.1", "0x7f000001").
  in_addr v4{};
  if (inet_aton(host.c_str(), &v4) == 1) {
    std::memcpy(bytes, &v4.s_addr, 4);
    return public_ipv4(bytes);
  }
  return std::nullopt;
}

std::optional<std::string> webhook_url_problem(std::string_view url, bool allow_insecure) {
  if (url.size() > kMaxWebhookUrlLength) return "must be at most 2048 characters";
  std::string problem;
  auto parts = split_url(url, problem);
  if (!parts) return problem;
  if (parts->scheme != "https" && !(allow_insecure && parts->scheme == "http")) {
    return allow_insecure ? "must be an http:// or https:// URL"
                          : "must be an https:// URL (http:// needs --webhook-allow-insecure)";
  }
  if (allow_insecure) return std::nullopt;
  auto is_public = is_public_address_literal(parts->host);
  if (parts->bracketed && !is_public) return "has an invalid IPv6 address";
  if (is_public && !*is_public) {
    return "must be on a public address, not a loopback, private, link-local or reserved one";
  }
  return std::nullopt;
}

std::optional<WebhookEndpointChange> validate_webhook_endpoint(
    const std::optional<std::string>& url, const std::optional<std::vector<std::string>>& types,
    std::optional<bool> enabled, const std::optional<std::string>& description, bool creating,
    bool allow_insecure, FieldErrors& errors) {
  const bool clean = errors.empty();
  WebhookEndpointChange change;
  if (!url) {
    if (creating && !errors.has("url")) errors.add("url", "is required");
  } else if (auto problem = webhook_url_problem(*url, allow_insecure)) {
    errors.add("url", *problem);
  } else {
    change.url = *url;
  }
  if (types) {
    std::vector<std::string> unique;
    for (std::size_t i = 0; i < types->size(); ++i) {
      const std::string& type = (*types)[i];
      if (!known_type(type)) {
        errors.add("event_types[" + std::to_string(i) + "]",
                   "must be an event type of the API (e.g. invitation.accepted) or a prefix "
                   "form such as invitation.*");
      } else if (std::find(unique.begin(), unique.end(), type) == unique.end()) {
        unique.push_back(type);
      }
    }
    if (types->empty()) errors.add("event_types", "must name at least one type, or be left out");
    change.event_types = std::move(unique);
  }
  change.enabled = enabled;
  if (description) {
    if (description->size() > kMaxWebhookDescriptionLength) {
      errors.add("description", "must be at most 500 characters");
    } else {
      change.description = *description;
    }
  }
  if (!errors.empty() || !clean) return std::nullopt;
  return change;
}

std::string stored_event_types(const std::vector<std::string>& types) {
  if (types.empty()) return {};
  std::string stored = " ";
  for (const auto& type : types) stored += type + " ";
  return stored;
}

std::vector<std::string> parse_stored_event_types(std::string_view stored) {
  std::vector<std::string> types;
  std::size_t at = 0;
  while (at < stored.size()) {
    const auto end = stored.find(' ', at);
    const auto word = stored.substr(at, end == std::string_view::npos ? end : end - at);
    if (!word.empty()) types.emplace_back(word);
    if (end == std::string_view::npos) break;
    at = end + 1;
  }
  return types;
}

bool webhook_subscribes(const std::vector<std::string>& types, std::string_view type) {
  if (types.empty()) return true;
  const std::string prefix = std::string(type.substr(0, type.find('.'))) + ".*";
  return std::any_of(types.begin(), types.end(),
                     [&](const std::string& t) { return t == type || t == prefix; });
}

std::string issue_webhook_secret() {
  std::array<std::uint8_t, kSecretBytes> bytes{};
  randombytes_buf(bytes.data(), bytes.size());
  std::string encoded(sodium_base64_ENCODED_LEN(kSecretBytes, sodium_base64_VARIANT_ORIGINAL),
                      '\0');
  sodium_bin2base64(encoded.data(), encoded.size(), bytes.data(), bytes.size(),
                    sodium_base64_VARIANT_ORIGINAL);
  encoded.resize(std::strlen(encoded.c_str()));
  sodium_memzero(bytes.data(), bytes.size());
  return std::string(kSecretPrefix) + encoded;
}

std::optional<std::string> sign_webhook(std::string_view secret, std::string_view id,
                                        std::int64_t timestamp, std::string_view body) {
  if (!secret.starts_with(kSecretPrefix)) return std::nullopt;
  const std::string_view encoded = secret.substr(kSecretPrefix.size());
  std::vector<std::uint8_t> key(encoded.size());
  std::size_t key_length = 0;
  if (sodium_base642bin(key.data(), key.size(), encoded.data(), encoded.size(), nullptr,
                        &key_length, nullptr, sodium_base64_VARIANT_ORIGINAL) != 0 ||
      key_length == 0) {
    return std::nullopt;
  }
  crypto_auth_hmacsha256_state state;
  crypto_auth_hmacsha256_init(&state, key.data(), key_length);
  const std::string prefix = std::string(id) + "." + std::to_string(timestamp) + ".";
  crypto_auth_hmacsha256_update(&state, reinterpret_cast<const unsigned char*>(prefix.data()),
                                prefix.size());
  crypto_auth_hmacsha256_update(&state, reinterpret_cast<const unsigned char*>(body.data()),
                                body.size());
  std::array<std::uint8_t, crypto_auth_hmacsha256_BYTES> mac{};
  crypto_auth_hmacsha256_final(&state, mac.data());
  sodium_memzero(key.data(), key.size());
  std::string encoded_mac(sodium_base64_ENCODED_LEN(mac.size(), sodium_base64_VARIANT_ORIGINAL),
                          '\0');
  sodium_bin2base64(encoded_mac.data(), encoded_mac.size(), mac.data(), mac.size(),
                    sodium_base64_VARIANT_ORIGINAL);
  encoded_mac.resize(std::strlen(encoded_mac.c_str()));
  return "v1," + encoded_mac;
}

std::string webhook_signature_header(const WebhookEndpoint& endpoint, std::string_view id,
                                     std::int64_t timestamp, std::string_view body,
                                     std::int64_t now_ms) {
  std::string header = sign_webhook(endpoint.secret, id, timestamp, body).value_or("");
  if (endpoint.previous_secret && endpoint.previous_until_ms &&
      now_ms < *endpoint.previous_until_ms) {
    if (auto previous = sign_webhook(*endpoint.previous_secret, id, timestamp, body)) {
      header += " " + *previous;
    }
  }
  return header;
}

std::optional<std::int64_t> webhook_retry_delay_ms(int attempt) {
  if (attempt < 1 || attempt > static_cast<int>(kRetryDelaysMs.size())) return std::nullopt;
  return kRetryDelaysMs[static_cast<std::size_t>(attempt - 1)];
}

bool webhook_endpoint_should_disable(std::optional<std::int64_t> last_success_ms,
                                     UnixSeconds created_at, std::int64_t now_ms) {
  const std::int64_t since = last_success_ms.value_or(created_at * 1000);
  return now_ms - since >= kDisableAfterNoSuccessMs;
}

}  // namespace invited::domain
