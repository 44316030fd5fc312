#include <gtest/gtest.h>

#include <string>

#include "domain/email.hpp"

namespace invited::domain {
namespace {

bool accepted(std::string_view raw) { return Email::parse(raw).has_value(); }

// A domain of `size` characters made of 63-character labels (the longest a label may be).
std::string domain_of_length(std::size_t size) {
  std::string domain;
  while (domain.size() < size) {
    if (!domain.empty()) domain += '.';
    std::size_t label = std::min<std::size_t>(63, size - domain.size());
    domain.append(label, 'd');
  }
  return domain;
}

TEST(Email, AcceptsPlainAddress) {
  auto email = Email::parse("ann.lee+tag@example.com");
  ASSERT_TRUE(email);
  EXPECT_EQ(email->address(), "ann.lee+tag@example.com");
  EXPECT_EQ(email->key(), "ann.lee+tag@example.com");
}

TEST(Email, TrimsSurroundingWhitespace) {
  auto email = Email::parse(" \t\r\n ann@example.com \n\t ");
  ASSERT_TRUE(email);
  EXPECT_EQ(email->address(), "ann@example.com");
  EXPECT_EQ(email->key(), "ann@example.com");
}

TEST(Email, RejectsEmptyOrWhitespaceOnly) {
  EXPECT_FALSE(accepted(""));
  EXPECT_FALSE(accepted("   "));
  EXPECT_FALSE(accepted("\t\n"));
}

TEST(Email, KeyFoldsAsciiLettersButAddressKeepsCase) {
  auto email = Email::parse("Ann.LEE@Example.COM");
  ASSERT_TRUE(email);
  EXPECT_EQ(email->address(), "Ann.LEE@Example.COM");
  EXPECT_EQ(email->key(), "ann.lee@example.com");
  auto other = Email::parse("ann.lee@EXAMPLE.com");
  ASSERT_TRUE(other);
  EXPECT_EQ(email->key(), other->key());
}

TEST(Email, KeyLeavesNonAsciiLettersAlone) {
  // "ÄNN@EXAMPLE.COM": only the ASCII letters fold; U+00C4 stays as it is.
  auto email = Email::parse("\xc3\x84NN@EXAMPLE.COM");
  ASSERT_TRUE(email);
  EXPECT_EQ(email->key(), "\xc3\x84nn@example.com");
  auto lower = Email::parse("\xc3\xa4nn@example.com");  // "änn@example.com"
  ASSERT_TRUE(lower);
  EXPECT_NE(email->key(), lower->key());
}

TEST(Email, AcceptsAtMost254Characters) {
  std::string local(64, 'l');
  std::string longest = local + "@" + domain_of_length(254 - 65);
  ASSERT_EQ(longest.size(), 254u);
  EXPECT_TRUE(accepted(longest));

  std::string too_long = local + "@" + domain_of_length(255 - 65);
  ASSERT_EQ(too_long.size(), 255u);
  EXPECT_FALSE(accepted(too_long));
}

TEST(Email, LengthLimitAppliesAfterTrimming) {
  std::string longest = std::string(64, 'l') + "@" + domain_of_length(254 - 65);
  EXPECT_TRUE(accepted("   " + longest + "   "));
}

TEST(Email, LocalPartAtMost64Characters) {
  EXPECT_TRUE(accepted(std::string(64, 'a') + "@example.com"));
  EXPECT_FALSE(accepted(std::string(65, 'a') + "@example.com"));
}

TEST(Email, DomainLabelAtMost63Characters) {
  EXPECT_TRUE(accepted("a@" + std::string(63, 'x') + ".com"));
  EXPECT_FALSE(accepted("a@" + std::string(64, 'x') + ".com"));
}

TEST(Email, DotsOnlyBetweenCharactersOfTheLocalPart) {
  EXPECT_TRUE(accepted("a.b.c@example.com"));
  EXPECT_FALSE(accepted(".ab@example.com"));
  EXPECT_FALSE(accepted("ab.@example.com"));
  EXPECT_FALSE(accepted("a..b@example.com"));
  EXPECT_FALSE(accepted(".@example.com"));
}

TEST(Email, DotsOnlyBetweenLabelsOfTheDomain) {
  EXPECT_TRUE(accepted("a@mail.example.com"));
  EXPECT_FALSE(accepted("a@.example.com"));
  EXPECT_FALSE(accepted("a@example.com."));
  EXPECT_FALSE(accepted("a@example..com"));
  EXPECT_FALSE(accepted("a@."));
}

TEST(Email, NeedsExactlyOneAtSign) {
  EXPECT_FALSE(accepted("example.com"));
  EXPECT_FALSE(accepted("a@b@example.com"));
  EXPECT_FALSE(accepted("a@@example.com"));
  EXPECT_FALSE(accepted("@example.com"));
  EXPECT_FALSE(accepted("ann@"));
  EXPECT_FALSE(accepted("@"));
}

TEST(Email, RejectsInnerWhitespace) {
  EXPECT_FALSE(accepted("ann lee@example.com"));
  EXPECT_FALSE(accepted("ann\tlee@example.com"));
  EXPECT_FALSE(accepted("ann@exa mple.com"));
  EXPECT_FALSE(accepted("ann @example.com"));
  EXPECT_FALSE(accepted("ann@ example.com"));
}

TEST(Email, RejectsControlCharacters) {
  EXPECT_FALSE(accepted(std::string("an\0n@example.com", 16)));
  EXPECT_FALSE(accepted("an\x01n@example.com"));
  EXPECT_FALSE(accepted("ann\r\nBcc: evil@example.com"));
  EXPECT_FALSE(accepted("ann@example.com\r\nBcc: evil@example.com"));
  EXPECT_FALSE(accepted("an\x7fn@example.com"));
  EXPECT_FALSE(accepted("an\x1bn@example.com"));
}

TEST(Email, RejectsC1ControlCharacters) {
  EXPECT_FALSE(accepted("an\xc2\x85n@example.com"));  // U+0085 NEXT LINE
  EXPECT_FALSE(accepted("an\xc2\x80n@example.com"));  // U+0080
  EXPECT_FALSE(accepted("an\xc2\x9fn@example.com"));  // U+009F
  EXPECT_FALSE(accepted("ann@exa\xc2\x85mple.com"));
}

TEST(Email, RejectsUnicodeWhitespace) {
  // SPEC §4: "no whitespace". These are whitespace in Unicode (White_Space property) and are
  // what a copy from a web page or a word processor typically smuggles in.
  EXPECT_FALSE(accepted("ann\xc2\xa0lee@example.com"));      // U+00A0 NO-BREAK SPACE
  EXPECT_FALSE(accepted("ann\xe2\x80\xa8lee@example.com"));  // U+2028 LINE SEPARATOR
  EXPECT_FALSE(accepted("ann\xe3\x80\x80lee@example.com"));  // U+3000 IDEOGRAPHIC SPACE
}

TEST(Email, RejectsHeaderSpecials) {
  for (std::string special : {"<", ">", "\"", ",", ";", ":", "\\", "(", ")", "[", "]"}) {
    EXPECT_FALSE(accepted("an" + special + "n@example.com")) << "local part with " << special;
    EXPECT_FALSE(accepted("ann@exa" + special + "mple.com")) << "domain with " << special;
  }
  EXPECT_FALSE(accepted("Ann <ann@example.com>"));
  EXPECT_FALSE(accepted("\"ann\"@example.com"));
  EXPECT_FALSE(accepted("ann@example.com, bob@example.com"));
}

TEST(Email, AcceptsRfc5322AtextInLocalPart) {
  EXPECT_TRUE(accepted("!#$%&'*+-/=?^_`{|}~@example.com"));
}

TEST(Email, AcceptsUtf8) {
  EXPECT_TRUE(accepted("jos\xc3\xa9@example.com"));                                // josé@
  EXPECT_TRUE(accepted("\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.com"));  // 用户@例子.com
  EXPECT_TRUE(accepted("ann@b\xc3\xbc\x63her.example"));                           // bücher
}

TEST(Email, DomainLabelsAreLettersDigitsAndInnerHyphens) {
  EXPECT_TRUE(accepted("a@my-site.example.com"));
  EXPECT_TRUE(accepted("a@123.example"));
  EXPECT_FALSE(accepted("a@-site.example.com"));
  EXPECT_FALSE(accepted("a@site-.example.com"));
  EXPECT_FALSE(accepted("a@site.-example.com"));
  EXPECT_FALSE(accepted("a@site.example-"));
  EXPECT_FALSE(accepted("a@my_site.example.com"));
  EXPECT_FALSE(accepted("a@site!.com"));
}

TEST(Email, AcceptsSingleLabelDomain) {
  auto email = Email::parse("user@localhost");
  ASSERT_TRUE(email);
  EXPECT_EQ(email->address(), "user@localhost");
}

}  // namespace
}  // namespace invited::domain
