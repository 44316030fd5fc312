#include "webhooks/http_post.hpp"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <cstring>

#include "domain/webhooks.hpp"

namespace invited::webhooks {
namespace {

constexpr std::size_t kExcerptBytes = 200;
constexpr std::size_t kMaxBodyBytes = 64 * 1024;

struct Exchange {
  bool allow_insecure = false;
  std::string refused;  // the address refused, when one was
  std::string excerpt;
  std::size_t body_bytes = 0;
  std::stop_token stop;
};

std::string address_text(const sockaddr* address) {
  char text[INET6_ADDRSTRLEN] = {};
  if (address->sa_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(address)->sin_addr, text, sizeof text);
  } else if (address->sa_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(address)->sin6_addr, text,
              sizeof text);
  }
  return text;
}

bool public_address(const sockaddr* address) {
  if (address->sa_family == AF_INET) {
    const auto& in = reinterpret_cast<const sockaddr_in*>(address)->sin_addr;
    return domain::is_public_address(
        std::span(reinterpret_cast<const std::uint8_t*>(&in.s_addr), 4));
  }
  if (address->sa_family == AF_INET6) {
    const auto& in6 = reinterpret_cast<const sockaddr_in6*>(address)->sin6_addr;
    return domain::is_public_address(std::span(in6.s6_addr, 16));
  }
  return false;  // no other family reaches the internet
}

// Called by libcurl for every address it is about to connect to, after name resolution.
curl_socket_t open_socket(void* user, curlsocktype purpose, curl_sockaddr* address) {
  auto& exchange = *static_cast<Exchange*>(user);
  const auto* target = &address->addr;
  if (purpose != CURLSOCKTYPE_IPCXN) return CURL_SOCKET_BAD;
  if (!exchange.allow_insecure && !public_address(target)) {
    exchange.refused = address_text(target);
    return CURL_SOCKET_BAD;
  }
  return socket(address->family, address->socktype, address->protocol);
}

std::size_t keep_excerpt(char* data, std::size_t size, std::size_t count, void* user) {
  auto& exchange = *static_cast<Exchange*>(user);
  const std::size_t bytes = size * count;
  exchange.body_bytes += bytes;
  if (exchange.body_bytes > kMaxBodyBytes) return 0;  // enough: the answer's status is known
  if (exchange.excerpt.size() < kExcerptBytes) {
    exchange.excerpt.append(data, std::min(bytes, kExcerptBytes - exchange.excerpt.size()));
  }
  return bytes;
}

int check_stop(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<Exchange*>(user)->stop.stop_requested() ? 1 : 0;
}

// Printable ASCII only, so an excerpt never breaks a log line or a JSON string.
std::string printable(std::string_view text) {
  std::string out;
  for (unsigned char c : text) out += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '?';
  return out;
}

}  // namespace

PostResult post_webhook(const std::string& url, const std::vector<std::string>& headers,
                        const std::string& body, const PostOptions& options, std::stop_token stop) {
  PostResult result;
  const auto started = std::chrono::steady_clock::now();
  CURL* curl = curl_easy_init();
  if (curl == nullptr) {
    result.error = "could not start an HTTP client";
    return result;
  }
  Exchange exchange;
  exchange.allow_insecure = options.allow_insecure;
  exchange.stop = stop;
  curl_slist* header_list = nullptr;
  for (const auto& header : headers) header_list = curl_slist_append(header_list, header.c_str());
  char error_buffer[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl, CURLOPT_PROXY, "");  // never through a proxy of the environment
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(options.timeout_ms));
  curl_easy_setopt(curl, CURLOPT_POST, 1L);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, header_list);
  curl_easy_setopt(curl, CURLOPT_OPENSOCKETFUNCTION, open_socket);
  curl_easy_setopt(curl, CURLOPT_OPENSOCKETDATA, &exchange);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, keep_excerpt);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &exchange);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, check_stop);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &exchange);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
  const CURLcode code = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(header_list);
  curl_easy_cleanup(curl);
  result.duration_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::steady_clock::now() - started)
                           .count();
  const bool answered = status > 0 && (code == CURLE_OK || code == CURLE_WRITE_ERROR);
  if (answered) result.status_code = static_cast<int>(status);
  if (result.succeeded()) return result;
  if (!exchange.refused.empty()) {
    result.error = "refused to connect to " + exchange.refused +
                   ": not a public address (loopback, private, link-local or reserved); "
                   "--webhook-allow-insecure allows it";
  } else if (answered) {
    result.error = "answered HTTP " + std::to_string(status);
    if (status >= 300 && status < 400) result.error += " (redirects are not followed)";
    if (!exchange.excerpt.empty()) result.error += ": " + printable(exchange.excerpt);
  } else if (code == CURLE_OPERATION_TIMEDOUT) {
    result.error = "no answer within " + std::to_string(options.timeout_ms / 1000) + " s";
  } else {
    result.error = error_buffer[0] != '\0' ? printable(error_buffer) : curl_easy_strerror(code);
  }
  return result;
}

}  // namespace invited::webhooks
