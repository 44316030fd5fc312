#include "store/postgres/connection_url.hpp"

#include <algorithm>
#include <cctype>

namespace invited::store::postgres {
namespace {

constexpr std::string_view kMask = "***";

bool starts_with_ignoring_case(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[i])) != prefix[i]) return false;
  }
  return true;
}

std::size_t scheme_length(std::string_view url) {
  for (std::string_view scheme : {"postgresql://", "postgres://"}) {
    if (starts_with_ignoring_case(url, scheme)) return scheme.size();
  }
  return 0;
}

// Masks the value of every `password=` parameter in `text`. Values end at `&` in a URI query,
// at whitespace in a keyword/value string, or at the closing quote of a quoted value.
std::string mask_password_parameters(std::string_view text, bool uri) {
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    bool at_key = starts_with_ignoring_case(text.substr(i), "password") &&
                  (i == 0 || text[i - 1] == '&' || text[i - 1] == '?' ||
                   std::isspace(static_cast<unsigned char>(text[i - 1])));
    if (!at_key) {
      out += text[i++];
      continue;
    }
    std::size_t j = i + 8;
    while (!uri && j < text.size() && text[j] == ' ') ++j;
    if (j >= text.size() || text[j] != '=') {
      out += text[i++];
      continue;
    }
    ++j;
    while (!uri && j < text.size() && text[j] == ' ') ++j;
    out.append(text.substr(i, j - i));
    out.append(kMask);
    if (!uri && j < text.size() && text[j] == '\'') {
      ++j;
      while (j < text.size() && text[j] != '\'') j += text[j] == '\\' ? 2 : 1;
      ++j;
    } else {
      while (j < text.size() && !(uri ? text[j] == '&' || text[j] == '#'
                                      : std::isspace(static_cast<unsigned char>(text[j])))) {
        ++j;
      }
    }
    i = std::min(j, text.size());
  }
  return out;
}

}  // namespace

bool is_connection_url(std::string_view url) { return scheme_length(url) != 0; }

std::string mask_password(std::string_view url) {
  std::size_t start = scheme_length(url);
  if (start == 0) return mask_password_parameters(url, false);
  // As libpq reads a URI: the user info ends at the first '@' that comes before any '/'.
  std::size_t end = start;
  while (end < url.size() && url[end] != '@' && url[end] != '/') ++end;
  std::string out(url.substr(0, start));
  std::size_t rest = start;
  if (end < url.size() && url[end] == '@') {
    std::string_view user_info = url.substr(start, end - start);
    std::size_t colon = user_info.find(':');
    if (colon == std::string_view::npos) {
      out.append(user_info);
    } else {
      out.append(user_info.substr(0, colon + 1));
      out.append(kMask);
    }
    rest = end;
  }
  std::string_view tail = url.substr(rest);
  std::size_t query = tail.find('?');
  if (query == std::string_view::npos) {
    out.append(tail);
  } else {
    out.append(tail.substr(0, query));
    out.append(mask_password_parameters(tail.substr(query), true));
  }
  return out;
}

}  // namespace invited::store::postgres
