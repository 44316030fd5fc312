#include "app/address_settings.hpp"

#include <arpa/inet.h>
#include <curl/curl.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>
#include <optional>

namespace invited::app {
namespace {

constexpr std::string_view kListenForms =
    "127.0.0.1:8080, localhost:8080 (127.0.0.1), [::1]:8080, 0.0.0.0:8080 or :8080 (every IPv4 "
    "interface), [::]:8080 (every interface); port 0 picks a free port";
constexpr std::string_view kPublicUrlExample =
    "https://invites.example.com or https://example.com/invited";
constexpr std::string_view kSmtpUrlExample =
    "smtp://user:password@mail.example.com:587 or smtps://mail.example.com:465";

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](char x, char y) { return lower(x) == lower(y); });
}

bool has_space_or_control(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    auto byte = static_cast<unsigned char>(c);
    return byte <= 0x20 || byte == 0x7f;
  });
}

// The value quoted for an error message, unless it holds bytes a terminal or log would mangle.
std::string shown(std::string_view text) {
  bool printable = std::all_of(text.begin(), text.end(), [](char c) {
    auto byte = static_cast<unsigned char>(c);
    return byte >= 0x20 && byte < 0x7f;
  });
  if (!printable) return "a value with control or non-ASCII characters";
  std::string quoted = "\"";
  quoted += text;
  quoted += '"';
  return quoted;
}

// A decimal port: digits only, at most 65535; `allow_zero` for a port to bind.
std::optional<std::uint16_t> parse_port(std::string_view text, bool allow_zero) {
  if (text.empty() || text.size() > 5) return std::nullopt;
  unsigned value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value > 65535 || (value == 0 && !allow_zero)) return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

std::optional<std::array<std::uint8_t, 4>> parse_ipv4(std::string_view text) {
  if (text.empty() || text.size() >= INET_ADDRSTRLEN) return std::nullopt;
  std::string terminated(text);
  std::array<std::uint8_t, 4> bytes{};
  if (inet_pton(AF_INET, terminated.c_str(), bytes.data()) != 1) return std::nullopt;
  return bytes;
}

std::optional<std::array<std::uint8_t, 16>> parse_ipv6(std::string_view text) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  std::string terminated(text);
  std::array<std::uint8_t, 16> bytes{};
  if (inet_pton(AF_INET6, terminated.c_str(), bytes.data()) != 1) return std::nullopt;
  return bytes;
}

std::string format_ipv6(const std::array<std::uint8_t, 16>& bytes) {
  char buffer[INET6_ADDRSTRLEN];
  inet_ntop(AF_INET6, bytes.data(), buffer, sizeof buffer);
  return buffer;
}

// RFC 3986 path characters besides '/': unreserved, sub-delims, ':' and '@' ('%' is checked
// separately, as the start of a %XX escape).
bool is_path_char(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("-._~!$&'()*+,;=:@/").find(c) != std::string_view::npos;
}

bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool is_host_name(std::string_view host) {
  return !host.empty() && std::all_of(host.begin(), host.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_';
  });
}

}  // namespace

std::variant<ListenAddress, std::string> parse_listen_address(std::string_view text,
                                                              std::string_view setting) {
  auto fail = [text, setting](std::string_view why) {
    return std::string(setting) + " " + std::string(why) + " (got " + shown(text) +
           "); it takes HOST:PORT such as " + std::string(kListenForms);
  };
  std::string_view host;
  std::string_view port_text;
  bool bracketed = !text.empty() && text.front() == '[';
  if (bracketed) {
    auto close = text.find(']');
    if (close == std::string_view::npos) return fail("has a '[' without its ']'");
    if (close + 1 >= text.size() || text[close + 1] != ':') {
      return fail("needs a port after the bracketed IPv6 address");
    }
    host = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return fail("needs a port");
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return fail("needs an IPv6 address in brackets, as in [::1]:8080");
    }
  }
  auto port = parse_port(port_text, /*allow_zero=*/true);
  if (!port) return fail("port must be a number from 0 to 65535");

  ListenAddress address;
  address.port = *port;
  if (bracketed) {
    if (host.find('%') != std::string_view::npos) {
      return fail("cannot bind a scoped IPv6 address (with %zone)");
    }
    auto bytes = parse_ipv6(host);
    if (!bytes) return fail("has [" + std::string(host) + "], which is not an IPv6 address");
    address.bind_host = format_ipv6(*bytes);
    bool wildcard = std::all_of(bytes->begin(), bytes->end(), [](auto b) { return b == 0; });
    address.url_host = wildcard ? "[::1]" : "[" + address.bind_host + "]";
    return address;
  }
  if (host.empty()) {
    address.bind_host = "0.0.0.0";
    address.url_host = "127.0.0.1";
    return address;
  }
  if (iequals(host, "localhost")) {
    address.bind_host = "127.0.0.1";
    address.url_host = "127.0.0.1";
    return address;
  }
  auto bytes = parse_ipv4(host);
  if (!bytes) {
    return fail("host must be an IPv4 address, a bracketed IPv6 address, localhost or nothing");
  }
  address.bind_host = std::string(host);
  bool wildcard = std::all_of(bytes->begin(), bytes->end(), [](auto b) { return b == 0; });
  address.url_host = wildcard ? "127.0.0.1" : address.bind_host;
  return address;
}

