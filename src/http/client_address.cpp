#include "http/client_address.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace invited::http {
namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

constexpr std::array<std::uint8_t, 12> kMappedPrefix = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

bool is_mapped_ipv4(const std::array<std::uint8_t, 16>& bytes) {
  return std::memcmp(bytes.data(), kMappedPrefix.data(), kMappedPrefix.size()) == 0;
}

}  // namespace

std::optional<TrustedProxies::Address> TrustedProxies::parse_address(std::string_view text) {
  text = trim(text);
  // X-Forwarded-For entries sometimes carry a port: "[2001:db8::1]:443" or "203.0.113.7:443".
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    text = text.substr(1, close - 1);
  } else if (auto colon = text.find(':'); colon != std::string_view::npos &&
                                          text.find(':', colon + 1) == std::string_view::npos) {
    text = text.substr(0, colon);
  }
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  char buffer[INET6_ADDRSTRLEN];
  std::memcpy(buffer, text.data(), text.size());
  buffer[text.size()] = '\0';
  Address address{};
  in_addr v4{};
  if (inet_pton(AF_INET, buffer, &v4) == 1) {
    std::memcpy(address.bytes.data(), kMappedPrefix.data(), kMappedPrefix.size());
    std::memcpy(address.bytes.data() + 12, &v4, 4);
    return address;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, buffer, &v6) == 1) {
    std::memcpy(address.bytes.data(), &v6, 16);
    return address;
  }
  return std::nullopt;
}

std::string TrustedProxies::format(const Address& address) {
  char buffer[INET6_ADDRSTRLEN];
  if (is_mapped_ipv4(address.bytes)) {
    inet_ntop(AF_INET, address.bytes.data() + 12, buffer, sizeof buffer);
  } else {
    inet_ntop(AF_INET6, address.bytes.data(), buffer, sizeof buffer);
  }
  return buffer;
}

std::variant<TrustedProxies, std::string> TrustedProxies::parse(std::string_view list) {
  TrustedProxies proxies;
  while (!trim(list).empty()) {
    auto comma = list.find(',');
    std::string_view entry = trim(list.substr(0, comma));
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    auto refuse = [&entry] {
      return "--trusted-proxies: \"" + std::string(entry) +
             "\" is not an IP address or CIDR range (like 10.0.0.0/8 or fd00::/8)";
    };
    if (entry.empty()) return refuse();
    auto slash = entry.find('/');
    std::string_view address_text = entry.substr(0, slash);
    // A CIDR address is bare: no brackets, no port (an IPv6 address has at least two colons).
    const auto colons = std::count(address_text.begin(), address_text.end(), ':');
    if (address_text.find_first_of("[]") != std::string_view::npos || colons == 1) {
      return refuse();
    }
    const bool ipv4 = colons == 0;
    auto address = parse_address(address_text);
    if (!address || is_mapped_ipv4(address->bytes) != ipv4) return refuse();
    int bits = ipv4 ? 32 : 128;
    if (slash != std::string_view::npos) {
      std::string_view prefix_text = entry.substr(slash + 1);
      auto [end, error] =
          std::from_chars(prefix_text.data(), prefix_text.data() + prefix_text.size(), bits);
      if (error != std::errc() || end != prefix_text.data() + prefix_text.size() ||
          prefix_text.empty() || bits < 0 || bits > (ipv4 ? 32 : 128)) {
        return refuse();
      }
    }
    Range range{address->bytes, ipv4 ? bits + 96 : bits};
    // Host bits are cleared, so 10.1.2.3/8 means 10.0.0.0/8.
    for (int bit = range.prefix; bit < 128; ++bit) {
      range.bytes[bit / 8] &= static_cast<std::uint8_t>(~(0x80u >> (bit % 8)));
    }
    proxies.ranges_.push_back(range);
  }
  return proxies;
}

bool TrustedProxies::contains(const Address& address) const {
  for (const Range& range : ranges_) {
    int full = range.prefix / 8;
    if (std::memcmp(range.bytes.data(), address.bytes.data(), static_cast<std::size_t>(full)) !=
        0) {
      continue;
    }
    int rest = range.prefix % 8;
    if (rest == 0) return true;
    auto mask = static_cast<std::uint8_t>(0xff00u >> rest);
    if ((address.bytes[full] & mask) == range.bytes[full]) return true;
  }
  return false;
}

bool TrustedProxies::contains(std::string_view address) const {
  if (ranges_.empty()) return false;
  auto parsed = parse_address(address);
  return parsed && contains(*parsed);
}

std::string TrustedProxies::client_address(
    std::string_view peer, const std::vector<std::string_view>& forwarded_for) const {
  auto peer_address = parse_address(peer);
  if (!peer_address) return std::string(peer);
  Address client = *peer_address;
  if (ranges_.empty() || forwarded_for.empty() || !contains(client)) return format(client);
  // Walk from the right: each trusted hop vouches for the address to its left.
  for (auto header = forwarded_for.rbegin(); header != forwarded_for.rend(); ++header) {
    std::string_view list = *header;
    while (!list.empty()) {
      auto comma = list.rfind(',');
      std::string_view entry = comma == std::string_view::npos ? list : list.substr(comma + 1);
      list = comma == std::string_view::npos ? std::string_view() : list.substr(0, comma);
      if (trim(entry).empty()) continue;
      auto hop = parse_address(entry);
      if (!hop) return format(client);
      client = *hop;
      if (!contains(client)) return format(client);
    }
  }
  return format(client);
}

}  // namespace invited::http
