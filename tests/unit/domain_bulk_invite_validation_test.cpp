#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "domain/bulk_invite.hpp"

namespace invited::domain {
namespace {

constexpr const char* kWebsite1 = "0190a3c4-0000-7000-8000-000000000001";
constexpr const char* kWebsite2 = "0190a3c4-0000-7000-8000-000000000002";
constexpr const char* kWebsite3 = "0190a3c4-0000-7000-8000-000000000003";

// The UUID for index `i`, distinct for every i below 10^12.
std::string nth_id(std::size_t i) {
  std::string digits = std::to_string(i);
  return "0190a3c4-0000-7000-8000-" + std::string(12 - digits.size(), '0') + digits;
}

std::vector<std::string> ids(std::size_t count) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < count; ++i) out.push_back(nth_id(i));
  return out;
}

std::string repeat(std::string_view piece, std::size_t times) {
  std::string out;
  for (std::size_t i = 0; i < times; ++i) out += piece;
  return out;
}

BulkInviteInput valid_input() {
  BulkInviteInput input;
  input.invite_method = "direct";
  input.email = "ann@example.com";
  input.website_ids = std::vector<std::string>{kWebsite1, kWebsite2};
  return input;
}

std::vector<std::string> fields(const FieldErrors& errors) {
  std::vector<std::string> out;
  for (const auto& error : errors.all()) out.push_back(error.field);
  return out;
}

using Fields = std::vector<std::string>;

TEST(ValidateBulkInvite, AcceptsMinimalDirectRequest) {
  FieldErrors errors;
  auto request = validate_bulk_invite(valid_input(), errors);
  ASSERT_TRUE(request);
  EXPECT_TRUE(errors.empty());
  EXPECT_EQ(request->method, InviteMethod::kDirect);
  EXPECT_EQ(request->email.address(), "ann@example.com");
  EXPECT_EQ(request->kind, TargetKind::kWebsite);
  ASSERT_EQ(request->target_ids.size(), 2u);
  EXPECT_EQ(request->target_ids[0].str(), kWebsite1);
  EXPECT_EQ(request->target_ids[1].str(), kWebsite2);
  EXPECT_FALSE(request->first_name);
  EXPECT_FALSE(request->last_name);
}

TEST(ValidateBulkInvite, RoleDefaultsToViewer) {
  FieldErrors errors;
  auto request = validate_bulk_invite(valid_input(), errors);
  ASSERT_TRUE(request);
  EXPECT_EQ(request->role, Role::kViewer);
}

TEST(ValidateBulkInvite, AcceptsAdminAndViewerRoles) {
  for (auto [text, role] : {std::pair{"admin", Role::kAdmin}, std::pair{"viewer", Role::kViewer}}) {
    auto input = valid_input();
    input.role = text;
    FieldErrors errors;
    auto request = validate_bulk_invite(input, errors);
    ASSERT_TRUE(request) << text;
    EXPECT_EQ(request->role, role);
  }
}

TEST(ValidateBulkInvite, RejectsOwnerRole) {
  auto input = valid_input();
  input.role = "owner";
  FieldErrors errors;
  EXPECT_FALSE(validate_bulk_invite(input, errors));
  EXPECT_EQ(fields(errors), Fields{"role"});
}

TEST(ValidateBulkInvite, RejectsUnknownRole) {
  for (const char* role : {"", "Admin", "superuser", "viewer "}) {
    auto input = valid_input();
    input.role = role;
    FieldErrors errors;
    EXPECT_FALSE(validate_bulk_invite(input, errors)) << '"' << role << '"';
    EXPECT_EQ(fields(errors), Fields{"role"}) << '"' << role << '"';
  }
}

TEST(ValidateBulkInvite, AcceptsEmailMethod) {
  auto input = valid_input();
  input.invite_method = "email";
  FieldErrors errors;
  auto request = validate_bulk_invite(input, errors);
  ASSERT_TRUE(request);
  EXPECT_EQ(request->method, InviteMethod::kEmail);
}

