#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "domain/bulk_invite.hpp"
#include "domain/secret.hpp"

namespace invited::domain {
namespace {

// An in-memory transaction of just the topics run_bulk_invite uses (InvitePlanTx), with a record
// of every write so the tests can see what the domain asked the store to do.
class FakeTx final : public TenancyReadTx,
                     public UserWriteTx,
                     public MembershipWriteTx,
                     public InviteWriteTx,
                     public EmailQueueTx,
                     public EventWriteTx {
 public:
  struct WebsiteRow {
    Pk pk;
    Pk org_pk;
    bool deleted;
  };
  struct GroupRow {
    Pk pk;
    Pk org_pk;
  };
  struct UserRow {
    UserRef ref;
    std::string email_address;
    std::optional<std::string> first_name;
    std::optional<std::string> last_name;
    bool email_verified;
    UnixSeconds created_at;
  };
  struct MembershipRow {
    Role role;
    UnixSeconds created_at;
  };
  struct InviteRow {
    Uuid id;
    Pk org_pk;
    Pk batch_pk;
    std::string email_key;
    Target target;
    Role role;
    InviteStatus status;
    UnixSeconds created_at;
    UnixSeconds expires_at;
  };
  struct BatchRow {
    Pk pk;
    NewBatch batch;  // its views are copied below: they outlive no call
    std::string email_address;
    std::optional<std::string> first_name;
    std::optional<std::string> last_name;
  };
  struct CloseCall {
    Target target;
    std::string email_key;
    InviteStatus status;
    UnixSeconds now;
  };

  // Setup helpers.
  Pk add_website(Pk org_pk, const Uuid& id, bool deleted = false) {
    Pk pk = next_pk_++;
    websites[id] = {pk, org_pk, deleted};
    return pk;
  }
  Pk add_group(Pk org_pk, const Uuid& id) {
    Pk pk = next_pk_++;
    groups[id] = {pk, org_pk};
    return pk;
  }
  UserRef add_user(std::string_view email_key) {
    UserRef ref{next_pk_++, Uuid::v4()};
    users[std::string(email_key)] =
        UserRow{ref, std::string(email_key), std::nullopt, std::nullopt, true, 0};
    return ref;
  }
  void add_pending_invite(Pk org_pk, std::string_view email_key, Target target) {
    invites.push_back(InviteRow{Uuid::v4(), org_pk, 0, std::string(email_key), target,
                                Role::kViewer, InviteStatus::kPending, 0, 1'000'000'000'000});
  }

  // The operations run_bulk_invite uses: the set-based ones, and the single ones it still asks
  // once per request (the user, the organization membership, the pending-invite pre-check, the
  // batch).
  std::vector<std::optional<Pk>> find_live_target_pks(Pk org_pk, TargetKind kind,
                                                      std::span<const Uuid> ids) override {
    ++target_lookups;
    std::vector<std::optional<Pk>> pks;
    for (const Uuid& id : ids) {
      std::optional<Pk> pk;
      if (kind == TargetKind::kWebsite) {
        auto it = websites.find(id);
        if (it != websites.end() && it->second.org_pk == org_pk && !it->second.deleted) {
          pk = it->second.pk;
        }
      } else if (kind == TargetKind::kGroup) {
        auto it = groups.find(id);
        if (it != groups.end() && it->second.org_pk == org_pk) pk = it->second.pk;
      }
      pks.push_back(pk);
    }
    return pks;
  }
  std::optional<UserRef> find_user(std::string_view email_key) override {
    auto it = users.find(std::string(email_key));
    if (it == users.end()) return std::nullopt;
    return it->second.ref;
  }
  UserRef insert_user_if_absent(const NewUser& user) override {
    auto it = users.find(std::string(user.email_key));
    if (it != users.end()) return it->second.ref;
    ++user_inserts;  // users created (an upsert of an existing user creates none)
    UserRef ref{next_pk_++, user.id};
    users[std::string(user.email_key)] =
        UserRow{ref,
                std::string(user.email_address),
                user.first_name ? std::optional<std::string>(*user.first_name) : std::nullopt,
                user.last_name ? std::optional<std::string>(*user.last_name) : std::nullopt,
                user.email_verified,
                user.created_at};
    return ref;
  }
  bool has_membership(Target target, Pk user_pk) override {
    return memberships.count({target.kind, target.pk, user_pk}) > 0;
  }
  std::vector<bool> find_memberships(TargetKind kind, std::span<const Pk> target_pks,
                                     Pk user_pk) override {
    std::vector<bool> flags;
    for (Pk pk : target_pks) flags.push_back(has_membership({kind, pk}, user_pk));
    return flags;
  }
  std::vector<bool> add_memberships_if_absent(TargetKind kind, std::span<const Pk> target_pks,
                                              const UserRef& user, Role role,
                                              UnixSeconds now) override {
    ++membership_adds;
    std::vector<bool> added;
    for (Pk pk : target_pks) {
      added.push_back(
          memberships.emplace(std::tuple{kind, pk, user.pk}, MembershipRow{role, now}).second);
    }
    return added;
  }
  bool has_pending_invites(Pk org_pk, std::string_view email_key) override {
    ++pending_checks;
    for (const auto& invite : invites) {
      if (invite.org_pk == org_pk && invite.email_key == email_key &&
          invite.status == InviteStatus::kPending) {
        return true;
      }
    }
    return false;
  }
  // Records one close per target, in the order given.
  std::vector<InviteRecord> close_pending_invites_to(TargetKind kind,
                                                     std::span<const Pk> target_pks,
                                                     std::string_view email_key,
                                                     InviteStatus status,
                                                     UnixSeconds now) override {
    std::vector<InviteRecord> closed;
    for (Pk pk : target_pks) {
      closes.push_back({{kind, pk}, std::string(email_key), status, now});
      for (auto& invite : invites) {
        if (invite.email_key == email_key && invite.target.kind == kind && invite.target.pk == pk &&
            invite.status == InviteStatus::kPending) {
          invite.status = status;
          InviteRecord record;
          record.id = invite.id;
          record.batch_pk = invite.batch_pk;
          record.email = invite.email_key;
          record.kind = kind;
          record.target_pk = pk;
          record.role = invite.role;
          record.status = status;
          record.created_at = invite.created_at;
          record.expires_at = invite.expires_at;
          closed.push_back(record);
        }
      }
    }
    return closed;
  }
  void record_events(std::span<const NewEvent> recorded) override {
    events.insert(events.end(), recorded.begin(), recorded.end());
  }
  Pk insert_batch(const NewBatch& batch) override {
    Pk pk = next_pk_++;
    batches.push_back(
        {pk, batch, std::string(batch.email_address),
         batch.first_name ? std::optional<std::string>(*batch.first_name) : std::nullopt,
         batch.last_name ? std::optional<std::string>(*batch.last_name) : std::nullopt});
    return pk;
  }
  void insert_invites(std::span<const NewInvite> new_invites) override {
    ++invite_inserts;
    for (const NewInvite& invite : new_invites) {
      invites.push_back(InviteRow{invite.id, invite.org_pk, invite.batch_pk,
                                  std::string(invite.email_key), invite.target, invite.role,
                                  InviteStatus::kPending, invite.created_at, invite.expires_at});
    }
  }
  void enqueue_email(const NewEmail& email) override { emails.push_back(email); }

  // Not used by run_bulk_invite: the single-target twins of the set-based operations above,
  // and what the plan never needs.
  std::optional<Pk> find_live_website_pk(Pk, const Uuid&) override { unused(); }
  std::optional<Pk> find_group_pk(Pk, const Uuid&) override { unused(); }
  bool add_membership_if_absent(Target, Pk, Role, UnixSeconds) override { unused(); }
  void close_pending_invites(Target, std::string_view, InviteStatus, UnixSeconds) override {
    unused();
  }
  void insert_invite(const NewInvite&) override { unused(); }
  std::optional<Organization> find_organization(Pk) override { unused(); }
  std::optional<Organization> find_organization_by_id(const Uuid&) override { unused(); }
  std::optional<Website> find_website(Pk, const Uuid&) override { unused(); }
  Page<Website> list_websites(Pk, std::optional<Pk>, const ListRequest&) override { unused(); }
  std::optional<Group> find_group(Pk, const Uuid&) override { unused(); }
  Page<Group> list_groups(Pk, const ListRequest&) override { unused(); }
  std::optional<Website> find_website_including_deleted(Pk, const Uuid&) override { unused(); }
  std::optional<UserRef> find_user_by_id(const Uuid&) override { unused(); }
  std::optional<Member> find_member(Target, Pk) override { unused(); }
  bool has_any_membership(Pk, Pk) override { unused(); }
  std::optional<InviteRecord> find_invite(Pk, const Uuid&) override { unused(); }
  Page<InviteRecord> list_invites(Pk, const InviteFilter&, const ListRequest&) override {
    unused();
  }
  std::optional<Role> membership_role(Target, Pk) override { unused(); }
  void set_membership_role(Target, Pk, Role) override { unused(); }
  bool delete_membership(Target, Pk) override { unused(); }
  int count_organization_owners(Pk) override { unused(); }
  void set_email_verified(Pk) override { unused(); }
  std::vector<InviteRecord> revoke_pending_invites(Target, UnixSeconds) override { unused(); }
  std::vector<InviteRecord> take_expired_invites(UnixSeconds, int) override { unused(); }
  std::vector<InviteRecord> list_batch_invites(Pk) override { unused(); }
  void close_invite(Pk, InviteStatus, UnixSeconds) override { unused(); }
  Page<Event> list_events(Pk, const EventFilter&, const EventPageRequest&) override { unused(); }
  std::optional<Event> find_event(Pk, const Uuid&) override { unused(); }
  int prune_events(UnixSeconds, int) override { unused(); }

  std::vector<NewEvent> events;

  std::map<Uuid, WebsiteRow> websites;
  std::map<Uuid, GroupRow> groups;
  std::map<std::string, UserRow> users;
  std::map<std::tuple<TargetKind, Pk, Pk>, MembershipRow> memberships;
  std::vector<InviteRow> invites;
  std::vector<BatchRow> batches;
  std::vector<NewEmail> emails;
  std::vector<CloseCall> closes;
  int user_inserts = 0;
  int pending_checks = 0;
  int target_lookups = 0;
  int membership_adds = 0;
  int invite_inserts = 0;

 private:
  [[noreturn]] static void unused() {
    throw std::logic_error("run_bulk_invite should not call this");
  }

  Pk next_pk_ = 100;
};

constexpr Pk kOrg = 1;
constexpr Pk kOtherOrg = 2;
// 2026-11-26T11:30:27.500Z: a fractional second, to show expiry counts from whole seconds.
constexpr Instant kNow{1'795'692'627'500};
constexpr UnixSeconds kNowSeconds = 1'795'692'627;

Uuid id_of(int n) {
  Uuid::Bytes bytes{};
  bytes[0] = 0x01;
  bytes[15] = static_cast<std::uint8_t>(n);
  return Uuid(bytes);
}

Principal global_principal() {
  Principal principal;
  principal.org_pk = kOrg;
  principal.org_id = id_of(200);
  principal.scoped = false;
  return principal;
}

BulkInviteRequest make_request(InviteMethod method, std::vector<Uuid> targets,
                               TargetKind kind = TargetKind::kWebsite,
                               std::string_view email = "Ann.Lee@Example.com") {
  return BulkInviteRequest{.method = method,
                           .email = *Email::parse(email),
                           .role = Role::kAdmin,
                           .kind = kind,
                           .target_ids = std::move(targets),
                           .first_name = "Ann",
                           .last_name = "Lee"};
}

constexpr std::string_view kKey = "ann.lee@example.com";

class RunBulkInvite : public ::testing::Test {
 protected:
  void SetUp() override {
    w1 = tx.add_website(kOrg, id_of(1));
    w2 = tx.add_website(kOrg, id_of(2));
    w3 = tx.add_website(kOrg, id_of(3));
    tx.add_website(kOtherOrg, id_of(4));
    tx.add_website(kOrg, id_of(5), /*deleted=*/true);
    g1 = tx.add_group(kOrg, id_of(11));
    g2 = tx.add_group(kOrg, id_of(12));
    tx.add_group(kOtherOrg, id_of(13));
  }

