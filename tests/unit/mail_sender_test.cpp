#include <gtest/gtest.h>

#include "mail/sender.hpp"

namespace invited::mail {
namespace {

Mailbox parsed(std::string_view text) {
  auto result = parse_mailbox(text);
  if (auto* error = std::get_if<std::string>(&result)) ADD_FAILURE() << text << ": " << *error;
  auto* mailbox = std::get_if<Mailbox>(&result);
  return mailbox ? *mailbox : Mailbox{};
}

std::string refusal(std::string_view text) {
  auto result = parse_mailbox(text);
  auto* error = std::get_if<std::string>(&result);
  if (!error) ADD_FAILURE() << text << " was accepted";
  return error ? *error : "";
}

TEST(ParseMailbox, TakesTheFormsOfAMailbox) {
  Mailbox bare = parsed("no-reply@example.com");
  EXPECT_EQ(bare.name, "");
  EXPECT_EQ(bare.address, "no-reply@example.com");
  Mailbox angled = parsed(" <no-reply@example.com> ");
  EXPECT_EQ(angled.name, "");
  EXPECT_EQ(angled.address, "no-reply@example.com");
  Mailbox named = parsed("Acme Support <support@acme.example>");
  EXPECT_EQ(named.name, "Acme Support");
  EXPECT_EQ(named.address, "support@acme.example");
  Mailbox quoted = parsed(R"("Support, \"EU\"" <support@acme.example>)");
  EXPECT_EQ(quoted.name, "Support, \"EU\"");
  EXPECT_EQ(quoted.address, "support@acme.example");
  Mailbox unicode = parsed("J\xc3\xb6rg <j@example.com>");
  EXPECT_EQ(unicode.name, "J\xc3\xb6rg");
}

TEST(ParseMailbox, RefusesWhatIsNoMailboxAndSaysWhatToWrite) {
  for (std::string_view bad :
       {"", "   ", "not an address", "Name <no-at-sign>", "Name <a@b.example",
        "\"open <a@b.example>", "a@b.example\r\nBcc: x@y.example", "Name\n <a@b.example>"}) {
    std::string message = refusal(bad);
    EXPECT_NE(message.find("--mail-from"), std::string::npos) << message;
    EXPECT_NE(message.find("Example <no-reply@example.com>"), std::string::npos) << message;
    EXPECT_EQ(message.find('\r'), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
}

TEST(SenderDisplayName, IsTheOrganizationViaTheSender) {
  EXPECT_EQ(sender_display_name("Acme Analytics", "invited"), "Acme Analytics via invited");
  EXPECT_EQ(sender_display_name("Acme Analytics", "Product Team"),
            "Acme Analytics via Product Team");
  EXPECT_EQ(sender_display_name("Acme Analytics", ""), "Acme Analytics via invited");
  EXPECT_EQ(sender_display_name("Acme Analytics", "  "), "Acme Analytics via invited");
}

}  // namespace
}  // namespace invited::mail
