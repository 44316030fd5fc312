#include <gtest/gtest.h>

#include <string>

#include "domain/text.hpp"

namespace invited::domain {
namespace {

std::string repeat(std::string_view piece, std::size_t times) {
  std::string out;
  for (std::size_t i = 0; i < times; ++i) out += piece;
  return out;
}

TEST(HasControlCharacters, FalseForPrintableText) {
  EXPECT_FALSE(has_control_characters(""));
  EXPECT_FALSE(has_control_characters("Ann Lee ~!@#$%^&*()"));
  EXPECT_FALSE(has_control_characters("Jos\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80"));
}

TEST(HasControlCharacters, TrueForC0ControlsAnywhere) {
  EXPECT_TRUE(has_control_characters(std::string_view("a\0b", 3)));
  EXPECT_TRUE(has_control_characters("\x01"));
  EXPECT_TRUE(has_control_characters("tab\there"));
  EXPECT_TRUE(has_control_characters("line\n"));
  EXPECT_TRUE(has_control_characters("\rstart"));
  EXPECT_TRUE(has_control_characters("esc\x1b"));
  EXPECT_TRUE(has_control_characters("\x1f"));
}

TEST(HasControlCharacters, SpaceIsNotAControl) { EXPECT_FALSE(has_control_characters(" ")); }

TEST(HasControlCharacters, TrueForDelete) { EXPECT_TRUE(has_control_characters("a\x7f")); }

TEST(HasControlCharacters, TrueForC1Controls) {
  EXPECT_TRUE(has_control_characters("\xc2\x80"));      // U+0080
  EXPECT_TRUE(has_control_characters("next\xc2\x85"));  // U+0085 NEXT LINE
  EXPECT_TRUE(has_control_characters("\xc2\x9f end"));  // U+009F
}

TEST(HasControlCharacters, FalseForCharactersJustAboveC1) {
  EXPECT_FALSE(has_control_characters("\xc2\xa0"));  // U+00A0
  EXPECT_FALSE(has_control_characters("\xc2\xa9"));  // U+00A9 ©
  // U+0100 is C4 80: the continuation byte 0x80 alone is not a C1 control.
  EXPECT_FALSE(has_control_characters("\xc4\x80"));
  // U+2080 is E2 82 80: contains C2-like bytes only as continuation, not as a lead.
  EXPECT_FALSE(has_control_characters("\xe2\x82\x80"));
}

TEST(HasDisplayControls, TrueForBidiControlsAndSeparators) {
  EXPECT_TRUE(has_display_controls("\xe2\x80\xaa"));  // U+202A LRE
  EXPECT_TRUE(
      has_display_controls("evil\xe2\x80\xae"
                           "gpj.exe"));  // U+202E RLO
  EXPECT_TRUE(
      has_display_controls("\xe2\x81\xa6"
                           "x"));                      // U+2066 LRI
  EXPECT_TRUE(has_display_controls("x\xe2\x81\xa9"));  // U+2069 PDI
  EXPECT_TRUE(
      has_display_controls("a\xe2\x80\xa8"
                           "b"));  // U+2028 LINE SEPARATOR
  EXPECT_TRUE(
      has_display_controls("a\xe2\x80\xa9"
                           "b"));  // U+2029 PARAGRAPH SEPARATOR
}

TEST(HasDisplayControls, FalseForTheirNeighboursAndOrdinaryText) {
  EXPECT_FALSE(has_display_controls(""));
  EXPECT_FALSE(
      has_display_controls("Jos\xc3\xa9 \xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d"));  // Hebrew letters
  EXPECT_FALSE(has_display_controls("\xe2\x80\xa7"));                         // U+2027
  EXPECT_FALSE(has_display_controls("\xe2\x80\xaf"));                         // U+202F
  EXPECT_FALSE(has_display_controls("\xe2\x81\xa5"));                         // U+2065
  EXPECT_FALSE(has_display_controls("\xe2\x81\xaa"));                         // U+206A
}

TEST(CountCodePoints, CountsCharactersNotBytes) {
  EXPECT_EQ(count_code_points(""), 0u);
  EXPECT_EQ(count_code_points("abc"), 3u);
  EXPECT_EQ(count_code_points("\xc3\xa9"), 1u);                  // é: 2 bytes
  EXPECT_EQ(count_code_points("\xe6\x97\xa5\xe6\x9c\xac"), 2u);  // 日本: 6 bytes
  EXPECT_EQ(count_code_points("\xf0\x9f\x98\x80"), 1u);          // 😀: 4 bytes
  EXPECT_EQ(count_code_points("a\xc3\xa9\xe6\x97\xa5\xf0\x9f\x98\x80z"), 5u);
}

TEST(TrimAsciiWhitespace, RemovesLeadingAndTrailingOnly) {
  EXPECT_EQ(trim_ascii_whitespace("  ann  lee \t"), "ann  lee");
  EXPECT_EQ(trim_ascii_whitespace(" \t\r\n\f\vx\v\f\n\r\t "), "x");
  EXPECT_EQ(trim_ascii_whitespace("x"), "x");
  EXPECT_EQ(trim_ascii_whitespace("no-space"), "no-space");
}

TEST(TrimAsciiWhitespace, AllWhitespaceBecomesEmpty) {
  EXPECT_EQ(trim_ascii_whitespace(""), "");
  EXPECT_EQ(trim_ascii_whitespace(" "), "");
  EXPECT_EQ(trim_ascii_whitespace(" \t\r\n "), "");
}

TEST(TrimAsciiWhitespace, KeepsNonAsciiWhitespace) {
  EXPECT_EQ(trim_ascii_whitespace("\xc2\xa0x\xc2\xa0"), "\xc2\xa0x\xc2\xa0");
}

TEST(TrimAsciiWhitespace, ReturnsViewIntoInput) {
  std::string text = "  abc  ";
  auto trimmed = trim_ascii_whitespace(text);
  EXPECT_EQ(trimmed.data(), text.data() + 2);
  EXPECT_EQ(trimmed.size(), 3u);
}

TEST(IsValidName, DefaultLimitIs100CodePoints) {
  EXPECT_TRUE(is_valid_name(std::string(100, 'a')));
  EXPECT_FALSE(is_valid_name(std::string(101, 'a')));
}

TEST(IsValidName, CountsCodePointsNotBytes) {
  EXPECT_TRUE(is_valid_name(repeat("\xc3\xa9", 100)));  // 200 bytes
  EXPECT_FALSE(is_valid_name(repeat("\xc3\xa9", 101)));
  EXPECT_TRUE(is_valid_name(repeat("\xf0\x9f\x98\x80", 100)));  // 400 bytes
  EXPECT_FALSE(is_valid_name(repeat("\xf0\x9f\x98\x80", 101)));
}

TEST(IsValidName, HonoursGivenLimit) {
  EXPECT_TRUE(is_valid_name("abc", 3));
  EXPECT_FALSE(is_valid_name("abcd", 3));
  EXPECT_TRUE(is_valid_name(repeat("\xe6\x97\xa5", 200), 200));
  EXPECT_FALSE(is_valid_name(repeat("\xe6\x97\xa5", 201), 200));
}

TEST(IsValidName, RejectsControlCharacters) {
  EXPECT_FALSE(is_valid_name("Ann\nLee"));
  EXPECT_FALSE(is_valid_name("Ann\tLee"));
  EXPECT_FALSE(is_valid_name("Ann\x7f"));
  EXPECT_FALSE(is_valid_name("Ann\xc2\x85Lee"));
}

TEST(IsValidName, RejectsDisplayControls) {
  EXPECT_FALSE(is_valid_name("Ann\xe2\x80\xae"));
  EXPECT_FALSE(is_valid_name("Ann\xe2\x80\xa8Lee"));
}

TEST(IsValidName, AcceptsOrdinaryNames) {
  EXPECT_TRUE(is_valid_name("Ann-Marie O'Neil"));
  EXPECT_TRUE(is_valid_name("Jos\xc3\xa9 \xc3\x91\xc3\xba\xc3\xb1\x65z"));
  EXPECT_TRUE(is_valid_name(""));
}

}  // namespace
}  // namespace invited::domain
