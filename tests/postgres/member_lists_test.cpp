// The PostgreSQL member lists against a real cluster: the website member list's cursor form
// (website_access.cpp: three index streams merged in C++) gives the rows and order of the page
// form (one statement that ranks every grant), with ties, users reachable several ways, rounds
// that skip later grants, and a first page whose cost does not grow with the list.
#include <gtest/gtest.h>

#include <algorithm>
#include <iostream>
#include <string>
#include <tuple>
#include <vector>

#include "../store_support/list_walk.hpp"
#include "domain/email.hpp"
#include "store/postgres/schema.hpp"
#include "store/postgres/transaction.hpp"
#include "test_cluster.hpp"

namespace invited::store::postgres {
namespace {

using domain::AccessType;
using domain::Pk;
using domain::Role;
using domain::TargetKind;
using domain::Uuid;
using testing::connect;
using testing::TestCluster;
using testing_support::numbered_email;
using testing_support::walk_cursor;

constexpr domain::UnixSeconds kNow = 1'800'000'000;

Uuid user_id_of(const domain::Member& member) { return member.user_id; }

// A migrated schema of its own, an organization with one website, and a Transaction on one
// connection (autocommit: every statement is its own transaction).
class PostgresMemberLists : public ::testing::Test {
 protected:
  void SetUp() override {
    db = connect(TestCluster::get().tcp_url(TestCluster::get().fresh_schema()));
    db->set_deadline(testing::after_ms(120'000));  // many statements on a loaded machine
    migrate(*db);
    tx = std::make_unique<Transaction>(*db);
    org = tx->insert_organization(Uuid::v4(), "Acme", kNow);
    website = tx->insert_website(org.pk, Uuid::v4(), "https://a.example", "A", kNow);
  }

  domain::UserRef user(const std::string& address) {
    auto email = domain::Email::parse(address);
    if (!email) throw std::invalid_argument("bad test email");
    return tx->insert_user_if_absent(domain::NewUser{.id = Uuid::v4(),
                                                     .email_address = email->address(),
                                                     .email_key = email->key(),
                                                     .first_name = std::nullopt,
                                                     .last_name = std::nullopt,
                                                     .created_at = kNow});
  }

  void grant(TargetKind kind, Pk target, const domain::UserRef& who, Role role,
             domain::UnixSeconds at) {
    EXPECT_TRUE(tx->add_membership_if_absent({kind, target}, who.pk, role, at));
  }

  domain::Page<domain::Member> members(const domain::ListRequest& request) {
    return tx->list_website_members(org.pk, website.pk, request);
  }

  // The cursor form, walked in pages of `limit`, equals the page form row for row.
  void expect_walk_matches_page_form(std::int64_t limit) {
    auto page = members(domain::PageRequest{0, 1000});
    auto walked = walk_cursor<domain::Member>(
        [&](const domain::ListRequest& request) { return members(request); }, user_id_of, limit);
    ASSERT_EQ(walked.size(), page.items.size()) << "limit " << limit;
    for (std::size_t i = 0; i < walked.size(); ++i) {
      EXPECT_EQ(walked[i].user_id, page.items[i].user_id) << "limit " << limit << ", row " << i;
      EXPECT_EQ(walked[i].email, page.items[i].email) << i;
      EXPECT_EQ(walked[i].role, page.items[i].role) << i;
      EXPECT_EQ(walked[i].access_type, page.items[i].access_type) << i;
      EXPECT_EQ(walked[i].created_at, page.items[i].created_at) << i;
    }
  }

  std::unique_ptr<Connection> db;
  std::unique_ptr<Transaction> tx;
  domain::Organization org;
  domain::Website website;
};

TEST_F(PostgresMemberLists, WebsiteMembersReportStrongestRoleAndAccessTypeInBothForms) {
  auto other_site = tx->insert_website(org.pk, Uuid::v4(), "https://b.example", "B", kNow);
  Pk group = tx->insert_group(org.pk, Uuid::v4(), "Holds A", {website.pk, other_site.pk}, kNow);
  Pk other_group = tx->insert_group(org.pk, Uuid::v4(), "Only B", {other_site.pk}, kNow);
  Pk deleted_group = tx->insert_group(org.pk, Uuid::v4(), "Gone", {website.pk}, kNow);
  tx->delete_group(deleted_group, kNow);
  auto other_org = tx->insert_organization(Uuid::v4(), "Other", kNow);

  auto owner = user("owner@example.com");
  grant(TargetKind::kOrganization, org.pk, owner, Role::kOwner, 100);
  auto grouped = user("grouped@example.com");
  grant(TargetKind::kGroup, group, grouped, Role::kViewer, 101);
  auto direct = user("direct@example.com");
  grant(TargetKind::kWebsite, website.pk, direct, Role::kAdmin, 102);
  // Viewer directly, admin through the group: admin through the group wins.
  auto both = user("both@example.com");
  grant(TargetKind::kWebsite, website.pk, both, Role::kViewer, 103);
  grant(TargetKind::kGroup, group, both, Role::kAdmin, 104);
  // Viewer directly, admin of the organization: the organization's admin wins.
  auto org_admin = user("orgadmin@example.com");
  grant(TargetKind::kWebsite, website.pk, org_admin, Role::kViewer, 105);
  grant(TargetKind::kOrganization, org.pk, org_admin, Role::kAdmin, 106);
  // Admin through the group and directly: a tie goes to the direct access.
  auto tie = user("tie@example.com");
  grant(TargetKind::kGroup, group, tie, Role::kAdmin, 107);
  grant(TargetKind::kWebsite, website.pk, tie, Role::kAdmin, 108);
  // None of these reach the website.
  grant(TargetKind::kGroup, other_group, user("othergroup@example.com"), Role::kAdmin, 109);
  grant(TargetKind::kWebsite, other_site.pk, user("othersite@example.com"), Role::kAdmin, 110);
  grant(TargetKind::kGroup, deleted_group, user("deletedgroup@example.com"), Role::kAdmin, 111);
  grant(TargetKind::kOrganization, other_org.pk, user("otherorg@example.com"), Role::kOwner, 112);

  struct Expected {
    Uuid user_id;
    Role role;
    AccessType access;
    domain::UnixSeconds since;
  };
  const std::vector<Expected> expected = {
      {owner.id, Role::kOwner, AccessType::kOrganization, 100},
      {grouped.id, Role::kViewer, AccessType::kGroup, 101},
      {direct.id, Role::kAdmin, AccessType::kWebsite, 102},
      {both.id, Role::kAdmin, AccessType::kGroup, 103},
      {org_admin.id, Role::kAdmin, AccessType::kOrganization, 105},
      {tie.id, Role::kAdmin, AccessType::kWebsite, 107},
  };
  auto page = members(domain::PageRequest{0, 100});
  EXPECT_EQ(page.total, 6);
  ASSERT_EQ(page.items.size(), expected.size());
  for (std::int64_t limit : {1, 2, 4, 100}) {
    auto walked = walk_cursor<domain::Member>(
        [&](const domain::ListRequest& request) { return members(request); }, user_id_of, limit);
    ASSERT_EQ(walked.size(), expected.size()) << "limit " << limit;
    for (std::size_t i = 0; i < expected.size(); ++i) {
      EXPECT_EQ(walked[i].user_id, expected[i].user_id) << "limit " << limit << ", row " << i;
      EXPECT_EQ(walked[i].role, expected[i].role) << i;
      EXPECT_EQ(walked[i].access_type, expected[i].access) << i;
      EXPECT_EQ(walked[i].created_at, expected[i].since) << i;
      EXPECT_EQ(page.items[i].user_id, expected[i].user_id) << i;
    }
  }
}

TEST_F(PostgresMemberLists, WebsiteMembersGrantedInOneSecondFollowUserIdAndAppearOnce) {
  Pk group = tx->insert_group(org.pk, Uuid::v4(), "G", {website.pk}, kNow);
  Pk second_group = tx->insert_group(org.pk, Uuid::v4(), "G2", {website.pk}, kNow);
  // Seven users granted in the same second through every path at once (their ids random), one
  // a second earlier: ties order by user id, and each user is listed once.
  std::vector<std::pair<domain::UnixSeconds, Uuid>> keys;
  for (int i = 0; i < 7; ++i) {
    auto member = user(numbered_email("m", i));
    grant(TargetKind::kGroup, group, member, Role::kViewer, kNow);
    grant(TargetKind::kGroup, second_group, member, Role::kViewer, kNow);
    grant(TargetKind::kOrganization, org.pk, member, Role::kViewer, kNow);
    if (i % 2 == 0) grant(TargetKind::kWebsite, website.pk, member, Role::kViewer, kNow);
    keys.emplace_back(kNow, member.id);
  }
  auto first = user("first@example.com");
  grant(TargetKind::kGroup, group, first, Role::kAdmin, kNow - 1);
  grant(TargetKind::kOrganization, org.pk, first, Role::kAdmin, kNow - 1);
  keys.emplace_back(kNow - 1, first.id);
  std::sort(keys.begin(), keys.end());

  for (std::int64_t limit : {1, 2, 3, 10}) {
    auto walked = walk_cursor<domain::Member>(
        [&](const domain::ListRequest& request) { return members(request); }, user_id_of, limit);
    ASSERT_EQ(walked.size(), keys.size()) << "limit " << limit;
    for (std::size_t i = 0; i < keys.size(); ++i) {
      EXPECT_EQ(walked[i].user_id, keys[i].second) << "limit " << limit << ", row " << i;
      EXPECT_EQ(walked[i].created_at, keys[i].first) << i;
    }
    // The earliest: admin through the group and the organization; a tie goes to the group.
    EXPECT_EQ(walked[0].role, Role::kAdmin);
    EXPECT_EQ(walked[0].access_type, AccessType::kGroup);
    // Viewer by every path: the most direct one shows.
    for (std::size_t i = 1; i < walked.size(); ++i) {
      EXPECT_EQ(walked[i].role, Role::kViewer) << i;
    }
  }
  expect_walk_matches_page_form(3);
}

TEST_F(PostgresMemberLists, WebsiteMembersAreListedOnceAtTheirEarliestAccessWithTheStrongestRole) {
  Pk group = tx->insert_group(org.pk, Uuid::v4(), "G", {website.pk}, kNow);
  Pk second_group = tx->insert_group(org.pk, Uuid::v4(), "G2", {website.pk}, kNow);
  struct Case {
    std::vector<std::tuple<TargetKind, Pk, Role, domain::UnixSeconds>> grants;
    domain::UnixSeconds since;
    Role role;
    AccessType access;
  };
  const std::vector<Case> cases = {
      {{{TargetKind::kWebsite, website.pk, Role::kViewer, 50},
        {TargetKind::kOrganization, org.pk, Role::kAdmin, 10}},
       10,
       Role::kAdmin,
       AccessType::kOrganization},
      {{{TargetKind::kGroup, second_group, Role::kViewer, 40},
        {TargetKind::kGroup, group, Role::kAdmin, 20},
        {TargetKind::kWebsite, website.pk, Role::kAdmin, 30}},
       20,
       Role::kAdmin,
       AccessType::kWebsite},
      {{{TargetKind::kWebsite, website.pk, Role::kViewer, 15},
        {TargetKind::kOrganization, org.pk, Role::kViewer, 15}},
       15,
       Role::kViewer,
       AccessType::kWebsite},
      {{{TargetKind::kGroup, group, Role::kViewer, 25}}, 25, Role::kViewer, AccessType::kGroup},
      {{{TargetKind::kOrganization, org.pk, Role::kOwner, 60},
        {TargetKind::kGroup, second_group, Role::kOwner, 5}},
       5,
       Role::kOwner,
       AccessType::kGroup},
  };
  std::vector<std::pair<domain::UnixSeconds, std::size_t>> order;
  std::vector<domain::UserRef> users;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    users.push_back(user(numbered_email("w", static_cast<int>(i))));
    for (const auto& [kind, pk, role, at] : cases[i].grants) grant(kind, pk, users[i], role, at);
    order.emplace_back(cases[i].since, i);
  }
  std::sort(order.begin(), order.end());
  for (std::int64_t limit : {1, 2, 3, 10}) {
    auto walked = walk_cursor<domain::Member>(
        [&](const domain::ListRequest& request) { return members(request); }, user_id_of, limit);
    ASSERT_EQ(walked.size(), cases.size()) << "limit " << limit;
    for (std::size_t i = 0; i < order.size(); ++i) {
      const auto& want = cases[order[i].second];
      EXPECT_EQ(walked[i].user_id, users[order[i].second].id) << "limit " << limit << ", " << i;
      EXPECT_EQ(walked[i].created_at, want.since) << i;
      EXPECT_EQ(walked[i].role, want.role) << i;
      EXPECT_EQ(walked[i].access_type, want.access) << i;
    }
  }
  expect_walk_matches_page_form(2);
}

TEST_F(PostgresMemberLists, WebsiteMembersWalkPastManySkippedLaterGrants) {
  // Forty users joined the organization first and the website (and a group) much later; ten
  // only joined the website, in between. The first rounds of a page read mostly later grants of
  // users listed before, so the walk must take several rounds (with growing batches) to fill a
  // page, and still list everyone once, in order.
  Pk group = tx->insert_group(org.pk, Uuid::v4(), "G", {website.pk}, kNow);
  for (int i = 0; i < 40; ++i) {
    auto member = user(numbered_email("early", i));
    grant(TargetKind::kOrganization, org.pk, member, Role::kViewer, 1000 + i);
    grant(TargetKind::kWebsite, website.pk, member, Role::kAdmin, 5000 + i);
    grant(TargetKind::kGroup, group, member, Role::kViewer, 6000 + i);
  }
  for (int i = 0; i < 10; ++i) {
    grant(TargetKind::kWebsite, website.pk, user(numbered_email("late", i)), Role::kViewer,
          9000 + i);
  }
  auto page = members(domain::PageRequest{0, 1000});
  ASSERT_EQ(page.items.size(), 50u);
  EXPECT_EQ(page.items[0].created_at, 1000);
  EXPECT_EQ(page.items[0].role, Role::kAdmin);
  EXPECT_EQ(page.items[0].access_type, AccessType::kWebsite);
  EXPECT_EQ(page.items[40].created_at, 9000);
  for (std::int64_t limit : {1, 3, 7, 45, 100}) expect_walk_matches_page_form(limit);

  // A cursor at the last early user: the next page skips forty later grants of each stream.
  auto after_early = members(domain::CursorRequest{2, page.items[39].user_id});
  ASSERT_EQ(after_early.items.size(), 2u);
  EXPECT_EQ(after_early.items[0].user_id, page.items[40].user_id);
  EXPECT_EQ(after_early.items[1].user_id, page.items[41].user_id);
  EXPECT_TRUE(after_early.has_more);
}

TEST_F(PostgresMemberLists, RemovedMemberStillWorksAsACursor) {
  std::vector<domain::UserRef> users;
  for (int i = 0; i < 5; ++i) {
    users.push_back(user(numbered_email("r", i)));
    grant(TargetKind::kWebsite, website.pk, users.back(), Role::kViewer, 100 + i);
  }
  ASSERT_TRUE(tx->delete_membership({TargetKind::kWebsite, website.pk}, users[2].pk));
  auto next = members(domain::CursorRequest{10, users[2].id});
  EXPECT_FALSE(next.unknown_cursor);
  ASSERT_EQ(next.items.size(), 2u);
  EXPECT_EQ(next.items[0].user_id, users[3].id);
  EXPECT_EQ(next.items[1].user_id, users[4].id);
  EXPECT_TRUE(members(domain::CursorRequest{10, Uuid::v4()}).unknown_cursor);
}

// The rows (heap tuples of sequential scans) and index entries the statements of the current
// transaction read from the tables and indexes of this test's schema: PostgreSQL's own counters
// for this backend, a deterministic measure of work, unlike a time.
std::int64_t entries_read(Connection& db) {
  return db
      .query_once(
          "SELECT coalesce(sum(pg_stat_get_xact_tuples_returned(c.oid)), 0)::int8 FROM pg_class c "
          "WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema()) "
          "AND c.relkind IN ('r', 'i')")
      .int64(0, 0);
}

TEST_F(PostgresMemberLists, FirstCursorPageReadsAboutAPageWhateverTheListsLength) {
  // Rows and index entries read for the first page of 20, for a website with 90 members and
  // one with 3,000, each reached directly, through a group of its own and through the
  // organization (whose members reach both). The page form, which ranks every member, is the
  // control that shows the data makes a cost that grows with the list visible.
  auto small_site = website;
  auto big_site = tx->insert_website(org.pk, Uuid::v4(), "https://big.example", "Big", kNow);
  Pk small_group = tx->insert_group(org.pk, Uuid::v4(), "Small", {small_site.pk}, kNow);
  Pk big_group = tx->insert_group(org.pk, Uuid::v4(), "Big", {big_site.pk}, kNow);
  auto seed = [&](Pk site, Pk group, int count, const char* tag) {
    db->query_once(
        "WITH made AS (INSERT INTO users(id, email, email_key, created_at) "
        "  SELECT gen_random_uuid(), $1 || i || '@seed.example', $1 || i || '@seed.example', "
        "  $4 + i FROM generate_series(0, $3::int8 - 1) AS n(i) RETURNING pk, id, created_at), "
        "direct AS (INSERT INTO website_members(website_pk, user_pk, role, created_at, user_id) "
        "  SELECT $2, pk, 1, created_at, id FROM made WHERE pk % 3 = 0) "
        "INSERT INTO group_members(group_pk, user_pk, role, created_at, user_id) "
        "  SELECT $5, pk, 1, created_at, id FROM made WHERE pk % 3 = 1",
        Params().add(std::string(tag)).add(site).add(count).add(kNow).add(group));
    db->query_once(
        "INSERT INTO organization_members(org_pk, user_pk, role, created_at, user_id) "
        "SELECT $1, pk, 1, created_at, id FROM users WHERE email LIKE $2 || '%' AND pk % 3 = 2",
        Params().add(org.pk).add(std::string(tag)));
  };
  seed(small_site.pk, small_group, 90, "small");
  seed(big_site.pk, big_group, 3000, "big");
  db->query_once("ANALYZE");

  auto cost = [&](Pk site, const domain::ListRequest& request) {
    db->query_once("BEGIN");
    std::int64_t before = entries_read(*db);
    auto page = tx->list_website_members(org.pk, site, request);
    std::int64_t read = entries_read(*db) - before;
    db->query_once("COMMIT");
    EXPECT_FALSE(page.items.empty());
    return read;
  };
  auto first_page = domain::ListRequest{domain::CursorRequest{20, std::nullopt}};
  auto numbered = domain::ListRequest{domain::PageRequest{0, 20}};
  std::int64_t small_cursor = cost(small_site.pk, first_page);
  std::int64_t big_cursor = cost(big_site.pk, first_page);
  std::int64_t big_numbered = cost(big_site.pk, numbered);
  std::string report = "cursor form: " + std::to_string(small_cursor) + " for 90 members, " +
                       std::to_string(big_cursor) +
                       " for 3,000; page form: " + std::to_string(big_numbered) + " for 3,000";
  std::cout << "[ entries  ] " << report << "\n";
  EXPECT_LE(big_cursor, small_cursor + small_cursor / 4) << report;
  EXPECT_LT(big_cursor, 600) << report;
  EXPECT_GT(big_numbered, 3000) << "control: " << report;
}

TEST_F(PostgresMemberLists, UserWebsitesFollowWebsiteOrderAndAMembersPageReadsOnePage) {
  std::vector<domain::Website> sites = {website};
  for (int i = 0; i < 4; ++i) {
    sites.push_back(tx->insert_website(org.pk, Uuid::v4(), "https://u.example", "U", kNow + i));
  }
  Pk group = tx->insert_group(org.pk, Uuid::v4(), "G", {sites[1].pk, sites[2].pk}, kNow);
  auto member = user("member@example.com");
  grant(TargetKind::kOrganization, org.pk, member, Role::kViewer, kNow);
  grant(TargetKind::kWebsite, sites[3].pk, member, Role::kAdmin, kNow);
  auto outsider = user("outsider@example.com");
  grant(TargetKind::kGroup, group, outsider, Role::kViewer, kNow);
  grant(TargetKind::kWebsite, sites[2].pk, outsider, Role::kAdmin, kNow);
  grant(TargetKind::kWebsite, sites[4].pk, outsider, Role::kViewer, kNow);
  auto website_id = [](const domain::UserWebsite& w) { return w.website_id; };
  auto ids = [&](const std::vector<domain::UserWebsite>& list) {
    std::vector<Uuid> out;
    for (const auto& w : list) out.push_back(w.website_id);
    return out;
  };
  auto in_order = [](std::vector<domain::Website> list) {
    std::sort(list.begin(), list.end(), [](const auto& a, const auto& b) {
      return std::pair(a.created_at, a.id) < std::pair(b.created_at, b.id);
    });
    std::vector<Uuid> out;
    for (const auto& w : list) out.push_back(w.id);
    return out;
  };

  // An organization member reaches every website; the direct admin role shows where it wins.
  auto page = tx->list_user_websites(org.pk, member.pk, domain::PageRequest{0, 100});
  EXPECT_EQ(page.total, 5);
  EXPECT_EQ(ids(page.items), in_order(sites));
  auto walked = walk_cursor<domain::UserWebsite>(
      [&](const domain::ListRequest& r) { return tx->list_user_websites(org.pk, member.pk, r); },
      website_id, 2);
  EXPECT_EQ(ids(walked), in_order(sites));
  for (const auto& w : walked) {
    bool direct = w.website_id == sites[3].id;
    EXPECT_EQ(w.role, direct ? Role::kAdmin : Role::kViewer);
    EXPECT_EQ(w.access_type, direct ? AccessType::kWebsite : AccessType::kOrganization);
  }
  // Anyone else: their direct and group websites, once each, strongest role.
  auto expected = in_order({sites[1], sites[2], sites[4]});
  page = tx->list_user_websites(org.pk, outsider.pk, domain::PageRequest{0, 100});
  EXPECT_EQ(page.total, 3);
  EXPECT_EQ(ids(page.items), expected);
  walked = walk_cursor<domain::UserWebsite>(
      [&](const domain::ListRequest& r) { return tx->list_user_websites(org.pk, outsider.pk, r); },
      website_id, 1);
  ASSERT_EQ(ids(walked), expected);
  EXPECT_EQ(walked[1].role, Role::kAdmin);
  EXPECT_EQ(walked[1].access_type, AccessType::kWebsite);

  // An organization member's first page of 10 reads about a page, not the organization's 800
  // websites.
  db->query_once(
      "INSERT INTO websites(id, org_pk, url, name, created_at) "
      "SELECT gen_random_uuid(), $1, 'https://many.example', 'M', $2 + i "
      "FROM generate_series(1, 800) AS n(i)",
      Params().add(org.pk).add(kNow));
  db->query_once("ANALYZE");
  db->query_once("BEGIN");
  std::int64_t before = entries_read(*db);
  auto first = tx->list_user_websites(org.pk, member.pk, domain::CursorRequest{10, std::nullopt});
  std::int64_t read = entries_read(*db) - before;
  db->query_once("COMMIT");
  EXPECT_EQ(first.items.size(), 10u);
  EXPECT_TRUE(first.has_more);
  std::cout << "[ entries  ] first page of 10 of an organization member's 805 websites: " << read
            << "\n";
  EXPECT_LT(read, 200);
}

}  // namespace
}  // namespace invited::store::postgres
