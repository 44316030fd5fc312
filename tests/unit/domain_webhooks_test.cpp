#include <gtest/gtest.h>
#include <sodium.h>

#include <array>

#include "domain/webhooks.hpp"

namespace invited::domain {
namespace {

TEST(WebhookSignature, MatchesTheStandardWebhooksExample) {
  // The example of the Standard Webhooks specification (and of its reference libraries).
  auto signature =
      sign_webhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek",
                   1614265330, R"({"test": 2432232314})");
  ASSERT_TRUE(signature.has_value());
  EXPECT_EQ(*signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

TEST(WebhookSignature, RefusesASecretOfAnotherForm) {
  EXPECT_FALSE(sign_webhook("ik_abc", "id", 1, "{}").has_value());
  EXPECT_FALSE(sign_webhook("whsec_", "id", 1, "{}").has_value());
  EXPECT_FALSE(sign_webhook("whsec_***", "id", 1, "{}").has_value());
}

TEST(WebhookSignature, TwoSignaturesWhileThePreviousSecretSigns) {
  ASSERT_GE(sodium_init(), 0);
  WebhookEndpoint endpoint;
  endpoint.secret = issue_webhook_secret();
  endpoint.previous_secret = issue_webhook_secret();
  endpoint.previous_until_ms = 1000;
  const auto both = webhook_signature_header(endpoint, "id", 1, "{}", 999);
  EXPECT_EQ(both, *sign_webhook(endpoint.secret, "id", 1, "{}") + " " +
                      *sign_webhook(*endpoint.previous_secret, "id", 1, "{}"));
  EXPECT_EQ(webhook_signature_header(endpoint, "id", 1, "{}", 1000),
            *sign_webhook(endpoint.secret, "id", 1, "{}"));
}

TEST(WebhookSecret, IsWhsecAndBase64Of32Bytes) {
  ASSERT_GE(sodium_init(), 0);
  const auto secret = issue_webhook_secret();
  EXPECT_EQ(secret.rfind("whsec_", 0), 0u);
  EXPECT_EQ(secret.size(), 6u + 44u);
  EXPECT_NE(secret, issue_webhook_secret());
}

TEST(WebhookAddress, PublicOnlyWhenTheInternetRoutesIt) {
  for (const char* text : {"127.0.0.1",       "10.0.0.1",      "172.16.5.4",    "192.168.1.1",
                           "169.254.169.254", "100.64.0.1",    "0.0.0.0",       "224.0.0.1",
                           "255.255.255.255", "192.0.2.7",     "::1",           "::",
                           "fe80::1",         "fc00::1",       "fd00:ec2::254", "::ffff:127.0.0.1",
                           "64:ff9b::a00:1",  "2002:7f00:1::", "2001:db8::1",   "ff02::1",
                           "127.1",           "0x7f000001",    "2130706433"}) {
    auto is_public = is_public_address_literal(text);
    ASSERT_TRUE(is_public.has_value()) << text;
    EXPECT_FALSE(*is_public) << text;
  }
  for (const char* text :
       {"8.8.8.8", "1.1.1.1", "172.32.0.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"}) {
    auto is_public = is_public_address_literal(text);
    ASSERT_TRUE(is_public.has_value()) << text;
    EXPECT_TRUE(*is_public) << text;
  }
  EXPECT_FALSE(is_public_address_literal("hooks.example.com").has_value());
}

TEST(WebhookUrl, HttpsOnAPublicAddressUnlessInsecureIsAllowed) {
  EXPECT_FALSE(webhook_url_problem("https://hooks.example.com/in?x=1", false));
  EXPECT_FALSE(webhook_url_problem("https://8.8.8.8:8443/", false));
  EXPECT_FALSE(webhook_url_problem("https://localhost/", false)) << "names are checked at connect";
  EXPECT_TRUE(webhook_url_problem("http://hooks.example.com/", false));
  EXPECT_TRUE(webhook_url_problem("https://127.0.0.1/", false));
  EXPECT_TRUE(webhook_url_problem("https://[::1]:8080/", false));
  EXPECT_TRUE(webhook_url_problem("https://u:p@hooks.example.com/", false));
  EXPECT_TRUE(webhook_url_problem("https://hooks.example.com:0/", false));
  EXPECT_TRUE(webhook_url_problem("https:///path", false));
  EXPECT_TRUE(webhook_url_problem("https://hooks example.com/", false));
  EXPECT_FALSE(webhook_url_problem("http://127.0.0.1:9000/hook", true));
  EXPECT_TRUE(webhook_url_problem("ftp://127.0.0.1/", true));
}

TEST(WebhookEventTypes, SubscriptionMatchesExactTypesAndPrefixes) {
  EXPECT_TRUE(webhook_subscribes({}, "group.created"));
  EXPECT_TRUE(webhook_subscribes({"invitation.*"}, "invitation.accepted"));
  EXPECT_FALSE(webhook_subscribes({"invitation.*"}, "membership.created"));
  EXPECT_TRUE(webhook_subscribes({"membership.created"}, "membership.created"));
  EXPECT_EQ(stored_event_types({"a.b", "c.*"}), " a.b c.* ");
  EXPECT_EQ(parse_stored_event_types(" a.b c.* "), (std::vector<std::string>{"a.b", "c.*"}));
  EXPECT_TRUE(parse_stored_event_types("").empty());
  EXPECT_EQ(webhook_event_types().size(), 22u);
}

TEST(WebhookRetries, FiveSecondsThenGrowingOverAboutADayThenFailed) {
  const std::array<std::int64_t, 7> expected{5'000,      300'000,    1'800'000, 7'200'000,
                                             18'000'000, 36'000'000, 36'000'000};
  for (int attempt = 1; attempt <= 7; ++attempt) {
    EXPECT_EQ(webhook_retry_delay_ms(attempt), expected[static_cast<std::size_t>(attempt - 1)]);
  }
  EXPECT_FALSE(webhook_retry_delay_ms(8).has_value());
  EXPECT_FALSE(webhook_retry_delay_ms(9).has_value());
}

TEST(WebhookDisabling, AfterFiveDaysWithoutASuccess) {
  const std::int64_t day = 24LL * 3600 * 1000;
  EXPECT_FALSE(webhook_endpoint_should_disable(std::nullopt, 0, 5 * day - 1));
  EXPECT_TRUE(webhook_endpoint_should_disable(std::nullopt, 0, 5 * day));
  EXPECT_FALSE(webhook_endpoint_should_disable(3 * day, 0, 7 * day));
}

}  // namespace
}  // namespace invited::domain