TEST(ValidateBulkInvite, RejectsUnknownMethod) {
  for (const char* method : {"", "Direct", "sms", "email "}) {
    auto input = valid_input();
    input.invite_method = method;
    FieldErrors errors;
    EXPECT_FALSE(validate_bulk_invite(input, errors)) << '"' << method << '"';
    EXPECT_EQ(fields(errors), Fields{"invite_method"}) << '"' << method << '"';
  }
}

TEST(ValidateBulkInvite, MissingMethodIsRequired) {
  auto input = valid_input();
  input.invite_method.reset();
  FieldErrors errors;
  EXPECT_FALSE(validate_bulk_invite(input, errors));
  EXPECT_EQ(fields(errors), Fields{"invite_method"});
}

TEST(ValidateBulkInvite, MissingEmailIsRequired) {
  auto input = valid_input();
  input.email.reset();
  FieldErrors errors;
  EXPECT_FALSE(validate_bulk_invite(input, errors));
  EXPECT_EQ(fields(errors), Fields{"email"});
}

TEST(ValidateBulkInvite, RejectsMalformedEmail) {
  for (const char* email : {"", "ann", "ann@", "ann lee@example.com", "a@b@example.com"}) {
    auto input = valid_input();
    input.email = email;
    FieldErrors errors;
    EXPECT_FALSE(validate_bulk_invite(input, errors)) << email;
    EXPECT_EQ(fields(errors), Fields{"email"}) << email;
  }
}

TEST(ValidateBulkInvite, TrimsEmailAndKeysItCaseInsensitively) {
  auto input = valid_input();
  input.email = "  Ann.Lee@Example.COM\t";
  FieldErrors errors;
  auto request = validate_bulk_invite(input, errors);
  ASSERT_TRUE(request);
  EXPECT_EQ(request->email.address(), "Ann.Lee@Example.COM");
  EXPECT_EQ(request->email.key(), "ann.lee@example.com");
}

TEST(ValidateBulkInvite, RejectsEmailOver254Characters) {
  auto input = valid_input();
  input.email = std::string(64, 'a') + "@" + std::string(63, 'b') + "." + std::string(63, 'c') +
                "." + std::string(62, 'd');  // 255
  ASSERT_EQ(input.email->size(), 255u);
  FieldErrors errors;
  EXPECT_FALSE(validate_bulk_invite(input, errors));
  EXPECT_EQ(fields(errors), Fields{"email"});
}

TEST(ValidateBulkInvite, NeitherIdListIsAnErrorOnWebsiteIds) {
  auto input = valid_input();
  input.website_ids.reset();
  FieldErrors errors;
  EXPECT_FALSE(validate_bulk_invite(input, errors));
  EXPECT_EQ(fields(errors), Fields{"website_ids"});
}

TEST(ValidateBulkInvite, BothIdListsIsAnErrorOnGroupIds) {
  auto input = valid_input();
  input.group_ids = std::vector<std::string>{kWebsite3};
  FieldErrors errors;
  EXPECT_FALSE(validate_bulk_invite(input, errors));
  EXPECT_EQ(fields(errors), Fields{"group_ids"});
}

TEST(ValidateBulkInvite, GroupIdsAloneMakeAGroupRequest) {
  auto input = valid_input();
  input.website_ids.reset();
  input.group_ids = std::vector<std::string>{kWebsite3, kWebsite1};
  FieldErrors errors;
  auto request = validate_bulk_invite(input, errors);
  ASSERT_TRUE(request);
  EXPECT_EQ(request->kind, TargetKind::kGroup);
  ASSERT_EQ(request->target_ids.size(), 2u);
  EXPECT_EQ(request->target_ids[0].str(), kWebsite3);
  EXPECT_EQ(request->target_ids[1].str(), kWebsite1);
}

TEST(ValidateBulkInvite, IdCountMustBeOneToFifty) {
  for (const char* field : {"website_ids", "group_ids"}) {
    for (std::size_t count : {0u, 1u, 50u, 51u, 200u}) {
      auto input = valid_input();
      input.website_ids.reset();
      (std::string_view(field) == "website_ids" ? input.website_ids : input.group_ids) = ids(count);
      FieldErrors errors;
      auto request = validate_bulk_invite(input, errors);
      bool valid = count >= 1 && count <= 50;
      EXPECT_EQ(request.has_value(), valid) << field << " " << count;
      if (valid) {
        ASSERT_TRUE(request);
        EXPECT_EQ(request->target_ids.size(), count);
      } else {
        EXPECT_EQ(fields(errors), Fields{field}) << field << " " << count;
      }
    }
  }
}

