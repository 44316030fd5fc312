// Memberships: a user's role on an organization, a website or a group.
#include "store/postgres/member_rows.hpp"
#include "store/postgres/transaction.hpp"
#include "store/postgres/values.hpp"

namespace invited::store::postgres {

using domain::Pk;
using domain::UnixSeconds;

namespace {

// The statements of one membership table (organization_members, website_members,
// group_members): $1 is the target's row key, $2 the user's.
struct MembershipTable {
  Statement exists;
  Statement insert;  // $3 role, $4 created_at
  Statement role;
  Statement update;  // $3 role
  Statement member;  // the member row (member_rows.hpp)
  Statement remove;  // deletes the row and keeps its place in removed_memberships
  // The set-based twins: $1 the int8[] of target row keys, $2 the user; each returns the row
  // keys of the targets it found or inserted.
  Statement exists_any;
  Statement insert_all;  // $3 role, $4 created_at, $5 the user's id (no read of users)
};

// Deleting keeps the membership's place for cursors (migration 0004) in the same statement.
#define INVITED_MEMBERSHIP_TABLE(name, table, key, access, kind)                                 \
  MembershipTable {                                                                              \
    {"memberships_exists_" name, "SELECT 1 FROM " table " WHERE " key " = $1 AND user_pk = $2"}, \
        {"memberships_insert_" name,                                                             \
         "INSERT INTO " table "(" key                                                            \
         ", user_pk, role, created_at, user_id) "                                                \
         "SELECT $1, pk, $3, $4, id FROM users WHERE pk = $2 ON CONFLICT DO NOTHING"},           \
        {"memberships_role_" name,                                                               \
         "SELECT role FROM " table " WHERE " key " = $1 AND user_pk = $2"},                      \
        {"memberships_update_" name,                                                             \
         "UPDATE " table " SET role = $3 WHERE " key " = $1 AND user_pk = $2"},                  \
        {"memberships_member_" name,                                                             \
         INVITED_MEMBER_COLUMNS(access) " FROM " table                                           \
                                        " m JOIN users u ON u.pk = "                             \
                                        "m.user_pk WHERE m." key " = $1 AND m.user_pk = $2"},    \
        {"memberships_remove_" name,                                                             \
         "WITH gone AS (DELETE FROM " table " WHERE " key                                        \
         " = $1 AND user_pk = $2 RETURNING user_pk, created_at), "                               \
         "kept AS (INSERT INTO removed_memberships(target_kind, target_pk, user_pk, "            \
         "created_at, removed_at) SELECT " kind                                                  \
         ", $1, user_pk, created_at, extract(epoch FROM now())::int8 FROM gone "                 \
         "ON CONFLICT (target_kind, target_pk, user_pk) DO UPDATE SET "                          \
         "created_at = excluded.created_at, removed_at = excluded.removed_at) "                  \
         "SELECT count(*) FROM gone"},                                                           \
        {"memberships_exists_any_" name,                                                         \
         "SELECT " key " FROM " table " WHERE " key " = ANY ($1) AND user_pk = $2"},             \
        {"memberships_insert_all_" name,                                                         \
         "INSERT INTO " table "(" key                                                            \
         ", user_pk, role, created_at, user_id) "                                                \
         "SELECT t.pk, $2, $3, $4, $5 FROM unnest($1::int8[]) t(pk) "                            \
         "ON CONFLICT DO NOTHING RETURNING " key},                                               \
  }

const MembershipTable kOrganizationMembers =
    INVITED_MEMBERSHIP_TABLE("organization", "organization_members", "org_pk", "0", "0");
const MembershipTable kWebsiteMembers =
    INVITED_MEMBERSHIP_TABLE("website", "website_members", "website_pk", "2", "1");
const MembershipTable kGroupMembers =
    INVITED_MEMBERSHIP_TABLE("group", "group_members", "group_pk", "1", "2");
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
  return db_.query(membership_table(target.kind).exists, Params().add(target.pk).add(user_pk))
             .rows() > 0;
}

std::optional<domain::Role> Transaction::membership_role(domain::Target target, Pk user_pk) {
  Result rows = db_.query(membership_table(target.kind).role, Params().add(target.pk).add(user_pk));
  if (rows.rows() == 0) return std::nullopt;
  return static_cast<domain::Role>(rows.int64(0, 0));
}

std::optional<domain::Member> Transaction::find_member(domain::Target target, Pk user_pk) {
  Result rows =
      db_.query(membership_table(target.kind).member, Params().add(target.pk).add(user_pk));
  if (rows.rows() == 0) return std::nullopt;
  return read_member(rows, 0);
}

bool Transaction::has_any_membership(Pk org_pk, Pk user_pk) {
  static constexpr Statement kAny{
      "memberships_any",
      "SELECT EXISTS (SELECT 1 FROM organization_members WHERE org_pk = $1 AND user_pk = $2) "
      "OR EXISTS (SELECT 1 FROM website_members m JOIN websites w ON w.pk = m.website_pk "
      "  WHERE w.org_pk = $1 AND m.user_pk = $2) "
      "OR EXISTS (SELECT 1 FROM group_members m JOIN website_groups g ON g.pk = m.group_pk "
      "  WHERE g.org_pk = $1 AND m.user_pk = $2)"};
  return db_.query(kAny, Params().add(org_pk).add(user_pk)).boolean(0, 0);
}

bool Transaction::add_membership_if_absent(domain::Target target, Pk user_pk, domain::Role role,
                                           UnixSeconds now) {
  // The primary key (target, user) decides: concurrent units see exactly one insert.
  return db_.query(membership_table(target.kind).insert,
                   Params().add(target.pk).add(user_pk).add(code(role)).add(now))
             .affected() > 0;
}

namespace {

// One flag per target of `target_pks`: whether its row key is among the first column of `rows`.
std::vector<bool> flags_of(std::span<const Pk> target_pks, const Result& rows) {
  std::vector<bool> flags(target_pks.size(), false);
  for (int row = 0; row < rows.rows(); ++row) {
    const Pk pk = rows.int64(row, 0);
    for (std::size_t i = 0; i < target_pks.size(); ++i) {
      if (target_pks[i] == pk) flags[i] = true;
    }
  }
  return flags;
}

}  // namespace

std::vector<bool> Transaction::find_memberships(domain::TargetKind kind,
                                                std::span<const Pk> target_pks, Pk user_pk) {
  if (target_pks.empty()) return {};
  return flags_of(target_pks, db_.query(membership_table(kind).exists_any,
                                        Params().add(target_pks).add(user_pk)));
}

std::vector<bool> Transaction::add_memberships_if_absent(domain::TargetKind kind,
                                                         std::span<const Pk> target_pks,
                                                         const domain::UserRef& user,
                                                         domain::Role role, UnixSeconds now) {
  // One statement for all targets; the primary key decides each, as for one. The user's id
  // comes as a parameter rather than from a read of users: under SERIALIZABLE that read would
  // take a predicate lock on the newest page of users' key index, where every concurrent
  // request inserts its new user, and make concurrent requests fail each other.
  if (target_pks.empty()) return {};
  Params params;
  params.add(target_pks).add(user.pk).add(code(role)).add(now).add(user.id);
  return flags_of(target_pks, db_.query(membership_table(kind).insert_all, params));
}

void Transaction::set_membership_role(domain::Target target, Pk user_pk, domain::Role role) {
  db_.query(membership_table(target.kind).update,
            Params().add(target.pk).add(user_pk).add(code(role)));
}

bool Transaction::delete_membership(domain::Target target, Pk user_pk) {
  return db_.query(membership_table(target.kind).remove, Params().add(target.pk).add(user_pk))
             .int64(0, 0) > 0;
}

int Transaction::count_organization_owners(Pk org_pk) {
  static constexpr Statement kCount{
      "memberships_count_owners",
      "SELECT count(*) FROM organization_members WHERE org_pk = $1 AND role = 3"};
  return static_cast<int>(db_.query(kCount, Params().add(org_pk)).int64(0, 0));
}

}  // namespace invited::store::postgres
