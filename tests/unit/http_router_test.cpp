#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "http/message.hpp"
#include "http/router.hpp"

namespace invited::http {
namespace {

using Kind = Router::Match::Kind;
using Params = std::vector<std::string>;

constexpr const char* kId = "0190a3c4-0000-7000-8000-000000000001";
constexpr const char* kOtherId = "0190A3C4-0000-7000-8000-0000000000FF";
std::string with(std::string_view prefix, std::string_view id, std::string_view suffix = "") {
  return std::string(prefix) + std::string(id) + std::string(suffix);
}

// A router whose handlers record their own name in `called` when run.
class RouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    add(Method::kGet, "/api/v1/websites");
    add(Method::kPost, "/api/v1/websites");
    add(Method::kGet, "/api/v1/websites/{id}");
    add(Method::kDelete, "/api/v1/websites/{id}");
    add(Method::kPost, "/api/v1/websites/{id}/restore");
    add(Method::kGet, "/api/v1/websites/{id}/members");
    add(Method::kPatch, "/api/v1/websites/{id}/members/{user_id}");
    add(Method::kDelete, "/api/v1/websites/{id}/members/{user_id}");
    add(Method::kPost, "/api/v1/invites/bulk");
    add(Method::kGet, "/api/v1/invites/{id}");
    add(Method::kDelete, "/api/v1/invites/{id}");
    add(Method::kGet, "/healthz");
  }

  void add(Method method, std::string pattern) {
    std::string name = std::string(method_name(method)) + " " + pattern;
    router.add(method, pattern, [this, name](Request&, Respond) { called = name; });
  }

  // Runs the matched handler and returns the name it recorded.
  std::string run(const Router::Match& match) {
    called.clear();
    if (match.handler == nullptr) return "<none>";
    Request request;
    (*match.handler)(request, [](Response) {});
    return called;
  }

  Router router;
  std::string called;
};

TEST_F(RouterTest, MatchesLiteralPath) {
  auto match = router.match(Method::kGet, "/api/v1/websites");
  EXPECT_EQ(match.kind, Kind::kFound);
  EXPECT_EQ(match.pattern, "/api/v1/websites");
  EXPECT_TRUE(match.params.empty());
  EXPECT_EQ(run(match), "GET /api/v1/websites");
}

TEST_F(RouterTest, PicksHandlerByMethod) {
  EXPECT_EQ(run(router.match(Method::kPost, "/api/v1/websites")), "POST /api/v1/websites");
  EXPECT_EQ(run(router.match(Method::kDelete, with("/api/v1/websites/", kId))),
            "DELETE /api/v1/websites/{id}");
}

TEST_F(RouterTest, PlaceholderCapturesOneSegment) {
  auto match = router.match(Method::kGet, "/api/v1/websites/0190a3c4-0000-7000-8000-000000000001");
  ASSERT_EQ(match.kind, Kind::kFound);
  EXPECT_EQ(match.pattern, "/api/v1/websites/{id}");
  EXPECT_EQ(match.params, Params{"0190a3c4-0000-7000-8000-000000000001"});
  EXPECT_EQ(run(match), "GET /api/v1/websites/{id}");
}

TEST_F(RouterTest, ParamsAreCapturedInOrder) {
  auto match =
      router.match(Method::kPatch, with("/api/v1/websites/", kId, with("/members/", kOtherId)));
  ASSERT_EQ(match.kind, Kind::kFound);
  EXPECT_EQ(match.pattern, "/api/v1/websites/{id}/members/{user_id}");
  EXPECT_EQ(match.params, (Params{kId, kOtherId}));
}

