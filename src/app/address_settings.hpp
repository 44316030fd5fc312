#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

namespace invited::app {

// The checks of the settings that are network addresses (--listen, --public-url, --smtp-url).
// Each returns the parsed value or a message that names the setting, says what is wrong and
// shows an accepted form; a message never repeats an SMTP URL, which may hold a password.

// --listen: HOST:PORT where HOST is an IPv4 address, a bracketed IPv6 address, `localhost`
// (127.0.0.1) or nothing (every IPv4 interface, 0.0.0.0), and PORT is 0 to 65535 (0: the
// kernel picks one).
struct ListenAddress {
  std::string bind_host;  // an IP address as asio::ip::make_address reads it (no brackets)
  std::uint16_t port = 0;
  // The host of the default public URL: the bound address, or the loopback address of its
  // family when it is a wildcard (0.0.0.0 → 127.0.0.1, [::] → [::1]); IPv6 in brackets.
  std::string url_host;
};
// `setting` names the setting in the messages (--metrics-listen takes the same form).
std::variant<ListenAddress, std::string> parse_listen_address(
    std::string_view text, std::string_view setting = "--listen");

// --public-url: an absolute http:// or https:// URL with a host, an optional port and an
// optional path (RFC 3986 characters only), without user:password@, query or fragment, since
// /invites/accept?token=... is appended to it. Returned with the scheme in lower case and
// trailing slashes removed.
struct PublicUrl {
  std::string url;
  std::string host;  // IPv6 in brackets: the Message-ID and default From domain
};
std::variant<PublicUrl, std::string> parse_public_url(std::string_view text);

// --smtp-url: smtp:// or smtps:// with a host, read by libcurl's own URL parser (so the host
// checked is the host libcurl connects to).
struct SmtpUrl {
  bool implicit_tls = false;  // smtps://
  std::string host;           // IPv6 in brackets
};
std::variant<SmtpUrl, std::string> parse_smtp_url(const std::string& text);

// Whether `host` (a name, an IPv4 address or a bracketed IPv6 address) is this machine's
// loopback: `localhost`, 127.0.0.0/8, ::1 or ::ffff:127.0.0.0/104. Any other name is not, even
// one that resolves to a loopback address.
bool is_loopback_host(std::string_view host);

}  // namespace invited::app