TEST(ValidateBulkInvite, KeepsRequestOrderOfFiftyIds) {
  auto input = valid_input();
  auto list = ids(50);
  std::reverse(list.begin(), list.end());
  input.website_ids = list;
  FieldErrors errors;
  auto request = validate_bulk_invite(input, errors);
  ASSERT_TRUE(request);
  ASSERT_EQ(request->target_ids.size(), 50u);
  for (std::size_t i = 0; i < 50; ++i) EXPECT_EQ(request->target_ids[i].str(), list[i]);
}

TEST(ValidateBulkInvite, ReportsBadIdByIndex) {
  auto input = valid_input();
  input.website_ids = std::vector<std::string>{kWebsite1, kWebsite2, "not-a-uuid", kWebsite3};
  FieldErrors errors;
  EXPECT_FALSE(validate_bulk_invite(input, errors));
  EXPECT_EQ(fields(errors), Fields{"website_ids[2]"});
}

TEST(ValidateBulkInvite, ReportsEveryBadIdByIndex) {
  auto input = valid_input();
  input.website_ids.reset();
  input.group_ids = std::vector<std::string>{"", kWebsite1, "{" + std::string(kWebsite2) + "}",
                                             kWebsite3, "0190a3c4000070008000000000000004"};
  FieldErrors errors;
  EXPECT_FALSE(validate_bulk_invite(input, errors));
  EXPECT_EQ(fields(errors), (Fields{"group_ids[0]", "group_ids[2]", "group_ids[4]"}));
}

TEST(ValidateBulkInvite, RejectsDuplicateIds) {
  auto input = valid_input();
  input.website_ids = std::vector<std::string>{kWebsite1, kWebsite2, kWebsite1};
  FieldErrors errors;
  EXPECT_FALSE(validate_bulk_invite(input, errors));
  EXPECT_EQ(fields(errors), Fields{"website_ids[2]"});
}

TEST(ValidateBulkInvite, IdsDifferingOnlyInCaseAreDuplicates) {
  auto input = valid_input();
  input.website_ids = std::vector<std::string>{"0190A3C4-ABCD-7000-8000-00000000000F",
                                               "0190a3c4-abcd-7000-8000-00000000000f"};
  FieldErrors errors;
  EXPECT_FALSE(validate_bulk_invite(input, errors));
  EXPECT_EQ(fields(errors), Fields{"website_ids[1]"});
}

TEST(ValidateBulkInvite, UpperCaseIdsAreAccepted) {
  auto input = valid_input();
  input.website_ids = std::vector<std::string>{"0190A3C4-ABCD-7000-8000-00000000000F"};
  FieldErrors errors;
  auto request = validate_bulk_invite(input, errors);
  ASSERT_TRUE(request);
  EXPECT_EQ(request->target_ids[0].str(), "0190a3c4-abcd-7000-8000-00000000000f");
}

TEST(ValidateBulkInvite, NamesUpTo100CodePoints) {
  auto input = valid_input();
  input.first_name = repeat("\xc3\xa9", 100);         // 100 code points, 200 bytes
  input.last_name = repeat("\xf0\x9f\x98\x80", 100);  // 100 code points, 400 bytes
  FieldErrors errors;
  auto request = validate_bulk_invite(input, errors);
  ASSERT_TRUE(request) << errors.summary();
  EXPECT_EQ(request->first_name, input.first_name);
  EXPECT_EQ(request->last_name, input.last_name);
}

TEST(ValidateBulkInvite, RejectsNamesOf101CodePoints) {
  auto input = valid_input();
  input.first_name = repeat("\xc3\xa9", 101);
  input.last_name = std::string(101, 'x');
  FieldErrors errors;
  EXPECT_FALSE(validate_bulk_invite(input, errors));
  EXPECT_EQ(fields(errors), (Fields{"first_name", "last_name"}));
}