std::variant<PublicUrl, std::string> parse_public_url(std::string_view text) {
  auto fail = [text](std::string_view why, bool show = true) {
    return "--public-url " + std::string(why) + (show ? " (got " + shown(text) + ")" : "") +
           "; it is the absolute http:// or https:// URL where invitees reach this service, such "
           "as " +
           std::string(kPublicUrlExample);
  };
  if (text.empty()) return fail("is empty", false);
  if (has_space_or_control(text)) return fail("contains a space or a control character", false);
  auto separator = text.find("://");
  std::string scheme;
  if (separator != std::string_view::npos) {
    for (char c : text.substr(0, separator)) scheme += lower(c);
  }
  if (scheme != "http" && scheme != "https") return fail("must start with http:// or https://");
  std::string_view rest = text.substr(separator + 3);
  auto authority_end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, authority_end);
  std::string_view path =
      authority_end == std::string_view::npos ? std::string_view() : rest.substr(authority_end);
  if (authority.find('@') != std::string_view::npos) {
    return fail("must not hold user:password@ (every email would show it)");
  }

  std::string_view host;
  std::string_view port_part;  // after the host, ":PORT" or empty
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return fail("has a '[' without its ']'");
    host = authority.substr(0, close + 1);
    port_part = authority.substr(close + 1);
    auto inner = host.substr(1, host.size() - 2);
    if (inner.find('%') != std::string_view::npos || !parse_ipv6(inner)) {
      return fail("has a bracketed host that is not an IPv6 address");
    }
  } else {
    auto colon = authority.find(':');
    host = authority.substr(0, colon);
    port_part = colon == std::string_view::npos ? std::string_view() : authority.substr(colon);
    if (host.empty()) return fail("needs a host");
    if (!is_host_name(host)) {
      return fail(
          "host may hold only letters, digits, '.', '-' and '_' (use punycode for an "
          "internationalized name)");
    }
  }
  if (!port_part.empty() &&
      (port_part.front() != ':' || !parse_port(port_part.substr(1), /*allow_zero=*/false))) {
    return fail("port must be a number from 1 to 65535");
  }
  if (path.find_first_of("?#") != std::string_view::npos) {
    return fail(
        "cannot have a query (?) or a fragment (#): /invites/accept?token=... is "
        "appended to it");
  }
  for (std::size_t i = 0; i < path.size(); ++i) {
    if (path[i] == '%') {
      if (i + 2 >= path.size() || !is_hex(path[i + 1]) || !is_hex(path[i + 2])) {
        return fail("has a '%' that does not start a %XX escape");
      }
      i += 2;
    } else if (!is_path_char(path[i])) {
      return fail("path has a character that must be percent-encoded");
    }
  }
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  return PublicUrl{.url = scheme + "://" + std::string(authority) + std::string(path),
                   .host = std::string(host)};
}

std::variant<SmtpUrl, std::string> parse_smtp_url(const std::string& text) {
  auto fail = [](std::string_view why) {
    return "--smtp-url " + std::string(why) + "; use " + std::string(kSmtpUrlExample) +
           " (the value is not shown: it may hold a password)";
  };
  std::string scheme;
  if (auto separator = text.find("://"); separator != std::string::npos) {
    for (char c : text.substr(0, separator)) scheme += lower(c);
  }
  if (scheme != "smtp" && scheme != "smtps") return fail("must start with smtp:// or smtps://");
  std::unique_ptr<CURLU, decltype(&curl_url_cleanup)> url(curl_url(), curl_url_cleanup);
  if (!url) return fail("could not be read (out of memory)");
  if (CURLUcode code = curl_url_set(url.get(), CURLUPART_URL, text.c_str(), 0); code != CURLUE_OK) {
    return fail("is not a valid URL (" + std::string(curl_url_strerror(code)) + ")");
  }
  char* host = nullptr;
  if (curl_url_get(url.get(), CURLUPART_HOST, &host, 0) != CURLUE_OK || host == nullptr) {
    return fail("needs a host");
  }
  SmtpUrl parsed{.implicit_tls = scheme == "smtps", .host = host};
  curl_free(host);
  if (parsed.host.empty()) return fail("needs a host");
  return parsed;
}

bool is_loopback_host(std::string_view host) {
  if (iequals(host, "localhost")) return true;
  if (auto v4 = parse_ipv4(host)) return (*v4)[0] == 127;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    auto v6 = parse_ipv6(host.substr(1, host.size() - 2));
    if (!v6) return false;
    static constexpr std::array<std::uint8_t, 16> kLoopback = {0, 0, 0, 0, 0, 0, 0, 0,
                                                               0, 0, 0, 0, 0, 0, 0, 1};
    static constexpr std::array<std::uint8_t, 12> kMapped = {0, 0, 0, 0, 0,    0,
                                                             0, 0, 0, 0, 0xff, 0xff};
    if (*v6 == kLoopback) return true;
    return std::memcmp(v6->data(), kMapped.data(), kMapped.size()) == 0 && (*v6)[12] == 127;
  }
  return false;
}

}  // namespace invited::app