  BulkInviteOutcome run(const BulkInviteRequest& request, int expiry_days = 7,
                        const Principal& principal = global_principal()) {
    return run_bulk_invite(tx, principal, request, InvitePolicy{.expiry_days = expiry_days}, kNow);
  }

  FakeTx tx;
  Pk w1 = 0, w2 = 0, w3 = 0, g1 = 0, g2 = 0;
};

std::vector<TargetOutcome> outcomes(const BulkInviteOutcome& outcome) {
  std::vector<TargetOutcome> out;
  for (const auto& result : outcome.results) out.push_back(result.outcome);
  return out;
}

using Outcomes = std::vector<TargetOutcome>;
constexpr auto kAdded = TargetOutcome::kAdded;
constexpr auto kInvited = TargetOutcome::kInvited;
constexpr auto kNotFound = TargetOutcome::kNotFound;
constexpr auto kAlreadyMember = TargetOutcome::kAlreadyMember;

TEST_F(RunBulkInvite, DirectCreatesUserOnceAndAddsEveryFoundTarget) {
  auto outcome = run(make_request(InviteMethod::kDirect, {id_of(1), id_of(9), id_of(2), id_of(3)}));

  EXPECT_EQ(outcomes(outcome), (Outcomes{kAdded, kNotFound, kAdded, kAdded}));
  ASSERT_EQ(tx.users.size(), 1u);
  EXPECT_EQ(tx.user_inserts, 1);
  const auto& user = tx.users.at(std::string(kKey));
  EXPECT_EQ(user.email_address, "Ann.Lee@Example.com");
  EXPECT_EQ(user.first_name, "Ann");
  EXPECT_EQ(user.last_name, "Lee");
  EXPECT_FALSE(user.email_verified);
  EXPECT_EQ(user.created_at, kNowSeconds);

  for (std::size_t i : {0u, 2u, 3u}) EXPECT_EQ(outcome.results[i].id, user.ref.id) << i;
  ASSERT_EQ(tx.memberships.size(), 3u);
  for (Pk website : {w1, w2, w3}) {
    auto it = tx.memberships.find({TargetKind::kWebsite, website, user.ref.pk});
    ASSERT_NE(it, tx.memberships.end()) << website;
    EXPECT_EQ(it->second.role, Role::kAdmin);
    EXPECT_EQ(it->second.created_at, kNowSeconds);
  }
  EXPECT_TRUE(tx.batches.empty());
  EXPECT_TRUE(tx.invites.empty());
  EXPECT_TRUE(tx.emails.empty());
}

TEST_F(RunBulkInvite, AsksTheStoreAboutAllTargetsAtOnce) {
  // Set-based: one lookup of every target, one call adding every membership, one inserting
  // every invite, however many targets the request names.
  UserRef user = tx.add_user(kKey);
  tx.add_pending_invite(kOrg, kKey, {TargetKind::kWebsite, w1});
  auto direct = run(make_request(InviteMethod::kDirect, {id_of(1), id_of(9), id_of(2), id_of(3)}));
  EXPECT_EQ(outcomes(direct), (Outcomes{kAdded, kNotFound, kAdded, kAdded}));
  EXPECT_EQ(tx.target_lookups, 1);
  EXPECT_EQ(tx.membership_adds, 1);
  EXPECT_EQ(tx.closes.size(), 3u);  // one call, one record per added target

  auto email = run(make_request(InviteMethod::kEmail, {id_of(11), id_of(12), id_of(13)},
                                TargetKind::kGroup, "bob@example.com"));
  EXPECT_EQ(outcomes(email), (Outcomes{kInvited, kInvited, kNotFound}));
  EXPECT_EQ(tx.target_lookups, 2);
  EXPECT_EQ(tx.invite_inserts, 1);
  EXPECT_EQ(tx.invites.size(), 3u);  // the pending one (now accepted) and the two new ones
  EXPECT_EQ(tx.invites[0].status, InviteStatus::kAccepted);
  (void)user;
}

TEST_F(RunBulkInvite, ResultsFollowRequestOrderAndNameTheirTarget) {
  std::vector<Uuid> order = {id_of(3), id_of(4), id_of(1), id_of(5), id_of(2)};
  auto outcome = run(make_request(InviteMethod::kDirect, order));
  ASSERT_EQ(outcome.results.size(), order.size());
  for (std::size_t i = 0; i < order.size(); ++i) {
    EXPECT_EQ(outcome.results[i].target_id, order[i]) << i;
  }
  EXPECT_EQ(outcomes(outcome), (Outcomes{kAdded, kNotFound, kAdded, kNotFound, kAdded}));
}

TEST_F(RunBulkInvite, DirectCreatesNoUserWhenEveryTargetFails) {
  // Unknown, another organization's, deleted.
  auto outcome = run(make_request(InviteMethod::kDirect, {id_of(9), id_of(4), id_of(5)}));
  EXPECT_EQ(outcomes(outcome), (Outcomes{kNotFound, kNotFound, kNotFound}));
  EXPECT_EQ(tx.user_inserts, 0);
  EXPECT_TRUE(tx.users.empty());
  EXPECT_TRUE(tx.memberships.empty());
}

TEST_F(RunBulkInvite, DirectCreatesUserOnFirstSuccessfulTargetEvenIfNotFirst) {
  auto outcome = run(make_request(InviteMethod::kDirect, {id_of(9), id_of(4), id_of(2)}));
  EXPECT_EQ(outcomes(outcome), (Outcomes{kNotFound, kNotFound, kAdded}));
  EXPECT_EQ(tx.user_inserts, 1);
  ASSERT_EQ(tx.users.size(), 1u);
  EXPECT_EQ(outcome.results[2].id, tx.users.begin()->second.ref.id);
}

TEST_F(RunBulkInvite, DirectReusesExistingUserFoundByKey) {
  UserRef existing = tx.add_user(kKey);
  auto outcome = run(
      make_request(InviteMethod::kDirect, {id_of(1)}, TargetKind::kWebsite, "ANN.LEE@example.COM"));
  EXPECT_EQ(outcomes(outcome), Outcomes{kAdded});
  EXPECT_EQ(outcome.results[0].id, existing.id);
  EXPECT_EQ(tx.user_inserts, 0);
  EXPECT_EQ(tx.users.size(), 1u);
  EXPECT_TRUE(tx.memberships.count({TargetKind::kWebsite, w1, existing.pk}));
}

TEST_F(RunBulkInvite, DirectReportsExistingMembershipPerTarget) {
  UserRef existing = tx.add_user(kKey);
  tx.memberships[{TargetKind::kWebsite, w2, existing.pk}] = {Role::kViewer, 5};
  auto outcome = run(make_request(InviteMethod::kDirect, {id_of(1), id_of(2), id_of(3)}));
  EXPECT_EQ(outcomes(outcome), (Outcomes{kAdded, kAlreadyMember, kAdded}));
  // The existing membership keeps its role.
  EXPECT_EQ((tx.memberships.at({TargetKind::kWebsite, w2, existing.pk}).role), Role::kViewer);
}

TEST_F(RunBulkInvite, OrganizationMemberIsAlreadyMemberOfEveryTarget) {
  for (auto method : {InviteMethod::kDirect, InviteMethod::kEmail}) {
    FakeTx fresh;
    fresh.add_website(kOrg, id_of(1));
    fresh.add_website(kOrg, id_of(2));
    UserRef member = fresh.add_user(kKey);
    fresh.memberships[{TargetKind::kOrganization, kOrg, member.pk}] = {Role::kViewer, 1};
    auto outcome =
        run_bulk_invite(fresh, global_principal(),
                        make_request(method, {id_of(1), id_of(9), id_of(2)}), InvitePolicy{}, kNow);
    EXPECT_EQ(outcomes(outcome), (Outcomes{kAlreadyMember, kNotFound, kAlreadyMember}));
    EXPECT_EQ(fresh.memberships.size(), 1u);
    EXPECT_TRUE(fresh.batches.empty());
    EXPECT_TRUE(fresh.invites.empty());
    EXPECT_TRUE(fresh.emails.empty());
    EXPECT_EQ(fresh.user_inserts, 0);
  }
}

TEST_F(RunBulkInvite, OrganizationMembershipElsewhereDoesNotCount) {
  UserRef user = tx.add_user(kKey);
  tx.memberships[{TargetKind::kOrganization, kOtherOrg, user.pk}] = {Role::kOwner, 1};
  auto outcome = run(make_request(InviteMethod::kDirect, {id_of(1)}));
  EXPECT_EQ(outcomes(outcome), Outcomes{kAdded});
}

TEST_F(RunBulkInvite, ScopedKeyCannotReachWebsitesOutsideItsAllowlist) {
  Principal scoped = global_principal();
  scoped.scoped = true;
  scoped.allowed_website_pks = {w1, w3};
  std::sort(scoped.allowed_website_pks.begin(), scoped.allowed_website_pks.end());
  auto outcome =
      run(make_request(InviteMethod::kDirect, {id_of(1), id_of(2), id_of(3)}), 7, scoped);
  EXPECT_EQ(outcomes(outcome), (Outcomes{kAdded, kNotFound, kAdded}));
  const auto& user = tx.users.at(std::string(kKey));
  EXPECT_FALSE(tx.memberships.count({TargetKind::kWebsite, w2, user.ref.pk}));
}

TEST_F(RunBulkInvite, ScopedKeyWithEmptyAllowlistReachesNothing) {
  Principal scoped = global_principal();
  scoped.scoped = true;
  auto outcome = run(make_request(InviteMethod::kEmail, {id_of(1), id_of(2)}), 7, scoped);
  EXPECT_EQ(outcomes(outcome), (Outcomes{kNotFound, kNotFound}));
  EXPECT_TRUE(tx.batches.empty());
  EXPECT_TRUE(tx.emails.empty());
}

TEST_F(RunBulkInvite, DirectAddsGroupMemberships) {
  auto outcome = run(
      make_request(InviteMethod::kDirect, {id_of(12), id_of(13), id_of(11)}, TargetKind::kGroup));
  EXPECT_EQ(outcomes(outcome), (Outcomes{kAdded, kNotFound, kAdded}));
  const auto& user = tx.users.at(std::string(kKey));
  EXPECT_TRUE(tx.memberships.count({TargetKind::kGroup, g1, user.ref.pk}));
  EXPECT_TRUE(tx.memberships.count({TargetKind::kGroup, g2, user.ref.pk}));
  // A website id is not a group id.
  auto websites_as_groups =
      run(make_request(InviteMethod::kDirect, {id_of(1)}, TargetKind::kGroup, "bob@example.com"));
  EXPECT_EQ(outcomes(websites_as_groups), Outcomes{kNotFound});
}

TEST_F(RunBulkInvite, EmailCreatesOneBatchOneInvitePerTargetAndOneEmail) {
  auto outcome = run(make_request(InviteMethod::kEmail, {id_of(1), id_of(9), id_of(3)}), 7);

  EXPECT_EQ(outcomes(outcome), (Outcomes{kInvited, kNotFound, kInvited}));
  ASSERT_EQ(tx.batches.size(), 1u);
  const auto& batch = tx.batches[0];
  EXPECT_EQ(batch.batch.org_pk, kOrg);
  EXPECT_EQ(batch.batch.created_at, kNowSeconds);
  EXPECT_EQ(batch.batch.expires_at, kNowSeconds + 7 * 86400);
  EXPECT_EQ(batch.email_address, "Ann.Lee@Example.com");
  EXPECT_EQ(batch.first_name, "Ann");
  EXPECT_EQ(batch.last_name, "Lee");

  ASSERT_EQ(tx.invites.size(), 2u);
  Pk expected_targets[] = {w1, w3};
  for (std::size_t i = 0; i < 2; ++i) {
    const auto& invite = tx.invites[i];
    EXPECT_EQ(invite.batch_pk, batch.pk);
    EXPECT_EQ(invite.org_pk, kOrg);
    EXPECT_EQ(invite.email_key, kKey);
    EXPECT_EQ(invite.target.kind, TargetKind::kWebsite);
    EXPECT_EQ(invite.target.pk, expected_targets[i]);
    EXPECT_EQ(invite.role, Role::kAdmin);
    EXPECT_EQ(invite.created_at, kNowSeconds);
    EXPECT_EQ(invite.expires_at, batch.batch.expires_at);
  }
  EXPECT_EQ(outcome.results[0].id, tx.invites[0].id);
  EXPECT_EQ(outcome.results[2].id, tx.invites[1].id);
  EXPECT_NE(tx.invites[0].id, tx.invites[1].id);

  ASSERT_EQ(tx.emails.size(), 1u);
  const auto& email = tx.emails[0];
  EXPECT_EQ(email.batch_pk, batch.pk);
  EXPECT_EQ(email.to_address, "Ann.Lee@Example.com");
  EXPECT_EQ(email.created_at, kNowSeconds);
  // No token yet: the claim that sends the email mints it (the plan cannot even reach
  // set_batch_token: InvitePlanTx has no invitation topic).

  // Email mode never creates a user nor a membership.
  EXPECT_EQ(tx.user_inserts, 0);
  EXPECT_TRUE(tx.memberships.empty());
}

TEST_F(RunBulkInvite, EmailBatchesAndMessagesDifferPerRequest) {
  run(make_request(InviteMethod::kEmail, {id_of(1)}));
  run(make_request(InviteMethod::kEmail, {id_of(2)}, TargetKind::kWebsite, "bob@example.com"));
  ASSERT_EQ(tx.emails.size(), 2u);
  ASSERT_EQ(tx.batches.size(), 2u);
  EXPECT_NE(tx.batches[0].batch.id, tx.batches[1].batch.id);
  EXPECT_NE(tx.emails[0].message_id, tx.emails[1].message_id);
}

TEST_F(RunBulkInvite, EmailExpiryFollowsPolicy) {
  for (int days : {1, 7, 30}) {
    FakeTx fresh;
    fresh.add_website(kOrg, id_of(1));
    run_bulk_invite(fresh, global_principal(), make_request(InviteMethod::kEmail, {id_of(1)}),
                    InvitePolicy{.expiry_days = days}, kNow);
    ASSERT_EQ(fresh.batches.size(), 1u);
    EXPECT_EQ(fresh.batches[0].batch.expires_at, kNowSeconds + days * 86400) << days;
    ASSERT_EQ(fresh.invites.size(), 1u);
    EXPECT_EQ(fresh.invites[0].expires_at, kNowSeconds + days * 86400) << days;
  }
}

TEST_F(RunBulkInvite, EmailWritesNothingWhenNoTargetSucceeds) {
  auto outcome = run(make_request(InviteMethod::kEmail, {id_of(9), id_of(4), id_of(5)}));
  EXPECT_EQ(outcomes(outcome), (Outcomes{kNotFound, kNotFound, kNotFound}));
  EXPECT_TRUE(tx.batches.empty());
  EXPECT_TRUE(tx.invites.empty());
  EXPECT_TRUE(tx.emails.empty());
  EXPECT_TRUE(tx.closes.empty());
}

TEST_F(RunBulkInvite, EmailSkipsTargetsTheUserAlreadyHas) {
  UserRef user = tx.add_user(kKey);
  tx.memberships[{TargetKind::kWebsite, w1, user.pk}] = {Role::kViewer, 1};
  auto outcome = run(make_request(InviteMethod::kEmail, {id_of(1), id_of(2)}));
  EXPECT_EQ(outcomes(outcome), (Outcomes{kAlreadyMember, kInvited}));
  ASSERT_EQ(tx.invites.size(), 1u);
  EXPECT_EQ(tx.invites[0].target.pk, w2);
  EXPECT_EQ(tx.emails.size(), 1u);
}

TEST_F(RunBulkInvite, EmailWithOnlyExistingMembershipsSendsNothing) {
  UserRef user = tx.add_user(kKey);
  tx.memberships[{TargetKind::kWebsite, w1, user.pk}] = {Role::kViewer, 1};
  auto outcome = run(make_request(InviteMethod::kEmail, {id_of(1)}));
  EXPECT_EQ(outcomes(outcome), Outcomes{kAlreadyMember});
  EXPECT_TRUE(tx.batches.empty());
  EXPECT_TRUE(tx.emails.empty());
}

TEST_F(RunBulkInvite, EmailInvitesGroups) {
  auto outcome =
      run(make_request(InviteMethod::kEmail, {id_of(11), id_of(12)}, TargetKind::kGroup));
  EXPECT_EQ(outcomes(outcome), (Outcomes{kInvited, kInvited}));
  ASSERT_EQ(tx.invites.size(), 2u);
  EXPECT_EQ(tx.invites[0].target.kind, TargetKind::kGroup);
  EXPECT_EQ(tx.invites[0].target.pk, g1);
  EXPECT_EQ(tx.invites[1].target.pk, g2);
  EXPECT_EQ(tx.batches.size(), 1u);
  EXPECT_EQ(tx.emails.size(), 1u);
}

TEST_F(RunBulkInvite, DirectAcceptsPendingInvitesOfAddedTargets) {
  tx.add_pending_invite(kOrg, kKey, {TargetKind::kWebsite, w1});
  auto outcome = run(make_request(InviteMethod::kDirect, {id_of(1), id_of(2)}));
  EXPECT_EQ(outcomes(outcome), (Outcomes{kAdded, kAdded}));
  ASSERT_EQ(tx.closes.size(), 2u);
  for (const auto& close : tx.closes) {
    EXPECT_EQ(close.status, InviteStatus::kAccepted);
    EXPECT_EQ(close.email_key, kKey);
    EXPECT_EQ(close.now, kNowSeconds);
  }
  EXPECT_EQ(tx.closes[0].target.pk, w1);
  EXPECT_EQ(tx.closes[1].target.pk, w2);
  EXPECT_EQ(tx.invites[0].status, InviteStatus::kAccepted);
}

TEST_F(RunBulkInvite, EmailRevokesAndReplacesPendingInvites) {
  tx.add_pending_invite(kOrg, kKey, {TargetKind::kWebsite, w2});
  auto outcome = run(make_request(InviteMethod::kEmail, {id_of(2)}));
  EXPECT_EQ(outcomes(outcome), Outcomes{kInvited});
  ASSERT_EQ(tx.closes.size(), 1u);
  EXPECT_EQ(tx.closes[0].status, InviteStatus::kRevoked);
  EXPECT_EQ(tx.closes[0].target.pk, w2);
  ASSERT_EQ(tx.invites.size(), 2u);
  EXPECT_EQ(tx.invites[0].status, InviteStatus::kRevoked);
  EXPECT_EQ(tx.invites[1].status, InviteStatus::kPending);
  EXPECT_EQ(tx.invites[1].id, outcome.results[0].id);
}

TEST_F(RunBulkInvite, NoPendingInvitesMeansNoCloses) {
  // A pending invite in another organization does not count.
  tx.add_pending_invite(kOtherOrg, kKey, {TargetKind::kWebsite, 999});
  run(make_request(InviteMethod::kDirect, {id_of(1), id_of(2)}));
  run(make_request(InviteMethod::kEmail, {id_of(3)}));
  EXPECT_TRUE(tx.closes.empty());
  EXPECT_GE(tx.pending_checks, 1);
}

TEST_F(RunBulkInvite, PendingInvitesOfNotFoundOrMemberTargetsAreLeftAlone) {
  UserRef user = tx.add_user(kKey);
  tx.memberships[{TargetKind::kWebsite, w1, user.pk}] = {Role::kViewer, 1};
  tx.add_pending_invite(kOrg, kKey, {TargetKind::kWebsite, w3});
  run(make_request(InviteMethod::kDirect, {id_of(1), id_of(9)}));
  EXPECT_TRUE(tx.closes.empty());
  EXPECT_EQ(tx.invites[0].status, InviteStatus::kPending);
}

TEST_F(RunBulkInvite, OrganizationTargetIsOnlyThePrincipalsOwn) {
  auto principal = global_principal();
  auto outcome = run(make_request(InviteMethod::kDirect, {principal.org_id, id_of(201)},
                                  TargetKind::kOrganization));
  EXPECT_EQ(outcomes(outcome), (Outcomes{kAdded, kNotFound}));
  const auto& user = tx.users.at(std::string(kKey));
  auto it = tx.memberships.find({TargetKind::kOrganization, kOrg, user.ref.pk});
  ASSERT_NE(it, tx.memberships.end());
  EXPECT_EQ(it->second.role, Role::kAdmin);
}

TEST_F(RunBulkInvite, OrganizationMemberIsAlreadyMemberOfTheOrganization) {
  UserRef member = tx.add_user(kKey);
  tx.memberships[{TargetKind::kOrganization, kOrg, member.pk}] = {Role::kViewer, 1};
  auto outcome = run(
      make_request(InviteMethod::kEmail, {global_principal().org_id}, TargetKind::kOrganization));
  EXPECT_EQ(outcomes(outcome), Outcomes{kAlreadyMember});
  EXPECT_TRUE(tx.emails.empty());
}

}  // namespace
}  // namespace invited::domain
