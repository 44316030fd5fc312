#include "web/pages.hpp"

#include <sodium.h>

#include <kainjow/mustache.hpp>

#include "web/template_data.hpp"
#include "web/templates.hpp"
#include "web/wording.hpp"

namespace invited::web {
namespace mustache = kainjow::mustache;

namespace {

std::string render(std::string_view name, const mustache::data& data) {
  mustache::mustache view{std::string(template_text(name))};
  return view.render(data);
}

std::string document(std::string_view title, const std::string& content) {
  mustache::data data;
  data.set("title", std::string(title));
  data.set("style", std::string(template_text("page.css")));
  data.set("content", content);
  return render("page.html.mustache", data);
}

std::string outcome_text(const domain::AcceptResult& result) {
  switch (result.outcome) {
    case domain::AcceptOutcome::kAdded:
      return std::string(domain::role_name(result.role));
    case domain::AcceptOutcome::kAlreadyMember:
      return "already a member";
    case domain::AcceptOutcome::kTargetGone:
      return "no longer exists";
    case domain::AcceptOutcome::kNotPending:
      return "invitation withdrawn";
  }
  return "";
}

// Whether the person has the target now (added, or a member already).
bool gives_access(const domain::AcceptResult& result) {
  return result.outcome == domain::AcceptOutcome::kAdded ||
         result.outcome == domain::AcceptOutcome::kAlreadyMember;
}

std::string csp() {
  std::string_view style = template_text("page.css");
  unsigned char hash[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(hash, reinterpret_cast<const unsigned char*>(style.data()), style.size());
  constexpr int kVariant = sodium_base64_VARIANT_ORIGINAL;
  char encoded[sodium_base64_ENCODED_LEN(sizeof hash, kVariant)];
  sodium_bin2base64(encoded, sizeof encoded, hash, sizeof hash, kVariant);
  return std::string("default-src 'none'; style-src 'sha256-") + encoded +
         "'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
}

}  // namespace

std::string accept_page(const domain::OpenInvitation& open, std::string_view token) {
  const domain::Invitation& invitation = open.invitation;
  mustache::data data;
  data.set("organization", invitation.organization_name);
  data.set("email", invitation.email);
  data.set("summary", describe_targets(invitation.targets));
  data.set("targets", targets_data(invitation.targets));
  data.set("expires", human_date(invitation.expires_at));
  data.set("token", std::string(token));
  return document("Invitation to " + invitation.organization_name,
                  render("accept.html.mustache", data));
}

std::string accepted_page(const domain::AcceptedInvitation& accepted) {
  mustache::data data;
  data.set("organization", accepted.organization_name);
  data.set("email", accepted.email);
  mustache::data targets{mustache::data::type::list};
  for (const auto& result : accepted.results) {
    mustache::data item;
    item.set("name", result.target_name);
    if (!result.target_url.empty()) item.set("url", result.target_url);
    if (is_http_link(result.target_url)) item.set("href", result.target_url);
    item.set("outcome", outcome_text(result));
    item.set("ok", gives_access(result));
    targets.push_back(item);
  }
  data.set("targets", targets);
  // An invitation to exactly one website leads straight on to it, once the person has access.
  if (accepted.results.size() == 1) {
    const domain::AcceptResult& only = accepted.results.front();
    if (only.kind == domain::TargetKind::kWebsite && gives_access(only) &&
        is_http_link(only.target_url)) {
      mustache::data go_to;
      go_to.set("name", only.target_name);
      go_to.set("href", only.target_url);
      data.set("go_to", go_to);
    }
  }
  return document("Invitation accepted", render("accepted.html.mustache", data));
}

std::string declined_page(const domain::OpenInvitation& declined) {
  return message_page("Invitation declined",
                      "You declined the invitation from " + declined.invitation.organization_name +
                          ". Nothing was added to your account, and this link no longer works.");
}

std::string message_page(std::string_view heading, std::string_view message) {
  mustache::data data;
  data.set("heading", std::string(heading));
  data.set("message", std::string(message));
  return document(heading, render("message.html.mustache", data));
}

const std::vector<std::pair<std::string, std::string>>& page_headers() {
  static const std::vector<std::pair<std::string, std::string>> headers = {
      {"content-security-policy", csp()},    {"x-frame-options", "DENY"},
      {"cache-control", "no-store"},         {"referrer-policy", "no-referrer"},
      {"x-content-type-options", "nosniff"},
  };
  return headers;
}

}  // namespace invited::web
