#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "http/client_address.hpp"

namespace invited::http {
namespace {

TrustedProxies proxies(std::string_view list) {
  auto parsed = TrustedProxies::parse(list);
  EXPECT_TRUE(std::holds_alternative<TrustedProxies>(parsed)) << list;
  return std::get<TrustedProxies>(parsed);
}

std::string parse_error(std::string_view list) {
  auto parsed = TrustedProxies::parse(list);
  auto* error = std::get_if<std::string>(&parsed);
  return error ? *error : "<parsed>";
}

TEST(TrustedProxies, EmptyListTrustsNobody) {
  auto none = proxies("");
  EXPECT_TRUE(none.empty());
  EXPECT_FALSE(none.contains("127.0.0.1"));
  EXPECT_TRUE(proxies("  ").empty());
}

TEST(TrustedProxies, MatchesIpv4Ranges) {
  auto list = proxies("10.0.0.0/8, 192.168.1.7,172.16.0.0/12");
  EXPECT_TRUE(list.contains("10.255.1.2"));
  EXPECT_FALSE(list.contains("11.0.0.1"));
  EXPECT_TRUE(list.contains("192.168.1.7"));
  EXPECT_FALSE(list.contains("192.168.1.8"));
  EXPECT_TRUE(list.contains("172.31.255.255"));
  EXPECT_FALSE(list.contains("172.32.0.0"));
  EXPECT_TRUE(list.contains("::ffff:10.1.1.1"));  // IPv4-mapped IPv6 counts as IPv4
  EXPECT_FALSE(list.contains("not an address"));
}

TEST(TrustedProxies, MatchesIpv6Ranges) {
  auto list = proxies("fd00::/8, 2001:db8:1::/48, ::1");
  EXPECT_TRUE(list.contains("fd12:3456::1"));
  EXPECT_FALSE(list.contains("fe80::1"));
  EXPECT_TRUE(list.contains("2001:db8:1:ffff::1"));
  EXPECT_FALSE(list.contains("2001:db8:2::1"));
  EXPECT_TRUE(list.contains("::1"));
  EXPECT_FALSE(list.contains("::2"));
  EXPECT_FALSE(list.contains("127.0.0.1"));
}

TEST(TrustedProxies, HostBitsAreIgnoredAndZeroPrefixTrustsAll) {
  EXPECT_TRUE(proxies("10.1.2.3/8").contains("10.9.9.9"));
  EXPECT_TRUE(proxies("0.0.0.0/0").contains("203.0.113.1"));
  EXPECT_FALSE(proxies("0.0.0.0/0").contains("2001:db8::1"));
}

TEST(TrustedProxies, MalformedEntriesNameTheSetting) {
  for (const char* list : {"10.0.0.0/33", "example.com", "10.0.0.0/8,,", "::1/129", "1.2.3.4:80",
                           "10.0.0.0/", "10.0.0.0/x", "[::1]", "10.0.0.0/-1", "1.2.3"}) {
    auto error = parse_error(list);
    EXPECT_NE(error.find("--trusted-proxies"), std::string::npos) << list << ": " << error;
  }
}

TEST(ClientAddress, UntrustedPeerIsTheClient) {
  auto list = proxies("10.0.0.0/8");
  EXPECT_EQ(list.client_address("203.0.113.5", {"198.51.100.1"}), "203.0.113.5");
  EXPECT_EQ(proxies("").client_address("127.0.0.1", {"198.51.100.1"}), "127.0.0.1");
}

TEST(ClientAddress, TrustedPeerWithoutForwardedForIsTheClient) {
  EXPECT_EQ(proxies("10.0.0.0/8").client_address("10.0.0.1", {}), "10.0.0.1");
}

TEST(ClientAddress, WalksFromTheRightPastTrustedHops) {
  auto list = proxies("10.0.0.0/8");
  EXPECT_EQ(list.client_address("10.0.0.1", {"203.0.113.9"}), "203.0.113.9");
  // Whatever the client wrote itself (left of the first untrusted hop) is ignored.
  EXPECT_EQ(list.client_address("10.0.0.1", {"1.1.1.1, 203.0.113.9, 10.2.2.2"}), "203.0.113.9");
  // Several headers join in order.
  EXPECT_EQ(list.client_address("10.0.0.1", {"1.1.1.1", "203.0.113.9 , 10.2.2.2"}), "203.0.113.9");
  // Every hop trusted: the left-most one.
  EXPECT_EQ(list.client_address("10.0.0.1", {"10.3.3.3, 10.2.2.2"}), "10.3.3.3");
}

TEST(ClientAddress, GarbageEndsTheWalkAtTheLastTrustedHop) {
  auto list = proxies("10.0.0.0/8");
  EXPECT_EQ(list.client_address("10.0.0.1", {"203.0.113.9, unknown"}), "10.0.0.1");
  EXPECT_EQ(list.client_address("10.0.0.1", {"junk, 10.2.2.2"}), "10.2.2.2");
}

TEST(ClientAddress, AcceptsPortsAndIpv6AndCanonicalises) {
  auto list = proxies("10.0.0.0/8, fd00::/8");
  EXPECT_EQ(list.client_address("10.0.0.1", {"203.0.113.9:4711"}), "203.0.113.9");
  EXPECT_EQ(list.client_address("10.0.0.1", {"[2001:DB8::0:1]:443"}), "2001:db8::1");
  EXPECT_EQ(list.client_address("fd00::1", {"2001:db8::1"}), "2001:db8::1");
  EXPECT_EQ(list.client_address("::ffff:10.0.0.1", {"198.51.100.2"}), "198.51.100.2");
}

}  // namespace
}  // namespace invited::http