TEST_F(RouterTest, LiteralSegmentsMustMatchExactly) {
  EXPECT_EQ(router.match(Method::kGet, "/api/v1/website").kind, Kind::kNotFound);
  EXPECT_EQ(router.match(Method::kGet, "/api/v1/Websites").kind, Kind::kNotFound);
  EXPECT_EQ(router.match(Method::kGet, "/api/v2/websites").kind, Kind::kNotFound);
  EXPECT_EQ(router.match(Method::kGet, with("/api/v1/websites/", kId, "/member")).kind,
            Kind::kNotFound);
  EXPECT_EQ(router.match(Method::kPost, with("/api/v1/websites/", kId, "/restored")).kind,
            Kind::kNotFound);
}

TEST_F(RouterTest, SegmentCountMustMatch) {
  EXPECT_EQ(router.match(Method::kGet, "/api/v1").kind, Kind::kNotFound);
  EXPECT_EQ(router.match(Method::kGet, with("/api/v1/websites/", kId, "/members/y/z")).kind,
            Kind::kNotFound);
  EXPECT_EQ(router.match(Method::kGet, "/healthz/extra").kind, Kind::kNotFound);
}

TEST_F(RouterTest, TrailingSlashMatchesNothing) {
  EXPECT_EQ(router.match(Method::kGet, "/api/v1/websites/").kind, Kind::kNotFound);
  EXPECT_EQ(router.match(Method::kGet, "/healthz/").kind, Kind::kNotFound);
  EXPECT_EQ(router.match(Method::kPut, "/api/v1/websites/").kind, Kind::kNotFound);
}

TEST_F(RouterTest, EmptySegmentsMatchNothing) {
  EXPECT_EQ(router.match(Method::kGet, "//api/v1/websites").kind, Kind::kNotFound);
  EXPECT_EQ(router.match(Method::kGet, "/api//v1/websites").kind, Kind::kNotFound);
  // A placeholder never captures an empty segment.
  EXPECT_EQ(router.match(Method::kGet, "/api/v1/websites//members").kind, Kind::kNotFound);
  EXPECT_EQ(router.match(Method::kDelete, with("/api/v1/websites/", kId, "/members/")).kind,
            Kind::kNotFound);
}

TEST_F(RouterTest, PathsWithoutLeadingSlashOrEmptyMatchNothing) {
  EXPECT_EQ(router.match(Method::kGet, "").kind, Kind::kNotFound);
  EXPECT_EQ(router.match(Method::kGet, "/").kind, Kind::kNotFound);
  EXPECT_EQ(router.match(Method::kGet, "healthz").kind, Kind::kNotFound);
  EXPECT_EQ(router.match(Method::kGet, "api/v1/websites").kind, Kind::kNotFound);
}

TEST_F(RouterTest, NotFoundHasNoHandler) {
  auto match = router.match(Method::kGet, "/nope");
  EXPECT_EQ(match.kind, Kind::kNotFound);
  EXPECT_EQ(match.handler, nullptr);
  EXPECT_TRUE(match.allow.empty());
}

TEST_F(RouterTest, KnownPathOtherMethodIsMethodNotAllowedWithAllow) {
  auto match = router.match(Method::kPut, "/api/v1/websites");
  EXPECT_EQ(match.kind, Kind::kMethodNotAllowed);
  EXPECT_EQ(match.handler, nullptr);
  EXPECT_EQ(match.allow, "GET, HEAD, POST");
}

TEST_F(RouterTest, AllowListsMethodsOfPlaceholderRoutes) {
  auto match = router.match(Method::kPost, with("/api/v1/websites/", kId));
  EXPECT_EQ(match.kind, Kind::kMethodNotAllowed);
  EXPECT_EQ(match.allow, "GET, HEAD, DELETE");

  auto members = router.match(Method::kGet, with("/api/v1/websites/", kId, with("/members/", kId)));
  EXPECT_EQ(members.kind, Kind::kMethodNotAllowed);
  EXPECT_EQ(members.allow, "PATCH, DELETE");
}

