#include "domain/email.hpp"

#include <algorithm>

#include "domain/text.hpp"

namespace invited::domain {
namespace {

constexpr std::size_t kMaxLength = 254;
constexpr std::size_t kMaxLocalLength = 64;
constexpr std::size_t kMaxLabelLength = 63;

bool is_ascii_alnum(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool is_atext(unsigned char c) {
  if (c >= 0x80) return true;  // UTF-8 (RFC 6531)
  if (is_ascii_alnum(c)) return true;
  return std::string_view("!#$%&'*+-/=?^_`{|}~").find(static_cast<char>(c)) !=
         std::string_view::npos;
}

// Dot-separated runs of characters accepted by `allowed`, none empty.
template <typename Allowed>
bool is_dotted(std::string_view text, Allowed allowed, std::size_t max_run) {
  std::size_t run = 0;
  for (char c : text) {
    if (c == '.') {
      if (run == 0) return false;
      run = 0;
      continue;
    }
    if (!allowed(static_cast<unsigned char>(c))) return false;
    if (++run > max_run) return false;
  }
  return run > 0;
}

bool is_valid_domain(std::string_view domain) {
  if (!is_dotted(
          domain, [](unsigned char c) { return c >= 0x80 || is_ascii_alnum(c) || c == '-'; },
          kMaxLabelLength)) {
    return false;
  }
  // No label starts or ends with a hyphen.
  for (std::size_t i = 0; i < domain.size(); ++i) {
    if (domain[i] != '-') continue;
    bool at_start = i == 0 || domain[i - 1] == '.';
    bool at_end = i + 1 == domain.size() || domain[i + 1] == '.';
    if (at_start || at_end) return false;
  }
  return true;
}

}  // namespace

std::optional<Email> Email::parse(std::string_view raw) {
  std::string_view text = trim_ascii_whitespace(raw);
  if (text.empty() || text.size() > kMaxLength || !is_well_formed_utf8(text) ||
      has_control_characters(text) || has_unicode_whitespace(text)) {
    return std::nullopt;
  }
  auto at = text.find('@');
  if (at == std::string_view::npos || text.find('@', at + 1) != std::string_view::npos) {
    return std::nullopt;
  }
  std::string_view local = text.substr(0, at);
  std::string_view domain = text.substr(at + 1);
  if (local.size() > kMaxLocalLength || !is_dotted(local, is_atext, kMaxLocalLength)) {
    return std::nullopt;
  }
  if (!is_valid_domain(domain)) return std::nullopt;

  std::string key(text);
  std::transform(key.begin(), key.end(), key.begin(), [](char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  });
  return Email(std::string(text), std::move(key));
}

}  // namespace invited::domain
