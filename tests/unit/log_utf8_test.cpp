#include <gtest/gtest.h>

#include <string>

#include "log/log.hpp"
#include "log/utf8.hpp"

namespace invited::log {
namespace {

constexpr const char* kReplacement = "\xEF\xBF\xBD";

TEST(ValidUtf8, KeepsWellFormedText) {
  EXPECT_EQ(valid_utf8(""), "");
  EXPECT_EQ(valid_utf8("plain /api/v1"), "plain /api/v1");
  EXPECT_EQ(valid_utf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"),
            "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80");
}

TEST(ValidUtf8, ReplacesEachIllFormedByte) {
  EXPECT_EQ(valid_utf8("/api/\xFF\xFE"), std::string("/api/") + kReplacement + kReplacement);
  EXPECT_EQ(valid_utf8("\x80"), kReplacement);                      // stray continuation
  EXPECT_EQ(valid_utf8("\xC3("), std::string(kReplacement) + "(");  // truncated
  EXPECT_EQ(valid_utf8("\xC0\xAF"), std::string(kReplacement) + kReplacement);  // overlong
  EXPECT_EQ(valid_utf8("\xED\xA0\x80").substr(0, 3), kReplacement);             // surrogate
  EXPECT_EQ(valid_utf8("\xF4\x90\x80\x80").substr(0, 3), kReplacement);         // above U+10FFFF
  EXPECT_EQ(valid_utf8("\xE2\x82"), std::string(kReplacement) + kReplacement);  // cut at the end
}

TEST(AppendJsonEscaped, EscapesAndRepairs) {
  std::string out;
  append_json_escaped(out, "a\"b\\c\n\x01\xFF\xC3\xA9");
  EXPECT_EQ(out, std::string("a\\\"b\\\\c\\n\\u0001") + kReplacement + "\xC3\xA9");
}

}  // namespace
}  // namespace invited::log
