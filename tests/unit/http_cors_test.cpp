#include <gtest/gtest.h>

#include "http/cors.hpp"

namespace invited::http {
namespace {

CorsPolicy policy(std::string_view list) {
  auto result = CorsPolicy::parse(list);
  if (auto* error = std::get_if<std::string>(&result)) ADD_FAILURE() << list << ": " << *error;
  auto* parsed = std::get_if<CorsPolicy>(&result);
  return parsed ? *parsed : CorsPolicy();
}

std::string refusal(std::string_view list) {
  auto result = CorsPolicy::parse(list);
  auto* error = std::get_if<std::string>(&result);
  if (!error) ADD_FAILURE() << list << " was accepted";
  return error ? *error : "";
}

Request options_from(std::string_view origin, std::string path = "/api/v1/websites") {
  Request request;
  request.method = Method::kOptions;
  request.path = std::move(path);
  if (!origin.empty()) request.headers.emplace_back("origin", std::string(origin));
  return request;
}

std::string header(const Response& response, std::string_view name) {
  for (const auto& [key, value] : response.headers) {
    if (key == name) return value;
  }
  return "";
}

TEST(CorsPolicy, BlankListIsOff) {
  EXPECT_FALSE(policy("").enabled());
  EXPECT_FALSE(policy("  ").enabled());
  EXPECT_FALSE(policy("").preflight(options_from("https://app.example.com"), "GET"));
}

TEST(CorsPolicy, RefusesWhatIsNoOriginAndSaysWhatToFix) {
  EXPECT_NE(refusal("*").find("wildcard"), std::string::npos);
  EXPECT_NE(refusal("https://*.example.com").find("wildcard"), std::string::npos);
  EXPECT_NE(refusal("https://app.example.com/").find("trailing slash"), std::string::npos);
  EXPECT_NE(refusal("https://app.example.com/path").find("no path"), std::string::npos);
  EXPECT_NE(refusal("https://app.example.com?q=1").find("no path"), std::string::npos);
  EXPECT_NE(refusal("app.example.com").find("http:// or https://"), std::string::npos);
  EXPECT_NE(refusal("ftp://app.example.com").find("http:// or https://"), std::string::npos);
  EXPECT_NE(refusal("https://app.example.com:0").find("port"), std::string::npos);
  EXPECT_NE(refusal("https://app.example.com:99999").find("port"), std::string::npos);
  EXPECT_NE(refusal("https://app.example.com:http").find("port"), std::string::npos);
  EXPECT_NE(refusal("https://").find("host"), std::string::npos);
  EXPECT_NE(refusal("https://user@app.example.com").find("user"), std::string::npos);
  EXPECT_NE(refusal("https://a.example.com,,https://b.example.com").find("empty entry"),
            std::string::npos);
  EXPECT_NE(refusal("null").find("\"null\""), std::string::npos);
  // The message names the entry and shows what an origin looks like.
  std::string message = refusal("https://ok.example.com, https://bad.example.com/");
  EXPECT_NE(message.find("--cors-origins"), std::string::npos);
  EXPECT_NE(message.find("\"https://bad.example.com/\""), std::string::npos);
  EXPECT_NE(message.find("scheme://host[:port]"), std::string::npos);
}

TEST(CorsPolicy, PreflightFromAnAllowedOriginEchoesIt) {
  CorsPolicy cors = policy("https://app.example.com, http://localhost:3000, http://[::1]:8080");
  auto answer = cors.preflight(options_from("http://localhost:3000"), "GET, HEAD, POST");
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 204);
  EXPECT_EQ(header(*answer, "access-control-allow-origin"), "http://localhost:3000");
  EXPECT_EQ(header(*answer, "access-control-allow-methods"), "GET, HEAD, POST");
  EXPECT_EQ(header(*answer, "access-control-allow-headers"),
            "content-type, x-api-key, idempotency-key");
  EXPECT_EQ(header(*answer, "access-control-max-age"), "7200");
  EXPECT_EQ(header(*answer, "vary"), "origin");
  EXPECT_EQ(header(*answer, "access-control-allow-credentials"), "");
  EXPECT_TRUE(cors.preflight(options_from("http://[::1]:8080"), "GET"));
  // A default port is the same origin as none.
  EXPECT_TRUE(policy("https://app.example.com:443")
                  .preflight(options_from("https://app.example.com"), "GET"));
}

TEST(CorsPolicy, NoPreflightForOtherOriginsPathsOrMethods) {
  CorsPolicy cors = policy("https://app.example.com");
  EXPECT_FALSE(cors.preflight(options_from("https://evil.example.com"), "GET"));
  EXPECT_FALSE(cors.preflight(options_from("https://app.example.com.evil.example"), "GET"));
  EXPECT_FALSE(cors.preflight(options_from("http://app.example.com"), "GET"));
  EXPECT_FALSE(cors.preflight(options_from("https://app.example.com:8443"), "GET"));
  EXPECT_FALSE(cors.preflight(options_from("null"), "GET"));
  EXPECT_FALSE(cors.preflight(options_from(""), "GET"));
  EXPECT_FALSE(cors.preflight(options_from("https://app.example.com", "/invites/accept"), "GET"));
  Request get = options_from("https://app.example.com");
  get.method = Method::kGet;
  EXPECT_FALSE(cors.preflight(get, "GET"));
}

TEST(CorsPolicy, ActualAnswersCarryTheOriginOnlyWhenAllowed) {
  CorsPolicy cors = policy("https://app.example.com");
  Request request = options_from("https://app.example.com");
  request.method = Method::kGet;
  Response allowed;
  cors.add_headers(request, allowed);
  EXPECT_EQ(header(allowed, "access-control-allow-origin"), "https://app.example.com");
  EXPECT_EQ(header(allowed, "access-control-expose-headers"),
            "x-request-id, x-rate-limit-limit, x-rate-limit-remaining, x-rate-limit-reset, "
            "retry-after");
  EXPECT_EQ(header(allowed, "vary"), "origin");

  Request other = request;
  other.headers = {{"origin", "https://evil.example.com"}};
  Response refused;
  cors.add_headers(other, refused);
  EXPECT_EQ(refused.headers.size(), 1u);
  EXPECT_EQ(header(refused, "vary"), "origin");

  Request page = request;
  page.path = "/invites/accept";
  Response html;
  cors.add_headers(page, html);
  EXPECT_TRUE(html.headers.empty());

  Response off;
  policy("").add_headers(request, off);
  EXPECT_TRUE(off.headers.empty());
}

}  // namespace
}  // namespace invited::http
