// The event log's pure parts (domain/events.hpp): type names and families, the data each type
// carries (compact JSON, escaped), the scoped-key rule and the query's checks.
#include <gtest/gtest.h>

#include "domain/events.hpp"

namespace invited::domain {
namespace {

TEST(EventTypes, NamesRoundTripAndFamiliesExpand) {
  for (EventType type : all_event_types()) {
    EXPECT_EQ(parse_event_type(event_type_name(type)), type);
  }
  EXPECT_EQ(all_event_types().size(), 22u);
  auto invitation = parse_event_type_pattern("invitation.*");
  ASSERT_TRUE(invitation);
  EXPECT_EQ(invitation->size(), 7u);
  EXPECT_FALSE(parse_event_type_pattern("invitation"));
  EXPECT_FALSE(parse_event_type_pattern("*"));
  EXPECT_FALSE(parse_event_type_pattern("nothing.*"));
  EXPECT_EQ(invite_closed_event(InviteStatus::kExpired), EventType::kInvitationExpired);
}

TEST(EventData, InviteAsTheApiShowsItWithEscapedText) {
  InviteRecord invite{.pk = 5,
                      .id = *Uuid::parse("0192f3a1-8d2b-7e4f-a1c3-5b7d9e1f3a5c"),
                      .batch_pk = 1,
                      .email = "A\"b\\c@Example.com",
                      .kind = TargetKind::kWebsite,
                      .target_pk = 9,
                      .target_id = *Uuid::parse("123e4567-e89b-12d3-a456-426614174000"),
                      .role = Role::kAdmin,
                      .status = InviteStatus::kPending,
                      .delivery = Delivery::kSent,
                      .created_at = 0,
                      .expires_at = 100};
  NewEvent event = invite_event(EventType::kInvitationCreated, 3, invite, Actor::system(), 200);
  EXPECT_EQ(event.data,
            R"({"id":"0192f3a1-8d2b-7e4f-a1c3-5b7d9e1f3a5c","email":"A\"b\\c@Example.com",)"
            R"("type":"website","website_id":"123e4567-e89b-12d3-a456-426614174000",)"
            R"("role":"admin","status":"expired","delivery":"sent",)"
            R"("created_at":"1970-01-01T00:00:00Z","expires_at":"1970-01-01T00:01:40Z"})");
  EXPECT_EQ(event.website_pk, 9);
  EXPECT_FALSE(event.group_pk);
  EXPECT_EQ(event.email_key, "a\"b\\c@example.com");
}

TEST(EventVisibility, ScopedKeysSeeOnlyEventsNamingAnAllowedWebsite) {
  Principal scoped{.org_pk = 1,
                   .org_id = {},
                   .key_pk = 2,
                   .key_id = {},
                   .scoped = true,
                   .allowed_website_pks = {4, 7}};
  Event event;
  event.website_pk = 7;
  EXPECT_TRUE(can_see_event(scoped, event));
  event.website_pk = 5;
  EXPECT_FALSE(can_see_event(scoped, event));
  event.website_pk.reset();  // a group, key or organization event
  EXPECT_FALSE(can_see_event(scoped, event));
  Principal global;
  global.org_pk = 1;
  EXPECT_TRUE(can_see_event(global, event));
}

TEST(EventQuery, Timestamps) {
  EXPECT_EQ(parse_timestamp("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(parse_timestamp("2026-11-26T11:30:27Z"), 1795692627);
  EXPECT_EQ(parse_timestamp("2026-11-26T13:30:27.123+02:00"), 1795692627);
  EXPECT_FALSE(parse_timestamp("2026-11-26"));
  EXPECT_FALSE(parse_timestamp("2026-02-30T00:00:00Z"));
  EXPECT_FALSE(parse_timestamp("2026-11-26T11:30:27"));
}

TEST(EventQuery, EveryBadParameterIsNamed) {
  EventQueryInput input;
  input.limit = "0";
  input.types = {"invitation.created", "bogus"};
  input.website_id = "x";
  input.email = "nope";
  input.since = "2026-11-27T00:00:00Z";
  input.until = "2026-11-26T00:00:00Z";
  input.starting_after = "0192f3a1-8d2b-7e4f-a1c3-5b7d9e1f3a5c";
  input.ending_before = "0192f3a1-8d2b-7e4f-a1c3-5b7d9e1f3a5c";
  FieldErrors errors;
  EXPECT_FALSE(validate_event_query(input, Principal{}, errors));
  std::vector<std::string> fields;
  for (const auto& error : errors.all()) fields.push_back(error.field);
  EXPECT_EQ(fields, (std::vector<std::string>{"limit", "ending_before", "type", "website_id",
                                              "email", "until"}));
}

}  // namespace
}  // namespace invited::domain
