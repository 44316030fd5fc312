#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace invited::http {

// The proxies whose X-Forwarded-For is believed (--trusted-proxies): a list of IPv4 and IPv6
// address ranges in CIDR notation. Immutable once parsed; safe to share between threads.
class TrustedProxies {
 public:
  // Parses a comma-separated list such as "10.0.0.0/8, 192.168.1.7, fd00::/8" (a bare address
  // is a range of one). An empty or blank list trusts nobody. Returns the proxies, or a message
  // naming the first entry that is not a CIDR range.
  static std::variant<TrustedProxies, std::string> parse(std::string_view list);

  bool empty() const { return ranges_.empty(); }

  // Whether `address` (textual IPv4 or IPv6, IPv4-mapped IPv6 counts as IPv4) is a trusted proxy.
  bool contains(std::string_view address) const;

  // The client address of a request that came from `peer` with these X-Forwarded-For header
  // values (each a comma-separated list; several headers join in order). The peer itself when
  // it is not trusted or sent no X-Forwarded-For; otherwise the right-most forwarded address
  // that is not itself trusted. When every forwarded address is trusted, the left-most one; an
  // entry that is not an IP address ends the walk at the trusted address to its right. Returned
  // in canonical text form.
  std::string client_address(std::string_view peer,
                             const std::vector<std::string_view>& forwarded_for) const;

 private:
  struct Range {
    std::array<std::uint8_t, 16> bytes;  // IPv4 as IPv4-mapped IPv6 (::ffff:a.b.c.d)
    int prefix;                          // in bits of the 128
  };
  struct Address {
    std::array<std::uint8_t, 16> bytes;
  };
  static std::optional<Address> parse_address(std::string_view text);
  static std::string format(const Address& address);
  bool contains(const Address& address) const;

  std::vector<Range> ranges_;
};

}  // namespace invited::http