TEST_F(RouterTest, PlaceholderMatchesOnlyUuids) {
  for (const char* id :
       {"abc", "bulk", "0190a3c4-0000-7000-8000-00000000000",
        "0190a3c4-0000-7000-8000-0000000000011", "0190a3c4_0000-7000-8000-000000000001",
        "0190a3c4-0000-7000-8000-00000000000g", "{0190a3c4-0000-7000-8000-000000000001}"}) {
    EXPECT_EQ(router.match(Method::kGet, with("/api/v1/websites/", id)).kind, Kind::kNotFound)
        << id;
    EXPECT_EQ(router.match(Method::kPut, with("/api/v1/websites/", id)).kind, Kind::kNotFound)
        << id;
  }
  EXPECT_EQ(router.match(Method::kGet, with("/api/v1/websites/", kOtherId)).kind, Kind::kFound);
}

TEST_F(RouterTest, LiteralRouteWinsOverPlaceholderRoute) {
  // "bulk" is no id: GET /api/v1/invites/bulk is the bulk path with another method.
  auto get = router.match(Method::kGet, "/api/v1/invites/bulk");
  EXPECT_EQ(get.kind, Kind::kMethodNotAllowed);
  EXPECT_EQ(get.allow, "POST");
  EXPECT_EQ(get.pattern, "/api/v1/invites/bulk");
  auto options = router.match(Method::kOptions, "/api/v1/invites/bulk");
  EXPECT_EQ(options.kind, Kind::kMethodNotAllowed);
  EXPECT_EQ(options.allow, "POST");
}

TEST_F(RouterTest, LiteralRouteWinsEvenWhenItLooksLikeAnId) {
  Router ids;
  ids.add(Method::kGet, "/a/{id}", [](Request&, Respond) {});
  ids.add(Method::kPost, with("/a/", kId), [](Request&, Respond) {});
  auto post = ids.match(Method::kPost, with("/a/", kId));
  EXPECT_EQ(post.kind, Kind::kFound);
  EXPECT_TRUE(post.params.empty());
  auto get = ids.match(Method::kGet, with("/a/", kId));
  EXPECT_EQ(get.kind, Kind::kMethodNotAllowed);
  EXPECT_EQ(get.allow, "POST");
  EXPECT_EQ(ids.match(Method::kGet, with("/a/", kOtherId)).kind, Kind::kFound);
}

TEST_F(RouterTest, LiteralRouteFoundBesidePlaceholderRoute) {
  auto match = router.match(Method::kPost, "/api/v1/invites/bulk");
  ASSERT_EQ(match.kind, Kind::kFound);
  EXPECT_EQ(match.pattern, "/api/v1/invites/bulk");
  EXPECT_TRUE(match.params.empty());
  EXPECT_EQ(match.allow, "POST");
}

TEST_F(RouterTest, HeadIsServedByTheGetRoute) {
  auto health = router.match(Method::kHead, "/healthz");
  ASSERT_EQ(health.kind, Kind::kFound);
  EXPECT_EQ(run(health), "GET /healthz");
  auto website = router.match(Method::kHead, with("/api/v1/websites/", kId));
  ASSERT_EQ(website.kind, Kind::kFound);
  EXPECT_EQ(website.params, Params{kId});
  EXPECT_EQ(run(website), "GET /api/v1/websites/{id}");
  auto bulk = router.match(Method::kHead, "/api/v1/invites/bulk");
  EXPECT_EQ(bulk.kind, Kind::kMethodNotAllowed);
  EXPECT_EQ(bulk.allow, "POST");
}

TEST_F(RouterTest, AnExplicitHeadRouteWins) {
  Router heads;
  heads.add(Method::kGet, "/x", [](Request&, Respond) {});
  heads.add(Method::kHead, "/x", [](Request& request, Respond) { request.route = "head"; });
  auto match = heads.match(Method::kHead, "/x");
  ASSERT_EQ(match.kind, Kind::kFound);
  Request request;
  (*match.handler)(request, [](Response) {});
  EXPECT_EQ(request.route, "head");
  EXPECT_EQ(heads.match(Method::kPost, "/x").allow, "GET, HEAD");
}

