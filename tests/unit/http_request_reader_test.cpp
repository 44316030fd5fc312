#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "http/request_reader.hpp"

namespace invited::http {
namespace {

using HeadKind = HeaderOutcome::Kind;
using BodyKind = BodyOutcome::Kind;

// Reads the requests of `bytes` one after the other, as the server reads a connection, while
// each leaves it open. `piece` bytes arrive per read.
std::vector<ReadOutcome> read_all(std::string_view bytes, std::size_t piece = SIZE_MAX,
                                  const ReaderLimits& limits = {},
                                  const Peer& peer = {"192.0.2.9"}) {
  ByteStream stream(bytes, piece);
  boost::beast::flat_buffer buffer;
  std::vector<ReadOutcome> outcomes;
  do {
    outcomes.push_back(read_request(stream, buffer, limits, peer));
  } while (outcomes.back().keep_alive && outcomes.size() < 10);
  return outcomes;
}

ReadOutcome read_one(std::string_view bytes, const ReaderLimits& limits = {},
                     const Peer& peer = {"192.0.2.9"}) {
  ByteStream stream(bytes);
  boost::beast::flat_buffer buffer;
  return read_request(stream, buffer, limits, peer);
}

TEST(RequestReader, ReadsARequestWithItsPathQueryAndLowerCaseHeaders) {
  auto read = read_one(
      "POST /api/v1/invites/bulk?dry=1&x=%20 HTTP/1.1\r\nHost: example.com\r\n"
      "Content-Type: application/json\r\nX-Custom: a b \r\nContent-Length: 2\r\n\r\n{}");
  ASSERT_EQ(read.head.kind, HeadKind::kRequest);
  const Request& request = read.head.request;
  EXPECT_EQ(request.method, Method::kPost);
  EXPECT_EQ(request.method_text, "POST");
  EXPECT_EQ(request.target, "/api/v1/invites/bulk?dry=1&x=%20");
  EXPECT_EQ(request.path, "/api/v1/invites/bulk");
  EXPECT_EQ(request.query, "dry=1&x=%20");
  EXPECT_EQ(request.headers,
            (std::vector<std::pair<std::string, std::string>>{{"host", "example.com"},
                                                              {"content-type", "application/json"},
                                                              {"x-custom", "a b"},
                                                              {"content-length", "2"}}));
  EXPECT_EQ(request.body, "{}");
  EXPECT_EQ(request.client_address, "192.0.2.9");
  EXPECT_FALSE(read.head.problem);
  EXPECT_EQ(read.head.version, 11u);
  EXPECT_TRUE(read.complete);
  EXPECT_TRUE(read.keep_alive);
}

TEST(RequestReader, AnAbsoluteFormTargetGivesItsPathAndQuery) {
  auto read = read_one("GET HTTP://example.com:8080/healthz?a=1 HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_EQ(read.head.kind, HeadKind::kRequest);
  EXPECT_EQ(read.head.request.target, "HTTP://example.com:8080/healthz?a=1");
  EXPECT_EQ(read.head.request.path, "/healthz");
  EXPECT_EQ(read.head.request.query, "a=1");
  auto bare = read_one("OPTIONS https://example.com HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(bare.head.request.path, "/");
  EXPECT_EQ(bare.head.request.query, "");
}

TEST(RequestReader, KeepsASaneRequestIdAndReplacesAnyOther) {
  auto sane = read_one("GET / HTTP/1.1\r\nHost: x\r\nX-Request-Id: abc-123.x:y_z\r\n\r\n");
  EXPECT_EQ(sane.head.request.request_id, "abc-123.x:y_z");
  auto spaced = read_one("GET / HTTP/1.1\r\nHost: x\r\nX-Request-Id: a b\r\n\r\n");
  EXPECT_EQ(spaced.head.request.request_id.size(), 24u);
  EXPECT_EQ(spaced.head.request.request_id.find_first_not_of("0123456789abcdef"),
            std::string::npos);
  auto other = read_one("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(other.head.request.request_id, spaced.head.request.request_id);
}

TEST(RequestReader, Http11WithoutHostOrAnyRequestWithTwoIsAProblem) {
  auto none = read_one("GET / HTTP/1.1\r\n\r\n");
  ASSERT_EQ(none.head.kind, HeadKind::kRequest);
  ASSERT_TRUE(none.head.problem);
  EXPECT_EQ(none.head.problem->status, 400);
  EXPECT_EQ(none.head.problem->message, "an HTTP/1.1 request needs a Host header");
  EXPECT_FALSE(none.keep_alive);
  EXPECT_FALSE(read_one("GET / HTTP/1.0\r\n\r\n").head.problem);
  for (std::string_view version : {"1.0", "1.1"}) {
    auto two = read_one("GET / HTTP/" + std::string(version) + "\r\nHost: a\r\nHost: a\r\n\r\n");
    ASSERT_TRUE(two.head.problem) << version;
    EXPECT_EQ(two.head.problem->status, 400);
    EXPECT_EQ(two.head.problem->message, "a request carries one Host header, not several");
  }
}

TEST(RequestReader, ATransferCodingOtherThanChunkedIs501AndTheBodyIsNotRead) {
  auto read = read_one(
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n");
  ASSERT_EQ(read.head.kind, HeadKind::kRequest);
  ASSERT_TRUE(read.head.problem);
  EXPECT_EQ(read.head.problem->status, 501);
  EXPECT_NE(read.head.problem->message.find("transfer coding gzip is not supported"),
            std::string::npos);
  EXPECT_FALSE(read.body);
  Response response = protocol_error_response(*read.head.problem);
  EXPECT_EQ(response.status, 501);
  EXPECT_TRUE(response.close_connection);
  EXPECT_EQ(response.body.rfind(R"({"success":false,"error":"transfer coding gzip)", 0), 0u);
  EXPECT_NE(response.body.find(R"(,"code":"not_implemented"})"), std::string::npos);
}

TEST(RequestReader, ATransferCodingThatIsNotAPlainTokenIs501) {
  // Beast's own parser reads "chunked\xd1" as chunked; a proxy in front may not.
  auto read =
      read_one("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\xd1\r\n\r\n0\r\n\r\n");
  ASSERT_TRUE(read.head.problem);
  EXPECT_EQ(read.head.problem->status, 501);
  EXPECT_EQ(read.head.problem->message.rfind("transfer coding chunked\xd1 is not supported", 0),
            0u);
  EXPECT_FALSE(read.body);
  EXPECT_FALSE(read.keep_alive);
}

TEST(RequestReader, ChunkedMustBeTheOnlyCodingExactlyOnce) {
  // Beast takes "chunked, chunked" (chunked not last) as no body at all, so the chunked body
  // would be read as the next request.
  std::string smuggling =
      "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n"
      "1f\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n\r\n0\r\n\r\n";
  auto outcomes = read_all(smuggling);
  ASSERT_EQ(outcomes.size(), 1u);
  ASSERT_TRUE(outcomes[0].head.problem);
  EXPECT_EQ(outcomes[0].head.problem->status, 400);
  EXPECT_EQ(outcomes[0].head.problem->message,
            "Transfer-Encoding must name chunked exactly once; send Transfer-Encoding: chunked "
            "alone, or Content-Length");
  EXPECT_FALSE(outcomes[0].keep_alive);
  // An empty Transfer-Encoding names no coding: the length is unknown even with Content-Length.
  auto empty = read_one(
      "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: ,\r\n"
      "Content-Length: 3\r\n\r\nabc");
  ASSERT_TRUE(empty.head.problem);
  EXPECT_EQ(empty.head.problem->status, 400);
  EXPECT_FALSE(empty.keep_alive);
  // Empty list elements around the one chunked are allowed (RFC 9110 §5.6.1).
  auto listed = read_one(
      "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: , Chunked ,\r\n\r\n2\r\nhi\r\n0\r\n\r\n");
  EXPECT_FALSE(listed.head.problem);
  EXPECT_EQ(listed.head.request.body, "hi");
}

TEST(RequestReader, TransferEncodingInHttp10Is400) {
  auto read =
      read_one("POST /a HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n");
  ASSERT_TRUE(read.head.problem);
  EXPECT_EQ(read.head.problem->status, 400);
  EXPECT_EQ(read.head.problem->message,
            "Transfer-Encoding needs HTTP/1.1; send the body with Content-Length");
  EXPECT_FALSE(read.body);
}

TEST(RequestReader, AProtocolErrorMessageIsRepairedToValidUtf8) {
  Response response = protocol_error_response({400, "bad \xff\"byte"});
  EXPECT_EQ(response.body,
            "{\"success\":false,\"error\":\"bad \xef\xbf\xbd\\\"byte\",\"code\":\"bad_request\"}");
}

TEST(RequestReader, DecodesAChunkedBody) {
  auto read = read_one(
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3;ext=1\r\nabc\r\nA\r\n0123456789\r\n0\r\nTrailer: t\r\n\r\n");
  ASSERT_TRUE(read.body);
  EXPECT_EQ(read.body->kind, BodyKind::kComplete);
  EXPECT_EQ(read.head.request.body, "abc0123456789");
  EXPECT_TRUE(read.keep_alive);
}

TEST(RequestReader, AMalformedChunkSizeIsA400Problem) {
  for (std::string_view size : {"5x", "-5", "10000000000000000"}) {
    auto read = read_one("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
                         std::string(size) + "\r\nhello\r\n0\r\n\r\n");
    ASSERT_TRUE(read.body) << size;
    EXPECT_EQ(read.body->kind, BodyKind::kMalformed) << size;
    ASSERT_TRUE(read.body->problem);
    EXPECT_EQ(read.body->problem->status, 400);
    EXPECT_EQ(read.body->problem->message.rfind("malformed request body: ", 0), 0u);
    EXPECT_FALSE(read.keep_alive);
  }
}

TEST(RequestReader, ADeclaredBodyOverTheLimitIsNotRead) {
  auto read = read_one("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 17\r\n\r\n0123456789abcdefg",
                       ReaderLimits{1024, 16});
  ASSERT_EQ(read.head.kind, HeadKind::kRequest);
  EXPECT_TRUE(read.head.body_too_large);
  EXPECT_TRUE(read.head.request.body_too_large);
  EXPECT_FALSE(read.body);
  EXPECT_EQ(read.head.request.body, "");
  EXPECT_FALSE(read.keep_alive);
  auto fits = read_one("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 16\r\n\r\n0123456789abcdef",
                       ReaderLimits{1024, 16});
  EXPECT_FALSE(fits.head.body_too_large);
  EXPECT_EQ(fits.head.request.body, "0123456789abcdef");
}

TEST(RequestReader, AChunkedBodyOverTheLimitStopsBeingRead) {
  auto read = read_one(
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "10\r\n0123456789abcdef\r\n1\r\ng\r\n0\r\n\r\n",
      ReaderLimits{1024, 16});
  ASSERT_TRUE(read.body);
  EXPECT_EQ(read.body->kind, BodyKind::kTooLarge);
  EXPECT_TRUE(read.head.request.body_too_large);
  EXPECT_FALSE(read.keep_alive);
}

TEST(RequestReader, AHeaderOverTheLimitIs431) {
  std::string bytes = "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(300, 'a') + "\r\n\r\n";
  auto read = read_one(bytes, ReaderLimits{256, 16});
  ASSERT_EQ(read.head.kind, HeadKind::kMalformed);
  EXPECT_EQ(read.head.problem->status, 431);
  EXPECT_EQ(read.head.problem->message, "request headers are too large");
  EXPECT_EQ(read.head.request.client_address, "192.0.2.9");
  EXPECT_EQ(read.head.request.request_id.size(), 24u);
  EXPECT_EQ(read_one(bytes, ReaderLimits{512, 16}).head.kind, HeadKind::kRequest);
}

TEST(RequestReader, TheHeaderLimitCountsTheRequestLineAndTheFieldsTogether) {
  // Beast's parser limits the request line and the field lines each on its own: a 160-byte
  // target and 160 bytes of fields passed a 256-byte limit together.
  const ReaderLimits limits{256, 16};
  const std::string line = "GET /" + std::string(150, 'a') + " HTTP/1.1\r\n";
  const std::string fields = "Host: x\r\nX-Pad: " + std::string(140, 'b') + "\r\n\r\n";
  ASSERT_LT(line.size(), 256u);
  ASSERT_LT(fields.size(), 256u);
  for (std::size_t piece : {SIZE_MAX, std::size_t{7}, std::size_t{1}}) {
    auto outcomes = read_all(line + fields + "GET / HTTP/1.1\r\nHost: x\r\n\r\n", piece, limits);
    ASSERT_EQ(outcomes.size(), 1u) << piece;
    ASSERT_EQ(outcomes[0].head.kind, HeadKind::kMalformed) << piece;
    EXPECT_EQ(outcomes[0].head.problem->status, 431);
    EXPECT_EQ(outcomes[0].head.problem->message, "request headers are too large");
    EXPECT_FALSE(outcomes[0].keep_alive);
  }
  // A header of exactly the limit is read; one byte more is not.
  auto header = [](std::size_t pad) {
    return "GET / HTTP/1.1\r\nHost: x\r\nX-Pad: " + std::string(pad, 'c') + "\r\n\r\n";
  };
  ASSERT_EQ(header(220).size(), 256u);
  EXPECT_EQ(read_one(header(220), limits).head.kind, HeadKind::kRequest);
  auto refused = read_one(header(221), limits);
  ASSERT_EQ(refused.head.kind, HeadKind::kMalformed);
  EXPECT_EQ(refused.head.problem->status, 431);
}

TEST(RequestReader, BytesThatAreNoRequestAre400) {
  for (std::string_view bytes : {"\x16\x03\x01\x02\x00\r\n\r\n",
                                 "GET / HTTP/1.1\r\nHo st: x\r\n\r\n", "GET / HTTP/9.9\r\n\r\n",
                                 "GET / HTTP/1.1\r\nHost: x\r\nContent-"
                                 "Length: 1\r\nContent-Length: 2\r\n\r\n"}) {
    auto read = read_one(bytes);
    ASSERT_EQ(read.head.kind, HeadKind::kMalformed) << bytes;
    EXPECT_EQ(read.head.problem->status, 400);
    EXPECT_EQ(read.head.problem->message, "malformed HTTP request");
  }
}

TEST(RequestReader, AClientThatStopsSendingGetsNoAnswer) {
  EXPECT_EQ(read_one("").head.kind, HeadKind::kClosed);
  EXPECT_EQ(read_one("GET / HTTP/1.1\r\nHost: x\r\n").head.kind, HeadKind::kClosed);
  auto cut = read_one("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc");
  ASSERT_TRUE(cut.body);
  EXPECT_EQ(cut.body->kind, BodyKind::kClosed);
  EXPECT_FALSE(cut.keep_alive);
}

TEST(RequestReader, WantsContinueOnlyWithABodyToCome) {
  auto read =
      read_one("POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-Continue\r\nContent-Length: 2\r\n\r\n{}");
  EXPECT_TRUE(read.head.wants_continue);
  EXPECT_EQ(read.head.request.body, "{}");
  EXPECT_FALSE(read_one("POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                        "Content-Length: 0\r\n\r\n")
                   .head.wants_continue);
  EXPECT_FALSE(
      read_one("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}").head.wants_continue);
  // A request refused for its framing never has its body read, so it wants no 100 Continue.
  auto refused = read_one(
      "POST / HTTP/1.1\r\nHost: x\r\nHost: y\r\nExpect: 100-continue\r\n"
      "Content-Length: 2\r\n\r\n{}");
  ASSERT_TRUE(refused.head.problem);
  EXPECT_FALSE(refused.head.wants_continue);
}

TEST(RequestReader, TheClientOfATrustedProxyIsTheOneItsForwardedForNames) {
  auto proxies = std::get<TrustedProxies>(TrustedProxies::parse("10.0.0.0/8"));
  std::string bytes =
      "GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 198.51.100.1, 203.0.113.5\r\n"
      "X-Forwarded-For: 10.1.1.1\r\n\r\n";
  EXPECT_EQ(read_one(bytes, {}, Peer{"10.0.0.2", &proxies}).head.request.client_address,
            "203.0.113.5");
  EXPECT_EQ(read_one(bytes, {}, Peer{"10.0.0.2"}).head.request.client_address, "10.0.0.2");
}

TEST(RequestReader, ReadsPipelinedRequestsAlikeWhateverPiecesTheyArriveIn) {
  std::string bytes =
      "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
      "POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nde\r\n0\r\n\r\n"
      "GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
      "GET /d HTTP/1.1\r\nHost: x\r\n\r\n";
  for (std::size_t piece : {SIZE_MAX, std::size_t{1}, std::size_t{7}}) {
    auto outcomes = read_all(bytes, piece);
    ASSERT_EQ(outcomes.size(), 3u) << piece;  // /d comes after Connection: close
    EXPECT_EQ(outcomes[0].head.request.path, "/a");
    EXPECT_EQ(outcomes[0].head.request.body, "abc");
    EXPECT_EQ(outcomes[1].head.request.path, "/b");
    EXPECT_EQ(outcomes[1].head.request.body, "de");
    EXPECT_EQ(outcomes[2].head.request.path, "/c");
    EXPECT_FALSE(outcomes[2].keep_alive);
  }
}

}  // namespace
}  // namespace invited::http
