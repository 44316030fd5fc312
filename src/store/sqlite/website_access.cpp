#include "store/sqlite/website_access.hpp"

namespace invited::store::sqlite {

using domain::AccessType;
using domain::Pk;
using domain::Role;

// The plan.
//
// A website's member list has one row per user who reaches the website, ordered by when they
// first gained access (through any path), then user id. Computing that for every user and
// sorting (what the page form does: a window over all grants) costs O(members log members) per
// page. Instead, every membership table has an index in list order, (target, created_at,
// user_id) — migration 0004 — so the grants that reach the website come out of the indexes
// already sorted, as k + 2 streams:
//
//   direct         website_members       (website_pk, created_at, user_id)
//   organization   organization_members  (org_pk, created_at, user_id)
//   each group g   group_members         (group_pk, created_at, user_id), for the k live groups
//                                        that hold the website (group_websites_by_website)
//
// Each stream is opened with a seek past the cursor, `(created_at, user_id) > (?, ?)`, and read
// one row at a time; the walk merges the streams by (created_at, user_id). A user with several
// grants appears in several streams, but their place in the list is their earliest grant, so a
// row is kept only when it is the user's earliest: point lookups on the primary keys
// (website_pk, user_pk), (org_pk, user_pk) and (group_pk, user_pk) for each of the k groups give
// every grant of that user, hence the earliest time and the strongest role. A row whose user has
// an earlier grant is skipped (that user was, or will be, listed at the earlier place); equal
// rows from two streams are adjacent in the merge and kept once.
//
// Cost of n users: (rows read) × (k + 1 statements, k + 3 lookups). The rows read are
// n plus the skipped ones: the later grants of users who also have an earlier one. When most
// people reach a website one way (the common case) that is about n; in the worst case (many users
// who reach it both through the organization and directly, granted at different times) a page
// also reads the later grants of users listed before it. Nothing here counts or ranks the whole
// list, so the first page of a website with 100,000 members costs what it costs with 100.
//
// The index names are pinned (INDEXED BY): a planner choice of the primary key would sort every
// member of the target to answer one page.
namespace {

constexpr const char* kLiveGroups =
    "SELECT gw.group_pk FROM group_websites gw INDEXED BY group_websites_by_website "
    "JOIN website_groups g ON g.pk = gw.group_pk "
    "WHERE gw.website_pk = ?1 AND g.deleted_at IS NULL ORDER BY gw.group_pk";

// Streams: ?1 the target, (?2, ?3) the position to start after.
constexpr const char* kDirectStream =
    "SELECT created_at, user_id, user_pk FROM website_members INDEXED BY website_members_by_time "
    "WHERE website_pk = ?1 AND (created_at, user_id) > (?2, ?3) ORDER BY created_at, user_id";
constexpr const char* kOrganizationStream =
    "SELECT created_at, user_id, user_pk FROM organization_members "
    "INDEXED BY organization_members_by_time "
    "WHERE org_pk = ?1 AND (created_at, user_id) > (?2, ?3) ORDER BY created_at, user_id";
constexpr const char* kGroupStream =
    "SELECT created_at, user_id, user_pk FROM group_members INDEXED BY group_members_by_time "
    "WHERE group_pk = ?1 AND (created_at, user_id) > (?2, ?3) ORDER BY created_at, user_id";

// Point lookups. The user ?1 with their direct grant on website ?2 and their organization
// grant in ?3 (NULL when absent), in one statement:
constexpr const char* kUserGrants =
    "SELECT u.id, u.email, u.first_name, u.last_name, u.email_verified, "
    "  d.role, d.created_at, o.role, o.created_at FROM users u "
    "LEFT JOIN website_members d ON d.website_pk = ?2 AND d.user_pk = u.pk "
    "LEFT JOIN organization_members o ON o.org_pk = ?3 AND o.user_pk = u.pk "
    "WHERE u.pk = ?1";
// ... and their grant on group ?1:
constexpr const char* kGroupGrant =
    "SELECT role, created_at FROM group_members WHERE group_pk = ?1 AND user_pk = ?2";

// Removed memberships of user ?1 that gave access to website ?2 of organization ?3.
constexpr const char* kFormerGrant =
    "SELECT MIN(created_at) FROM removed_memberships WHERE user_pk = ?1 AND ("
    "  (target_kind = 1 AND target_pk = ?2) OR (target_kind = 0 AND target_pk = ?3) OR "
    "  (target_kind = 2 AND target_pk IN "
    "    (SELECT group_pk FROM group_websites WHERE website_pk = ?2)))";

// Whether (role, access) beats the member's so far: the stronger role, then the more direct
// access.
bool stronger(Role role, AccessType access, const domain::Member& than) {
  if (role != than.role) return role > than.role;
  return access > than.access_type;
}

}  // namespace

WebsiteAccess::WebsiteAccess(Connection& db, StatementPool& pool, Pk org_pk, Pk website_pk)
    : db_(db), pool_(pool), org_pk_(org_pk), website_pk_(website_pk) {
  auto rows = db_.query(kLiveGroups);
  rows.bind(1, website_pk_);
  while (rows.step()) group_pks_.push_back(rows.int64(0));
}

std::optional<WebsiteAccess::Grant> WebsiteAccess::of(Pk user_pk) {
  Grant grant{user_pk, {}};
  auto& member = grant.member;
  bool reaches = false;
  auto consider = [&](Role role, AccessType access, domain::UnixSeconds since) {
    if (!reaches) {
      member.role = role;
      member.access_type = access;
      member.created_at = since;
      reaches = true;
      return;
    }
    member.created_at = std::min(member.created_at, since);
    if (stronger(role, access, member)) {
      member.role = role;
      member.access_type = access;
    }
  };
  {
    auto row = db_.query(kUserGrants);
    row.bind(1, user_pk).bind(2, website_pk_).bind(3, org_pk_);
    if (!row.step()) return std::nullopt;
    member.user_id = row.uuid(0);
    member.email = row.text(1);
    member.first_name = row.optional_text(2);
    member.last_name = row.optional_text(3);
    member.email_verified = row.int64(4) != 0;
    if (!row.is_null(5)) {
      consider(static_cast<Role>(row.int64(5)), AccessType::kWebsite, row.int64(6));
    }
    if (!row.is_null(7)) {
      consider(static_cast<Role>(row.int64(7)), AccessType::kOrganization, row.int64(8));
    }
  }
  for (Pk group_pk : group_pks_) {
    auto row = db_.query(kGroupGrant);
    row.bind(1, group_pk).bind(2, user_pk);
    if (row.step()) consider(static_cast<Role>(row.int64(0)), AccessType::kGroup, row.int64(1));
  }
  if (!reaches) return std::nullopt;
  return grant;
}

std::optional<domain::UnixSeconds> WebsiteAccess::former(Pk user_pk) {
  auto row = db_.query(kFormerGrant);
  row.bind(1, user_pk).bind(2, website_pk_).bind(3, org_pk_);
  if (!row.step() || row.is_null(0)) return std::nullopt;
  return row.int64(0);
}

// One index stream: the connection's cached statement, or for the groups (several streams of
// one query at once) a statement of the pool.
struct WebsiteAccess::Walk::Stream {
  Stream(Connection& db, const char* sql, Pk target_pk, const ListPosition& after,
         Statement* pooled)
      : after_id(after.id) {
    if (pooled) {
      cursor = std::make_unique<Cursor>(*pooled);
    } else {
      cursor.reset(new Cursor(db.query(sql)));
    }
    cursor->bind(1, target_pk).bind(2, after.time).bind(3, after_id);
    advance();
  }

