#include "web/wording.hpp"

#include <ctime>

namespace invited::web {
namespace {

std::string count_of(std::size_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

}  // namespace

std::string describe_targets(const std::vector<domain::InvitationTarget>& targets) {
  std::size_t websites = 0;
  std::size_t groups = 0;
  std::size_t organizations = 0;
  for (const auto& target : targets) {
    switch (target.kind) {
      case domain::TargetKind::kWebsite:
        ++websites;
        break;
      case domain::TargetKind::kGroup:
        ++groups;
        break;
      case domain::TargetKind::kOrganization:
        ++organizations;
        break;
    }
  }
  std::vector<std::string> parts;
  if (organizations) parts.emplace_back("the whole organization");
  if (websites) parts.push_back(count_of(websites, "website", "websites"));
  if (groups) parts.push_back(count_of(groups, "group of websites", "groups of websites"));
  std::string text;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i) text += i + 1 == parts.size() ? " and " : ", ";
    text += parts[i];
  }
  return text;
}

std::string human_date(domain::UnixSeconds seconds) {
  std::time_t t = static_cast<std::time_t>(seconds);
  std::tm utc{};
  gmtime_r(&t, &utc);
  char buffer[64];
  std::strftime(buffer, sizeof buffer, "%d %B %Y at %H:%M UTC", &utc);
  std::string text = buffer;
  if (text.front() == '0') text.erase(0, 1);
  return text;
}

}  // namespace invited::web