TEST_F(RouterTest, AllowNamesEachMethodOnce) {
  Router twice;
  twice.add(Method::kGet, "/a/{x}", [](Request&, Respond) {});
  twice.add(Method::kGet, "/a/{y}", [](Request&, Respond) {});
  twice.add(Method::kPost, "/a/{z}", [](Request&, Respond) {});
  auto match = twice.match(Method::kDelete, with("/a/", kId));
  EXPECT_EQ(match.kind, Kind::kMethodNotAllowed);
  EXPECT_EQ(match.allow, "GET, HEAD, POST");
}

TEST(UuidText, AcceptsCanonicalFormInEitherCase) {
  EXPECT_TRUE(is_uuid_text(kId));
  EXPECT_TRUE(is_uuid_text(kOtherId));
  EXPECT_FALSE(is_uuid_text(""));
  EXPECT_FALSE(is_uuid_text("0190a3c400007000800000000000001a"));
  EXPECT_FALSE(is_uuid_text("0190a3c4-0000-7000-8000-00000000000z"));
  EXPECT_FALSE(is_uuid_text("0190a3c4-0000-7000-8000_000000000001"));
}

TEST(MethodName, NamesEveryMethod) {
  EXPECT_EQ(method_name(Method::kGet), "GET");
  EXPECT_EQ(method_name(Method::kHead), "HEAD");
  EXPECT_EQ(method_name(Method::kPost), "POST");
  EXPECT_EQ(method_name(Method::kPut), "PUT");
  EXPECT_EQ(method_name(Method::kPatch), "PATCH");
  EXPECT_EQ(method_name(Method::kDelete), "DELETE");
  EXPECT_EQ(method_name(Method::kOptions), "OPTIONS");
}

TEST(PercentDecode, DecodesEscapesAndPlus) {
  EXPECT_EQ(percent_decode(""), "");
  EXPECT_EQ(percent_decode("plain"), "plain");
  EXPECT_EQ(percent_decode("a%20b"), "a b");
  EXPECT_EQ(percent_decode("a+b"), "a b");
  EXPECT_EQ(percent_decode("%2B"), "+");
  EXPECT_EQ(percent_decode("%2b%2F%3d"), "+/=");
  EXPECT_EQ(percent_decode("%41%42C"), "ABC");
  EXPECT_EQ(percent_decode("%e2%82%AC"), "\xe2\x82\xac");  // €
  EXPECT_EQ(percent_decode("%25"), "%");
  EXPECT_EQ(percent_decode("%2525"), "%25");  // decoded once only
  EXPECT_EQ(percent_decode("end%21"), "end!");
}

TEST(PercentDecode, MalformedEscapeIsNullopt) {
  EXPECT_EQ(percent_decode("%"), std::nullopt);
  EXPECT_EQ(percent_decode("abc%"), std::nullopt);
  EXPECT_EQ(percent_decode("%4"), std::nullopt);
  EXPECT_EQ(percent_decode("abc%4"), std::nullopt);
  EXPECT_EQ(percent_decode("%4G"), std::nullopt);
  EXPECT_EQ(percent_decode("%G4"), std::nullopt);
  EXPECT_EQ(percent_decode("%%41"), std::nullopt);
  EXPECT_EQ(percent_decode("%-1"), std::nullopt);
  EXPECT_EQ(percent_decode("% 1"), std::nullopt);
}

TEST(FormValue, FindsNamedValue) {
  EXPECT_EQ(form_value("a=1&b=2&c=3", "a"), "1");
  EXPECT_EQ(form_value("a=1&b=2&c=3", "b"), "2");
  EXPECT_EQ(form_value("a=1&b=2&c=3", "c"), "3");
}