  void advance() {
    head.reset();
    if (cursor->step()) head = Row{{cursor->int64(0), cursor->uuid(1)}, cursor->int64(2)};
  }

  struct Row {
    ListPosition position;
    Pk user_pk;
  };
  domain::Uuid after_id;  // bound without a copy: must outlive the cursor
  std::unique_ptr<Cursor> cursor;
  std::optional<Row> head;
};

WebsiteAccess::Walk::Walk(WebsiteAccess& access, const ListPosition& after) : access_(access) {
  streams_.push_back(
      std::make_unique<Stream>(access_.db_, kDirectStream, access_.website_pk_, after, nullptr));
  streams_.push_back(
      std::make_unique<Stream>(access_.db_, kOrganizationStream, access_.org_pk_, after, nullptr));
  auto& pool = access_.pool_;
  for (Pk group_pk : access_.group_pks_) {
    if (pooled_ == pool.size()) {
      pool.push_back(std::make_unique<Statement>(access_.db_.handle(), kGroupStream));
    }
    streams_.push_back(std::make_unique<Stream>(access_.db_, kGroupStream, group_pk, after,
                                                pool[pooled_++].get()));
  }
}

WebsiteAccess::Walk::~Walk() = default;

WebsiteAccess::Walk WebsiteAccess::walk(const ListPosition& after) { return Walk(*this, after); }

std::optional<WebsiteAccess::Grant> WebsiteAccess::Walk::next() {
  for (;;) {
    Stream* lowest = nullptr;
    for (auto& stream : streams_) {
      if (stream->head && (!lowest || stream->head->position < lowest->head->position)) {
        lowest = stream.get();
      }
    }
    if (!lowest) return std::nullopt;
    auto row = *lowest->head;
    lowest->advance();
    if (last_ && row.position == *last_) continue;  // the same user, granted twice at once
    auto grant = access_.of(row.user_pk);
    // Kept only at the user's earliest grant; a later one is skipped.
    if (!grant || grant->member.created_at != row.position.time) continue;
    last_ = row.position;
    return grant;
  }
}

}  // namespace invited::store::sqlite
