// The memberships topic (domain/membership_store.hpp).
#include "store/sqlite/list_page.hpp"
#include "store/sqlite/member_rows.hpp"
#include "store/sqlite/transaction.hpp"

namespace invited::store::sqlite {

using domain::Pk;
using domain::UnixSeconds;

namespace {

// The statements of one membership table (organization_members, website_members,
// group_members): ?1 is the target's row key, ?2 the user's.
struct MembershipTable {
  const char* exists_sql;
  const char* insert_sql;  // ?3 role, ?4 created_at
  const char* role_sql;
  const char* update_sql;  // ?3 role
  const char* delete_sql;
  const char* member_sql;    // the member row (see read_member)
  const char* remember_sql;  // keeps the membership's place in removed_memberships
};

#define INVITED_MEMBERSHIP_TABLE(table, key, access, kind)                                    \
  MembershipTable {                                                                           \
    "SELECT 1 FROM " table " WHERE " key " = ?1 AND user_pk = ?2",                            \
        "INSERT INTO " table "(" key                                                          \
        ", user_pk, role, created_at, user_id) "                                              \
        "VALUES (?1, ?2, ?3, ?4, (SELECT id FROM users WHERE pk = ?2)) "                      \
        "ON CONFLICT DO NOTHING",                                                             \
        "SELECT role FROM " table " WHERE " key " = ?1 AND user_pk = ?2",                     \
        "UPDATE " table " SET role = ?3 WHERE " key " = ?1 AND user_pk = ?2",                 \
        "DELETE FROM " table " WHERE " key " = ?1 AND user_pk = ?2",                          \
        "SELECT u.id, u.email, u.first_name, u.last_name, u.email_verified, m.role, " access  \
        ", m.created_at FROM " table                                                          \
        " m JOIN users u ON u.pk = m.user_pk "                                                \
        "WHERE m." key " = ?1 AND m.user_pk = ?2",                                            \
        "INSERT INTO removed_memberships(target_kind, target_pk, user_pk, created_at, "       \
        "removed_at) SELECT " kind ", " key                                                   \
        ", user_pk, created_at, "                                                             \
        "CAST(strftime('%s', 'now') AS INTEGER) FROM " table " WHERE " key                    \
        " = ?1 AND user_pk = ?2 ON CONFLICT DO UPDATE SET created_at = excluded.created_at, " \
        "removed_at = excluded.removed_at"                                                    \
  }

constexpr MembershipTable kOrganizationMembers =
    INVITED_MEMBERSHIP_TABLE("organization_members", "org_pk", "0", "0");
constexpr MembershipTable kWebsiteMembers =
    INVITED_MEMBERSHIP_TABLE("website_members", "website_pk", "2", "1");
constexpr MembershipTable kGroupMembers =
    INVITED_MEMBERSHIP_TABLE("group_members", "group_pk", "1", "2");
#undef INVITED_MEMBERSHIP_TABLE

const MembershipTable& membership_table(domain::TargetKind kind) {
  switch (kind) {
    case domain::TargetKind::kOrganization:
      return kOrganizationMembers;
    case domain::TargetKind::kWebsite:
      return kWebsiteMembers;
    case domain::TargetKind::kGroup:
      return kGroupMembers;
  }
  return kWebsiteMembers;
}

}  // namespace

bool Transaction::has_membership(domain::Target target, Pk user_pk) {
  auto row = db_.query(membership_table(target.kind).exists_sql);
  row.bind(1, target.pk).bind(2, user_pk);
  return row.step();
}

std::optional<domain::Role> Transaction::membership_role(domain::Target target, Pk user_pk) {
  auto row = db_.query(membership_table(target.kind).role_sql);
  row.bind(1, target.pk).bind(2, user_pk);
  if (!row.step()) return std::nullopt;
  return static_cast<domain::Role>(row.int64(0));
}

std::optional<domain::Member> Transaction::find_member(domain::Target target, Pk user_pk) {
  auto row = db_.query(membership_table(target.kind).member_sql);
  row.bind(1, target.pk).bind(2, user_pk);
  if (!row.step()) return std::nullopt;
  return read_member(row);
}

bool Transaction::has_any_membership(Pk org_pk, Pk user_pk) {
  static constexpr const char* kAny =
      "SELECT EXISTS (SELECT 1 FROM organization_members WHERE org_pk = ?1 AND user_pk = ?2) "
      "OR EXISTS (SELECT 1 FROM website_members m JOIN websites w ON w.pk = m.website_pk "
      "  WHERE w.org_pk = ?1 AND m.user_pk = ?2) "
      "OR EXISTS (SELECT 1 FROM group_members m JOIN website_groups g ON g.pk = m.group_pk "
      "  WHERE g.org_pk = ?1 AND m.user_pk = ?2)";
  auto row = db_.query(kAny);
  row.bind(1, org_pk).bind(2, user_pk);
  return row.step() && row.int64(0) != 0;
}

bool Transaction::add_membership_if_absent(domain::Target target, Pk user_pk, domain::Role role,
                                           UnixSeconds now) {
  auto row = db_.query(membership_table(target.kind).insert_sql);
  row.bind(1, target.pk).bind(2, user_pk).bind(3, static_cast<int>(role)).bind(4, now);
  return row.execute() > 0;
}

// In process, the set-based operations are the single statements in a loop (no round trips
// to save).
std::vector<bool> Transaction::find_memberships(domain::TargetKind kind,
                                                std::span<const Pk> target_pks, Pk user_pk) {
  std::vector<bool> flags;
  flags.reserve(target_pks.size());
  for (Pk pk : target_pks) flags.push_back(has_membership({kind, pk}, user_pk));
  return flags;
}

std::vector<bool> Transaction::add_memberships_if_absent(domain::TargetKind kind,
                                                         std::span<const Pk> target_pks,
                                                         const domain::UserRef& user,
                                                         domain::Role role, UnixSeconds now) {
  std::vector<bool> added;
  added.reserve(target_pks.size());
  for (Pk pk : target_pks)
    added.push_back(add_membership_if_absent({kind, pk}, user.pk, role, now));
  return added;
}

void Transaction::set_membership_role(domain::Target target, Pk user_pk, domain::Role role) {
  db_.query(membership_table(target.kind).update_sql)
      .bind(1, target.pk)
      .bind(2, user_pk)
      .bind(3, static_cast<int>(role))
      .execute();
}

bool Transaction::delete_membership(domain::Target target, Pk user_pk) {
  // The member's place in the lists outlives the membership, for cursors (migration 0004).
  db_.query(membership_table(target.kind).remember_sql)
      .bind(1, target.pk)
      .bind(2, user_pk)
      .execute();
  return db_.query(membership_table(target.kind).delete_sql)
             .bind(1, target.pk)
             .bind(2, user_pk)
             .execute() > 0;
}

int Transaction::count_organization_owners(Pk org_pk) {
  static constexpr const char* kCount =
      "SELECT COUNT(*) FROM organization_members WHERE org_pk = ?1 AND role = 3";
  return static_cast<int>(count_rows(db_, kCount, org_pk));
}

}  // namespace invited::store::sqlite
