// The pages under /invites/ (SPEC §5): the invitation, Accept and Decline as plain form posts.
// No API key: the token is the credential. Errors are pages with the statuses of SPEC §3.
#include <algorithm>

#include "api/html_io.hpp"
#include "api/json_io.hpp"
#include "api/routes.hpp"
#include "domain/clock.hpp"
#include "domain/invitations.hpp"
#include "web/pages.hpp"

namespace invited::api {
namespace {

constexpr std::size_t kFormLimit = 64 * 1024;

// `organization`: whose invitation a refused (410) token was, named on its page when known.
http::Response error_page(const domain::Error& error,
                          const std::optional<std::string>& organization = std::nullopt) {
  std::string_view title = domain::refusal_title(error);
  switch (error.code) {
    case domain::ErrorCode::kNotFound:
      return page_response(
          404, web::message_page(title.empty() ? "Invitation not found" : title, error.message));
    case domain::ErrorCode::kGone:
      return page_response(
          410, web::message_page(
                   title.empty() ? "Invitation unavailable" : title,
                   organization ? domain::refusal_message(error, *organization) : error.message));
    case domain::ErrorCode::kUnavailable: {
      auto response = page_response(503, web::message_page("Please try again", error.message));
      response.headers.emplace_back("retry-after", "1");
      return response;
    }
    default:
      return page_response(500,
                           web::message_page("Something went wrong",
                                             "The invitation could not be processed. Please try "
                                             "again in a moment."));
  }
}

bool is_form(const http::Request& request) {
  auto type = request.header("content-type").value_or("");
  constexpr std::string_view kForm = "application/x-www-form-urlencoded";
  std::string lowered(type.substr(0, type.find(';')));
  std::transform(lowered.begin(), lowered.end(), lowered.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  while (!lowered.empty() && lowered.back() == ' ') lowered.pop_back();
  return lowered == kForm;
}

// The token of a form post, or the error page that answers the request.
std::variant<std::string, http::Response> form_token(const http::Request& request) {
  if (request.body_too_large || request.body.size() > kFormLimit) {
    return page_response(413,
                         web::message_page("Request too large", "The form sent too much data."));
  }
  if (!is_form(request)) {
    return page_response(415,
                         web::message_page("Unsupported form",
                                           "Send the form as application/x-www-form-urlencoded."));
  }
  auto token = http::form_value(request.body, "token");
  if (!token || token->empty()) {
    return page_response(400, web::message_page("Invitation link incomplete",
                                                "The form did not include the invitation token."));
  }
  return *token;
}

void show_invitation(Services& services, http::Request& request, http::Respond respond) {
  auto token = request.query_param("token");
  if (!token || token->empty()) {
    return respond(
        page_response(400, web::message_page("Invitation link incomplete",
                                             "The link is missing its token. Open the link "
                                             "from your invitation email again.")));
  }
  auto open = std::make_shared<domain::Result<domain::OpenInvitation>>(
      domain::Error{domain::ErrorCode::kInternal, ""});
  auto organization = std::make_shared<std::optional<std::string>>();
  auto now = domain::now();
  services.store.read(
      [open, organization, token = *token, now](domain::ReadTx& tx) -> domain::Status {
        *open = domain::open_invitation(tx, token, now);
        if (!*open && open->error().code == domain::ErrorCode::kGone) {
          *organization = domain::refused_invitation_organization(tx, token);
        }
        return {};
      },
      [open, organization, token = *token, respond = std::move(respond)](domain::Status status) {
        if (!status) return respond(error_page(status.error()));
        if (!*open) return respond(error_page(open->error(), *organization));
        respond(page_response(200, web::accept_page(**open, token)));
      });
}

// A form post that answers the token's batch in one write unit: `answer(tx, token, now)` is
// domain::accept_invitation or decline_invitation, and `page` renders its result.
template <typename T>
void answer_by_form(Services& services, http::Request& request, http::Respond respond,
                    domain::Result<T> (*answer)(domain::WriteTx&, std::string_view,
                                                domain::Instant),
                    std::string (*page)(const T&)) {
  auto token = form_token(request);
  if (auto* rejection = std::get_if<http::Response>(&token)) return respond(std::move(*rejection));
  auto outcome =
      std::make_shared<domain::Result<T>>(domain::Error{domain::ErrorCode::kInternal, ""});
  auto organization = std::make_shared<std::optional<std::string>>();
  auto now = domain::now();
  services.store.write(
      [outcome, organization, answer, token = std::get<std::string>(token),
       now](domain::WriteTx& tx) {
        *outcome = answer(tx, token, now);
        if (*outcome) return domain::Status();
        // The page of a used, expired or replaced token names the organization.
        if (outcome->error().code == domain::ErrorCode::kGone) {
          *organization = domain::refused_invitation_organization(tx, token);
        }
        // A refused token wrote nothing; rolling back keeps it that way.
        return domain::Status(outcome->error());
      },
      [outcome, organization, page, respond = std::move(respond)](domain::Status status) {
        if (!*outcome) return respond(error_page(outcome->error(), *organization));
        if (!status) return respond(error_page(status.error()));
        respond(page_response(200, page(**outcome)));
      });
}

}  // namespace

http::Handler throttled_token_endpoint(Services& services, TokenAnswer answer,
                                       http::Handler handler) {
  http::Handler::Serve serve = [&services, answer, inner = std::move(handler.serve)](
                                   http::Request& request, http::Respond respond) {
    auto decision =
        services.limiter.take_token_attempt(request.client_address, domain::now().unix_ms);
    if (decision.allowed) return inner(request, std::move(respond));
    const std::string seconds = std::to_string(decision.retry_after);
    http::Response refusal =
        answer == TokenAnswer::kPage
            ? page_response(
                  429, web::message_page("Too many attempts",
                                         "Too many invitation links were opened from your network. "
                                         "Please try again in " +
                                             seconds + " seconds."))
            : error_response(429, "rate_limited",
                             "too many invitation-token requests from this client address; "
                             "retry after " +
                                 seconds + " seconds");
    refusal.headers.emplace_back("retry-after", seconds);
    respond(std::move(refusal));
  };
  return http::Handler(std::move(serve), std::move(handler.check_header));
}

void register_accept_pages(http::Router& router, Services& services) {
  router.add(http::Method::kGet, "/invites/accept",
             throttled_token_endpoint(services, TokenAnswer::kPage,
                                      [&services](http::Request& request, http::Respond respond) {
                                        show_invitation(services, request, std::move(respond));
                                      }));
  router.add(http::Method::kPost, "/invites/accept",
             throttled_token_endpoint(services, TokenAnswer::kPage,
                                      [&services](http::Request& request, http::Respond respond) {
                                        answer_by_form<domain::AcceptedInvitation>(
                                            services, request, std::move(respond),
                                            domain::accept_invitation, web::accepted_page);
                                      }));
  router.add(http::Method::kPost, "/invites/decline",
             throttled_token_endpoint(services, TokenAnswer::kPage,
                                      [&services](http::Request& request, http::Respond respond) {
                                        answer_by_form<domain::OpenInvitation>(
                                            services, request, std::move(respond),
                                            domain::decline_invitation, web::declined_page);
                                      }));
}

}  // namespace invited::api