TEST(ValidateBulkInvite, RejectsControlCharactersInNames) {
  for (const char* name : {"Ann\nLee", "Ann\tLee", "\x7f", "Ann\xc2\x85"}) {
    auto input = valid_input();
    input.last_name = name;
    FieldErrors errors;
    EXPECT_FALSE(validate_bulk_invite(input, errors));
    EXPECT_EQ(fields(errors), Fields{"last_name"});
  }
}

TEST(ValidateBulkInvite, ReportsEveryFailingFieldInOnePassInFieldOrder) {
  BulkInviteInput input;
  input.invite_method = "fax";
  input.email = "not an email";
  input.role = "owner";
  input.website_ids = std::vector<std::string>{kWebsite1, "nope", kWebsite1};
  input.first_name = std::string(101, 'a');
  input.last_name = "Lee\r\n";
  FieldErrors errors;
  EXPECT_FALSE(validate_bulk_invite(input, errors));
  auto found = fields(errors);
  for (const auto& error : errors.all()) EXPECT_FALSE(error.message.empty()) << error.field;
  // In the order found: the invitee's fields in table order, a list's items by index.
  auto position = [&found](std::string_view field) {
    return std::find(found.begin(), found.end(), field) - found.begin();
  };
  EXPECT_LT(position("invite_method"), position("email"));
  EXPECT_LT(position("email"), position("role"));
  EXPECT_LT(position("first_name"), position("last_name"));
  EXPECT_LT(position("website_ids[1]"), position("website_ids[2]"));
  std::sort(found.begin(), found.end());
  EXPECT_EQ(found, (Fields{"email", "first_name", "invite_method", "last_name", "role",
                           "website_ids[1]", "website_ids[2]"}));
}

TEST(ValidateBulkInvite, EmptyInputReportsEachRequiredField) {
  FieldErrors errors;
  EXPECT_FALSE(validate_bulk_invite(BulkInviteInput{}, errors));
  EXPECT_EQ(fields(errors), (Fields{"invite_method", "email", "website_ids"}));
}

TEST(ValidateBulkInvite, BothListsInvalidReportsCombinationAndItems) {
  auto input = valid_input();
  input.website_ids = std::vector<std::string>{};
  input.group_ids = std::vector<std::string>{"bad"};
  FieldErrors errors;
  EXPECT_FALSE(validate_bulk_invite(input, errors));
  auto found = fields(errors);
  std::sort(found.begin(), found.end());
  EXPECT_EQ(found, (Fields{"group_ids", "group_ids[0]", "website_ids"}));
}

TEST(ValidateBulkInvite, EarlierTypeErrorsSuppressIsRequired) {
  // The API layer rejected these fields for their JSON type and left them absent.
  BulkInviteInput input;
  input.email = "ann@example.com";
  FieldErrors errors;
  errors.add("invite_method", "must be a string");
  errors.add("website_ids", "must be an array of strings");
  EXPECT_FALSE(validate_bulk_invite(input, errors));
  EXPECT_EQ(fields(errors), (Fields{"invite_method", "website_ids"}));
}

TEST(ValidateBulkInvite, EarlierEmailErrorSuppressesIsRequired) {
  auto input = valid_input();
  input.email.reset();
  FieldErrors errors;
  errors.add("email", "must be a string");
  EXPECT_FALSE(validate_bulk_invite(input, errors));
  ASSERT_EQ(errors.all().size(), 1u);
  EXPECT_EQ(errors.all()[0].message, "must be a string");
}

TEST(ValidateBulkInvite, EarlierItemErrorOnGroupIdsSuppressesWebsiteIdsRequired) {
  auto input = valid_input();
  input.website_ids.reset();
  FieldErrors errors;
  errors.add("group_ids[3]", "must be a string");
  EXPECT_FALSE(validate_bulk_invite(input, errors));
  EXPECT_EQ(fields(errors), Fields{"group_ids[3]"});
}

TEST(ValidateBulkInvite, EarlierErrorOnOptionalFieldStillFailsTheRequest) {
  auto input = valid_input();
  FieldErrors errors;
  errors.add("first_name", "must be a string");
  EXPECT_FALSE(validate_bulk_invite(input, errors));
  EXPECT_EQ(fields(errors), Fields{"first_name"});
}