TEST(FormValue, DecodesValue) {
  EXPECT_EQ(form_value("token=abc%2Fdef%3D", "token"), "abc/def=");
  EXPECT_EQ(form_value("name=Ann+Lee", "name"), "Ann Lee");
  EXPECT_EQ(form_value("q=a%2Bb", "q"), "a+b");
}

TEST(FormValue, AbsentNameIsNullopt) {
  EXPECT_EQ(form_value("", "token"), std::nullopt);
  EXPECT_EQ(form_value("a=1&b=2", "token"), std::nullopt);
  EXPECT_EQ(form_value("tokens=1&xtoken=2&toke=3", "token"), std::nullopt);
  EXPECT_EQ(form_value("a=token", "token"), std::nullopt);
}

TEST(FormValue, MatchesWholeNameNotPrefix) {
  EXPECT_EQ(form_value("tokenx=1&token=2", "token"), "2");
  EXPECT_EQ(form_value("xtoken=1&token=2", "token"), "2");
}

TEST(FormValue, MalformedValueIsNullopt) {
  EXPECT_EQ(form_value("token=%zz", "token"), std::nullopt);
  EXPECT_EQ(form_value("a=1&token=abc%", "token"), std::nullopt);
}

TEST(FormValue, EmptyOrBareNameIsEmptyValue) {
  EXPECT_EQ(form_value("token=", "token"), "");
  EXPECT_EQ(form_value("a=1&token&b=2", "token"), "");
}

TEST(FormValue, SkipsEmptyPairsAndKeepsEqualsInValue) {
  EXPECT_EQ(form_value("&&token=abc&", "token"), "abc");
  EXPECT_EQ(form_value("token=a=b", "token"), "a=b");
}

TEST(RequestQueryParam, ReadsQueryString) {
  Request request;
  request.query = "page_num=2&status=pending&email=ann%40example.com";
  EXPECT_EQ(request.query_param("page_num"), "2");
  EXPECT_EQ(request.query_param("email"), "ann@example.com");
  EXPECT_EQ(request.query_param("page_size"), std::nullopt);
}

TEST(RequestHeader, FindsFirstLowerCaseHeader) {
  Request request;
  request.headers = {
      {"x-api-key", "first"}, {"content-type", "application/json"}, {"x-api-key", "second"}};
  EXPECT_EQ(request.header("x-api-key"), "first");
  EXPECT_EQ(request.header("content-type"), "application/json");
  EXPECT_EQ(request.header("accept"), std::nullopt);
}

TEST(Router, NumbersEachPatternOnceForMetrics) {
  Router router;
  auto noop = [](Request&, Respond) {};
  router.add(Method::kGet, "/api/v1/websites", noop);
  router.add(Method::kPost, "/api/v1/websites", noop);
  router.add(Method::kGet, "/api/v1/websites/{id}", noop);
  ASSERT_EQ(router.patterns(),
            (std::vector<std::string>{"/api/v1/websites", "/api/v1/websites/{id}"}));
  const std::string id = "0190d6a4-1a2b-7c3d-8e4f-123456789abc";
  EXPECT_EQ(router.match(Method::kPost, "/api/v1/websites").pattern_index, 0u);
  EXPECT_EQ(router.match(Method::kGet, "/api/v1/websites/" + id).pattern_index, 1u);
  EXPECT_EQ(router.match(Method::kHead, "/api/v1/websites/" + id).pattern_index, 1u);
  // 405: the path's pattern; 404: none.
  EXPECT_EQ(router.match(Method::kDelete, "/api/v1/websites/" + id).pattern_index, 1u);
  EXPECT_EQ(router.match(Method::kGet, "/api/v1/websites/not-an-id").pattern_index,
            Router::kNoPattern);
  EXPECT_EQ(router.match(Method::kGet, "/elsewhere").pattern_index, Router::kNoPattern);
}

}  // namespace
}  // namespace invited::http
