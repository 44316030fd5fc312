// The invites topic (domain/invite_store.hpp).
#include <limits>

#include "store/sqlite/list_page.hpp"
#include "store/sqlite/transaction.hpp"

namespace invited::store::sqlite {

using domain::Pk;
using domain::UnixSeconds;
using domain::Uuid;

namespace {

// Columns: pk, id, batch, email, kind, target pk, target id, role, status, delivery, created,
// expires, org
#define INVITED_INVITE_COLUMNS                                                               \
  "SELECT i.pk, i.id, i.batch_pk, b.email, i.target_kind, i.target_pk, "                     \
  "  COALESCE(w.id, g.id, o.id), i.role, i.status, b.delivery, i.created_at, i.expires_at, " \
  "i.org_pk "
#define INVITED_INVITE_TARGETS                                              \
  "LEFT JOIN websites w ON i.target_kind = 1 AND w.pk = i.target_pk "       \
  "LEFT JOIN website_groups g ON i.target_kind = 2 AND g.pk = i.target_pk " \
  "LEFT JOIN organizations o ON i.target_kind = 0 AND o.pk = i.target_pk "
// An organization's invites, newest first, walked through its batches (see migration 0004):
// batches by (created_at, id) from their index, each batch's invites (at most 50) sorted by id.
#define INVITED_ORG_INVITES                                  \
  "FROM invite_batches b INDEXED BY invite_batches_by_time " \
  "CROSS JOIN invites i INDEXED BY invites_by_batch ON i.batch_pk = b.pk "

domain::InviteRecord read_invite(const Cursor& row) {
  return domain::InviteRecord{.pk = row.int64(0),
                              .id = row.uuid(1),
                              .batch_pk = row.int64(2),
                              .email = row.text(3),
                              .kind = static_cast<domain::TargetKind>(row.int64(4)),
                              .target_pk = row.int64(5),
                              .target_id = row.uuid(6),
                              .role = static_cast<domain::Role>(row.int64(7)),
                              .status = static_cast<domain::InviteStatus>(row.int64(8)),
                              .delivery = static_cast<domain::Delivery>(row.int64(9)),
                              .created_at = row.int64(10),
                              .expires_at = row.int64(11),
                              .org_pk = row.int64(12)};
}

// ?1 org, ?2 email key, ?3 website id, ?4 group id, ?5 scoped key pk, ?6 status, ?7 now; a NULL
// parameter switches its filter off. An id that names no website (deleted or not) or no live
// group of the organization makes its subquery NULL, which matches no invite.
#define INVITED_INVITE_FILTER                                                                    \
  "WHERE b.org_pk = ?1 AND (?2 IS NULL OR i.email_key = ?2) "                                    \
  "AND (?3 IS NULL OR (i.target_kind = 1 AND i.target_pk = "                                     \
  "  (SELECT pk FROM websites WHERE id = ?3 AND org_pk = ?1))) "                                 \
  "AND (?4 IS NULL OR (i.target_kind = 2 AND i.target_pk = "                                     \
  "  (SELECT pk FROM website_groups WHERE id = ?4 AND org_pk = ?1 AND deleted_at IS NULL))) "    \
  "AND (?5 IS NULL OR (i.target_kind = 1 AND i.target_pk IN "                                    \
  "  (SELECT website_pk FROM api_key_websites WHERE key_pk = ?5))) "                             \
  "AND (?6 IS NULL OR (CASE WHEN i.status = 0 AND i.expires_at <= ?7 THEN 3 ELSE i.status END) " \
  "  = ?6) "

void bind_invite_filter(Cursor& row, Pk org_pk, const domain::InviteFilter& filter) {
  row.bind(1, org_pk);
  if (filter.email_key) row.bind(2, *filter.email_key);
  if (filter.website_id) row.bind(3, *filter.website_id);
  if (filter.group_id) row.bind(4, *filter.group_id);
  row.bind(5, filter.scoped_key_pk);
  if (filter.status) row.bind(6, static_cast<int>(*filter.status));
  row.bind(7, filter.now);
}

}  // namespace

std::optional<domain::InviteRecord> Transaction::find_invite(Pk org_pk, const Uuid& id) {
  static constexpr const char* kFind = INVITED_INVITE_COLUMNS
      "FROM invites i JOIN invite_batches b ON b.pk = i.batch_pk " INVITED_INVITE_TARGETS
      "WHERE i.id = ?1 AND i.org_pk = ?2";
  auto row = db_.query(kFind);
  row.bind(1, id).bind(2, org_pk);
  if (!row.step()) return std::nullopt;
  return read_invite(row);
}

domain::Page<domain::InviteRecord> Transaction::list_invites(Pk org_pk,
                                                             const domain::InviteFilter& filter,
                                                             const domain::ListRequest& request) {
  // The position of an invite in the list: (batch created_at, batch id, invite id), descending.
  struct Position {
    std::int64_t time = 0;
    Uuid batch_id;
    Uuid id;
  };
  // ?8 limit, ?9 offset, (?10, ?11, ?12) the position to start after. The first row-value
  // condition seeks the batch index; the second leaves out what precedes the cursor inside its
  // own batch. SQLite sorts each batch's invites as it reaches them ("temp b-tree for right
  // part of ORDER BY") and stops at the LIMIT.
  static constexpr const char* kList =
      INVITED_INVITE_COLUMNS INVITED_ORG_INVITES INVITED_INVITE_TARGETS INVITED_INVITE_FILTER
      "AND (b.created_at, b.id) <= (?10, ?11) AND (b.created_at, b.id, i.id) < (?10, ?11, ?12) "
      "ORDER BY b.created_at DESC, b.id DESC, i.id DESC LIMIT ?8 OFFSET ?9";
  static constexpr const char* kCount =
      "SELECT COUNT(*) " INVITED_ORG_INVITES INVITED_INVITE_FILTER;
  // Any invite of the organization the key can see keeps its place, whether it matches the
  // filter or not (an invite accepted since it was seen still works as a cursor).
  static constexpr const char* kLocate =
      "SELECT b.created_at, b.id, i.id FROM invites i JOIN invite_batches b ON b.pk = i.batch_pk "
      "WHERE i.id = ?1 AND i.org_pk = ?2 AND (?3 IS NULL OR (i.target_kind = 1 AND i.target_pk "
      "IN (SELECT website_pk FROM api_key_websites WHERE key_pk = ?3)))";
  auto start = Position{std::numeric_limits<std::int64_t>::max(), {}, {}};
  return read_list<domain::InviteRecord>(
      request, start,
      [&](const Uuid& id) -> std::optional<Position> {
        auto row = db_.query(kLocate);
        row.bind(1, id).bind(2, org_pk).bind(3, filter.scoped_key_pk);
        if (!row.step()) return std::nullopt;
        return Position{row.int64(0), row.uuid(1), row.uuid(2)};
      },
      [&](const Position& after, std::int64_t limit, std::int64_t offset,
          std::vector<domain::InviteRecord>& items) {
        auto rows = db_.query(kList);
        bind_invite_filter(rows, org_pk, filter);
        rows.bind(8, limit)
            .bind(9, offset)
            .bind(10, after.time)
            .bind(11, after.batch_id)
            .bind(12, after.id);
        while (rows.step()) items.push_back(read_invite(rows));
      },
      [&] {
        auto row = db_.query(kCount);
        bind_invite_filter(row, org_pk, filter);
        return row.step() ? row.int64(0) : 0;
      });
}

bool Transaction::has_pending_invites(Pk org_pk, std::string_view email_key) {
  static constexpr const char* kAny =
      // Pinned to its index: the planner once picked an index on the organization and scanned
      // every invite of it, which turned email mode from thousands of requests/s into hundreds.
      "SELECT 1 FROM invites INDEXED BY invites_one_pending "
      "WHERE email_key = ?2 AND status = 0 AND org_pk = ?1 LIMIT 1";
  auto row = db_.query(kAny);
  row.bind(1, org_pk).bind(2, email_key);
  return row.step();
}

void Transaction::close_pending_invites(domain::Target target, std::string_view email_key,
                                        domain::InviteStatus status, UnixSeconds now) {
  static constexpr const char* kClose =
      "UPDATE invites SET status = CASE WHEN expires_at <= ?5 THEN 3 ELSE ?4 END, closed_at = ?5 "
      "WHERE email_key = ?1 AND target_kind = ?2 AND target_pk = ?3 AND status = 0";
  auto row = db_.query(kClose);
  row.bind(1, email_key)
      .bind(2, static_cast<int>(target.kind))
      .bind(3, target.pk)
      .bind(4, static_cast<int>(status))
      .bind(5, now)
      .execute();
}

Pk Transaction::insert_batch(const domain::NewBatch& batch) {
  // No token yet (the claim of its email mints one): random bytes, the hash of no token, keep
  // token_hash UNIQUE and NOT NULL.
  static constexpr const char* kInsert =
      "INSERT INTO invite_batches(id, org_pk, email, first_name, last_name, token_hash, "
      "created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, randomblob(32), ?6, ?7) RETURNING pk";
  auto row = db_.query(kInsert);
  row.bind(1, batch.id)
      .bind(2, batch.org_pk)
      .bind(3, batch.email_address)
      .bind(4, batch.first_name)
      .bind(5, batch.last_name)
      .bind(6, batch.created_at)
      .bind(7, batch.expires_at);
  row.step();
  return row.int64(0);
}

void Transaction::insert_invite(const domain::NewInvite& invite) {
  static constexpr const char* kInsert =
      "INSERT INTO invites(id, org_pk, batch_pk, email_key, target_kind, target_pk, role, "
      "created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
  db_.query(kInsert)
      .bind(1, invite.id)
      .bind(2, invite.org_pk)
      .bind(3, invite.batch_pk)
      .bind(4, invite.email_key)
      .bind(5, static_cast<int>(invite.target.kind))
      .bind(6, invite.target.pk)
      .bind(7, static_cast<int>(invite.role))
      .bind(8, invite.created_at)
      .bind(9, invite.expires_at)
      .execute();
}

// In process, the set-based operations are the single statements in a loop (no round trips
// to save). The invites to close are read first, for the caller's events.
std::vector<domain::InviteRecord> Transaction::close_pending_invites_to(
    domain::TargetKind kind, std::span<const Pk> target_pks, std::string_view email_key,
    domain::InviteStatus status, UnixSeconds now) {
  static constexpr const char* kPending = INVITED_INVITE_COLUMNS
      "FROM invites i JOIN invite_batches b ON b.pk = i.batch_pk " INVITED_INVITE_TARGETS
      "WHERE i.email_key = ?1 AND i.target_kind = ?2 AND i.target_pk = ?3 AND i.status = 0";
  std::vector<domain::InviteRecord> closed;
  for (Pk pk : target_pks) {
    {
      auto rows = db_.query(kPending);
      rows.bind(1, email_key).bind(2, static_cast<int>(kind)).bind(3, pk);
      while (rows.step()) closed.push_back(read_invite(rows));
    }
    close_pending_invites({kind, pk}, email_key, status, now);
  }
  for (auto& invite : closed) {
    invite.status = invite.effective_status(now) == domain::InviteStatus::kExpired
                        ? domain::InviteStatus::kExpired
                        : status;
  }
  return closed;
}

void Transaction::insert_invites(std::span<const domain::NewInvite> invites) {
  for (const domain::NewInvite& invite : invites) insert_invite(invite);
}

void Transaction::close_invite(Pk invite_pk, domain::InviteStatus status, UnixSeconds now) {
  static constexpr const char* kClose =
      "UPDATE invites SET status = ?2, closed_at = ?3 WHERE pk = ?1";
  db_.query(kClose).bind(1, invite_pk).bind(2, static_cast<int>(status)).bind(3, now).execute();
}

std::vector<domain::InviteRecord> Transaction::revoke_pending_invites(domain::Target target,
                                                                      UnixSeconds now) {
  static constexpr const char* kPending = INVITED_INVITE_COLUMNS
      "FROM invites i INDEXED BY invites_pending_by_target "
      "JOIN invite_batches b ON b.pk = i.batch_pk " INVITED_INVITE_TARGETS
      "WHERE i.target_kind = ?1 AND i.target_pk = ?2 AND i.status = 0";
  static constexpr const char* kRevoke =
      "UPDATE invites INDEXED BY invites_pending_by_target SET status = ?3, closed_at = ?4 "
      "WHERE target_kind = ?1 AND target_pk = ?2 AND status = 0";
  std::vector<domain::InviteRecord> closed;
  {
    auto rows = db_.query(kPending);
    rows.bind(1, static_cast<int>(target.kind)).bind(2, target.pk);
    while (rows.step()) closed.push_back(read_invite(rows));
  }
  db_.query(kRevoke)
      .bind(1, static_cast<int>(target.kind))
      .bind(2, target.pk)
      .bind(3, static_cast<int>(domain::InviteStatus::kRevoked))
      .bind(4, now)
      .execute();
  for (auto& invite : closed) invite.status = domain::InviteStatus::kRevoked;
  return closed;
}

std::vector<domain::InviteRecord> Transaction::take_expired_invites(UnixSeconds now, int limit) {
  static constexpr const char* kDue = INVITED_INVITE_COLUMNS
      "FROM invites i INDEXED BY invites_expiring "
      "JOIN invite_batches b ON b.pk = i.batch_pk " INVITED_INVITE_TARGETS
      "WHERE i.status = 0 AND i.expiry_recorded = 0 AND i.expires_at <= ?1 "
      "ORDER BY i.expires_at LIMIT ?2";
  static constexpr const char* kMark = "UPDATE invites SET expiry_recorded = 1 WHERE pk = ?1";
  std::vector<domain::InviteRecord> due;
  {
    auto rows = db_.query(kDue);
    rows.bind(1, now).bind(2, limit);
    while (rows.step()) due.push_back(read_invite(rows));
  }
  for (const auto& expired : due) db_.query(kMark).bind(1, expired.pk).execute();
  return due;
}

std::vector<domain::InviteRecord> Transaction::list_batch_invites(Pk batch_pk) {
  static constexpr const char* kBatch = INVITED_INVITE_COLUMNS
      "FROM invites i INDEXED BY invites_by_batch JOIN invite_batches b ON b.pk = "
      "i.batch_pk " INVITED_INVITE_TARGETS "WHERE i.batch_pk = ?1 ORDER BY i.pk";
  std::vector<domain::InviteRecord> invites;
  auto rows = db_.query(kBatch);
  rows.bind(1, batch_pk);
  while (rows.step()) invites.push_back(read_invite(rows));
  return invites;
}

#undef INVITED_INVITE_COLUMNS
#undef INVITED_INVITE_TARGETS
#undef INVITED_ORG_INVITES
#undef INVITED_INVITE_FILTER

}  // namespace invited::store::sqlite