TEST(ValidateBulkInvite, EarlierErrorOnOtherFieldStillReportsMissingOnes) {
  BulkInviteInput input;
  FieldErrors errors;
  errors.add("role", "must be a string");
  EXPECT_FALSE(validate_bulk_invite(input, errors));
  EXPECT_EQ(fields(errors), (Fields{"role", "invite_method", "email", "website_ids"}));
}

TEST(ValidateInvitee, ChecksOnlyTheInviteeFields) {
  InviteeInput input{.invite_method = "email",
                     .email = " Ann@Example.com ",
                     .role = std::nullopt,
                     .first_name = "Ann",
                     .last_name = std::nullopt};
  FieldErrors errors;
  errors.add("website_ids", "must contain between 1 and 50 items");  // another field's failure
  auto invitee = validate_invitee(input, errors);
  ASSERT_TRUE(invitee);
  EXPECT_EQ(invitee->method, InviteMethod::kEmail);
  EXPECT_EQ(invitee->email.address(), "Ann@Example.com");
  EXPECT_EQ(invitee->role, Role::kViewer);
  EXPECT_EQ(invitee->first_name, "Ann");
  EXPECT_FALSE(invitee->last_name);
  EXPECT_EQ(errors.all().size(), 1u);
}

TEST(ValidateInvitee, FailsOnAnyOfItsFields) {
  InviteeInput input{.invite_method = "direct",
                     .email = "ann@example.com",
                     .role = "owner",
                     .first_name = std::nullopt,
                     .last_name = std::nullopt};
  FieldErrors errors;
  EXPECT_FALSE(validate_invitee(input, errors));
  EXPECT_EQ(fields(errors), Fields{"role"});
}

TEST(ValidateInvitee, EarlierTypeErrorOnEmailMeansNoInvitee) {
  InviteeInput input{.invite_method = "direct",
                     .email = std::nullopt,
                     .role = std::nullopt,
                     .first_name = std::nullopt,
                     .last_name = std::nullopt};
  FieldErrors errors;
  errors.add("email", "must be a string");
  EXPECT_FALSE(validate_invitee(input, errors));
  EXPECT_EQ(fields(errors), Fields{"email"});
}

Principal global_principal() {
  Principal principal;
  principal.org_pk = 1;
  principal.scoped = false;
  return principal;
}

Principal scoped_principal() {
  Principal principal;
  principal.org_pk = 1;
  principal.scoped = true;
  principal.allowed_website_pks = {10, 11};
  return principal;
}

BulkInviteRequest request_of(TargetKind kind) {
  auto input = valid_input();
  if (kind == TargetKind::kGroup) {
    input.group_ids = input.website_ids;
    input.website_ids.reset();
  }
  FieldErrors errors;
  auto request = validate_bulk_invite(input, errors);
  EXPECT_TRUE(request);
  return *request;
}

TEST(CheckBulkInviteScope, GroupsWithScopedKeyNeedGlobalKey) {
  auto status = check_bulk_invite_scope(scoped_principal(), request_of(TargetKind::kGroup));
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, ErrorCode::kGlobalKeyRequired);
  EXPECT_FALSE(status.error().message.empty());
}

TEST(CheckBulkInviteScope, GroupsWithGlobalKeyAllowed) {
  EXPECT_TRUE(check_bulk_invite_scope(global_principal(), request_of(TargetKind::kGroup)).ok());
}

TEST(CheckBulkInviteScope, OrganizationTargetWithScopedKeyNeedsGlobalKey) {
  auto request = request_of(TargetKind::kWebsite);
  request.kind = TargetKind::kOrganization;
  auto status = check_bulk_invite_scope(scoped_principal(), request);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, ErrorCode::kGlobalKeyRequired);
  EXPECT_TRUE(check_bulk_invite_scope(global_principal(), request).ok());
}

TEST(CheckBulkInviteScope, WebsitesAllowedForEitherKey) {
  EXPECT_TRUE(check_bulk_invite_scope(global_principal(), request_of(TargetKind::kWebsite)).ok());
  EXPECT_TRUE(check_bulk_invite_scope(scoped_principal(), request_of(TargetKind::kWebsite)).ok());
}

}  // namespace
}  // namespace invited::domain
