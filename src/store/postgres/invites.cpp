// Invites: one per (email, target); at most one pending per pair (invites_one_pending).
#include <limits>

#include "store/postgres/list_page.hpp"
#include "store/postgres/transaction.hpp"
#include "store/postgres/values.hpp"

namespace invited::store::postgres {

using domain::Pk;
using domain::UnixSeconds;
using domain::Uuid;

namespace {

// Columns: pk, id, batch, email, kind, target pk, target id, role, status, delivery, created,
// expires, org
#define INVITED_INVITE_COLUMNS                                                               \
  "SELECT i.pk, i.id, i.batch_pk, b.email, i.target_kind, i.target_pk, "                     \
  "  coalesce(w.id, g.id, o.id), i.role, i.status, b.delivery, i.created_at, i.expires_at, " \
  "i.org_pk "
#define INVITED_INVITE_TARGETS                                              \
  "LEFT JOIN websites w ON i.target_kind = 1 AND w.pk = i.target_pk "       \
  "LEFT JOIN website_groups g ON i.target_kind = 2 AND g.pk = i.target_pk " \
  "LEFT JOIN organizations o ON i.target_kind = 0 AND o.pk = i.target_pk "
// An organization's invites, newest first, walked through its batches (migration 0004): batches
// by (created_at, id) from their index, each batch's invites (at most 50) by id.
#define INVITED_ORG_INVITES "FROM invite_batches b JOIN invites i ON i.batch_pk = b.pk "
// $1 org, $2 email key, $3 website id, $4 group id, $5 scoped key pk, $6 status, $7 now; a NULL
// parameter switches its filter off. An id that names no website (deleted or not) or no live
// group of the organization makes its subquery NULL, which matches no invite.
#define INVITED_INVITE_FILTER                                                                 \
  "WHERE b.org_pk = $1 AND ($2::text IS NULL OR i.email_key = $2) "                           \
  "AND ($3::uuid IS NULL OR (i.target_kind = 1 AND i.target_pk = "                            \
  "  (SELECT pk FROM websites WHERE id = $3 AND org_pk = $1))) "                              \
  "AND ($4::uuid IS NULL OR (i.target_kind = 2 AND i.target_pk = "                            \
  "  (SELECT pk FROM website_groups WHERE id = $4 AND org_pk = $1 AND deleted_at IS NULL))) " \
  "AND ($5::int8 IS NULL OR (i.target_kind = 1 AND i.target_pk IN "                           \
  "  (SELECT website_pk FROM api_key_websites WHERE key_pk = $5))) "                          \
  "AND ($6::int8 IS NULL OR (CASE WHEN i.status = 0 AND i.expires_at <= $7 THEN 3 "           \
  "  ELSE i.status END) = $6) "

domain::InviteRecord read_invite(const Result& rows, int row) {
  return domain::InviteRecord{.pk = rows.int64(row, 0),
                              .id = rows.uuid(row, 1),
                              .batch_pk = rows.int64(row, 2),
                              .email = rows.text(row, 3),
                              .kind = static_cast<domain::TargetKind>(rows.int64(row, 4)),
                              .target_pk = rows.int64(row, 5),
                              .target_id = rows.uuid(row, 6),
                              .role = static_cast<domain::Role>(rows.int64(row, 7)),
                              .status = static_cast<domain::InviteStatus>(rows.int64(row, 8)),
                              .delivery = static_cast<domain::Delivery>(rows.int64(row, 9)),
                              .created_at = rows.int64(row, 10),
                              .expires_at = rows.int64(row, 11),
                              .org_pk = rows.int64(row, 12)};
}

Params& add_invite_filter(Params& params, Pk org_pk, const domain::InviteFilter& filter) {
  params.add(org_pk).add(filter.email_key).add(filter.website_id).add(filter.group_id);
  params.add(filter.scoped_key_pk);
  if (filter.status) {
    params.add(code(*filter.status));
  } else {
    params.add_null(Type::kInt8);
  }
  return params.add(filter.now);
}

}  // namespace

std::optional<domain::InviteRecord> Transaction::find_invite(Pk org_pk, const Uuid& id) {
  static constexpr Statement kFind{
      "invites_find", INVITED_INVITE_COLUMNS
      "FROM invites i JOIN invite_batches b ON b.pk = i.batch_pk " INVITED_INVITE_TARGETS
      "WHERE i.id = $1 AND i.org_pk = $2"};
  Result rows = db_.query(kFind, Params().add(id).add(org_pk));
  if (rows.rows() == 0) return std::nullopt;
  return read_invite(rows, 0);
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
  // $8 limit, $9 offset, ($10, $11, $12) the position to start after. The first row-value
  // condition seeks the batch index; the second leaves out what precedes the cursor inside its
  // own batch.
  static constexpr Statement kList{
      "invites_list",
      INVITED_INVITE_COLUMNS INVITED_ORG_INVITES INVITED_INVITE_TARGETS INVITED_INVITE_FILTER
      "AND (b.created_at, b.id) <= ($10, $11) AND (b.created_at, b.id, i.id) < ($10, $11, $12) "
      "ORDER BY b.created_at DESC, b.id DESC, i.id DESC LIMIT $8 OFFSET $9"};
  static constexpr Statement kCount{"invites_count",
                                    "SELECT count(*) " INVITED_ORG_INVITES INVITED_INVITE_FILTER};
  // Any invite of the organization the key can see keeps its place, whether it matches the
  // filter or not (an invite accepted since it was seen still works as a cursor).
  static constexpr Statement kLocate{
      "invites_locate",
      "SELECT b.created_at, b.id, i.id FROM invites i JOIN invite_batches b ON b.pk = i.batch_pk "
      "WHERE i.id = $1 AND i.org_pk = $2 AND ($3::int8 IS NULL OR (i.target_kind = 1 AND "
      "i.target_pk IN (SELECT website_pk FROM api_key_websites WHERE key_pk = $3)))"};
  auto start = Position{std::numeric_limits<std::int64_t>::max(), {}, {}};
  return read_list<domain::InviteRecord>(
      request, start,
      [&](const Uuid& id) -> std::optional<Position> {
        Result rows = db_.query(kLocate, Params().add(id).add(org_pk).add(filter.scoped_key_pk));
        if (rows.rows() == 0) return std::nullopt;
        return Position{rows.int64(0, 0), rows.uuid(0, 1), rows.uuid(0, 2)};
      },
      [&](const Position& after, std::int64_t limit, std::int64_t offset,
          std::vector<domain::InviteRecord>& items) {
        Params params;
        add_invite_filter(params, org_pk, filter)
            .add(limit)
            .add(offset)
            .add(after.time)
            .add(after.batch_id)
            .add(after.id);
        Result rows = db_.query(kList, params);
        for (int row = 0; row < rows.rows(); ++row) items.push_back(read_invite(rows, row));
      },
      [&] {
        Params params;
        return db_.query(kCount, add_invite_filter(params, org_pk, filter)).int64(0, 0);
      });
}

bool Transaction::has_pending_invites(Pk org_pk, std::string_view email_key) {
  static constexpr Statement kAny{
      "invites_has_pending",
      "SELECT 1 FROM invites WHERE email_key = $2 AND status = 0 AND org_pk = $1 LIMIT 1"};
  return db_.query(kAny, Params().add(org_pk).add(email_key)).rows() > 0;
}

void Transaction::close_pending_invites(domain::Target target, std::string_view email_key,
                                        domain::InviteStatus status, UnixSeconds now) {
  static constexpr Statement kClose{
      "invites_close_pending",
      "UPDATE invites SET status = CASE WHEN expires_at <= $5 THEN 3 ELSE $4 END, closed_at = $5 "
      "WHERE email_key = $1 AND target_kind = $2 AND target_pk = $3 AND status = 0"};
  db_.query(
      kClose,
      Params().add(email_key).add(code(target.kind)).add(target.pk).add(code(status)).add(now));
}

void Transaction::insert_invite(const domain::NewInvite& invite) {
  static constexpr Statement kInsert{
      "invites_insert",
      "INSERT INTO invites(id, org_pk, batch_pk, email_key, target_kind, target_pk, role, "
      "created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"};
  db_.query(kInsert, Params()
                         .add(invite.id)
                         .add(invite.org_pk)
                         .add(invite.batch_pk)
                         .add(invite.email_key)
                         .add(code(invite.target.kind))
                         .add(invite.target.pk)
                         .add(code(invite.role))
                         .add(invite.created_at)
                         .add(invite.expires_at));
}

std::vector<domain::InviteRecord> Transaction::close_pending_invites_to(
    domain::TargetKind kind, std::span<const Pk> target_pks, std::string_view email_key,
    domain::InviteStatus status, UnixSeconds now) {
  // One statement: the update, and the closed invites as they are afterwards.
  static constexpr Statement kClose{
      "invites_close_pending_to",
      "WITH i AS (UPDATE invites SET status = CASE WHEN expires_at <= $5 THEN 3 ELSE $4 END, "
      "  closed_at = $5 "
      "  WHERE email_key = $1 AND target_kind = $2 AND target_pk = ANY ($3) AND status = 0 "
      "  RETURNING *) " INVITED_INVITE_COLUMNS
      "FROM i JOIN invite_batches b ON b.pk = i.batch_pk " INVITED_INVITE_TARGETS "ORDER BY i.pk"};
  std::vector<domain::InviteRecord> closed;
  if (target_pks.empty()) return closed;
  Result rows = db_.query(
      kClose, Params().add(email_key).add(code(kind)).add(target_pks).add(code(status)).add(now));
  for (int row = 0; row < rows.rows(); ++row) closed.push_back(read_invite(rows, row));
  return closed;
}

void Transaction::insert_invites(std::span<const domain::NewInvite> invites) {
  // One statement: a column array each, rows inserted in the given order (so their row keys
  // follow it).
  static constexpr Statement kInsert{
      "invites_insert_all",
      "INSERT INTO invites(id, org_pk, batch_pk, email_key, target_kind, target_pk, role, "
      "created_at, expires_at) "
      "SELECT id, org_pk, batch_pk, email_key, target_kind, target_pk, role, created_at, "
      "expires_at FROM unnest($1::uuid[], $2::int8[], $3::int8[], $4::text[], $5::int8[], "
      "$6::int8[], $7::int8[], $8::int8[], $9::int8[]) WITH ORDINALITY "
      "AS t(id, org_pk, batch_pk, email_key, target_kind, target_pk, role, created_at, "
      "expires_at, n) ORDER BY n"};
  if (invites.empty()) return;
  std::vector<Uuid> ids;
  std::vector<std::int64_t> org_pks, batch_pks, kinds, target_pks, roles, created, expires;
  std::vector<std::string> email_keys;
  for (const domain::NewInvite& invite : invites) {
    ids.push_back(invite.id);
    org_pks.push_back(invite.org_pk);
    batch_pks.push_back(invite.batch_pk);
    email_keys.emplace_back(invite.email_key);
    kinds.push_back(code(invite.target.kind));
    target_pks.push_back(invite.target.pk);
    roles.push_back(code(invite.role));
    created.push_back(invite.created_at);
    expires.push_back(invite.expires_at);
  }
  db_.query(kInsert, Params()
                         .add(ids)
                         .add(org_pks)
                         .add(batch_pks)
                         .add(email_keys)
                         .add(kinds)
                         .add(target_pks)
                         .add(roles)
                         .add(created)
                         .add(expires));
}

std::vector<domain::InviteRecord> Transaction::revoke_pending_invites(domain::Target target,
                                                                      UnixSeconds now) {
  static constexpr Statement kRevoke{
      "invites_revoke_pending",
      "WITH i AS (UPDATE invites SET status = $3, closed_at = $4 "
      "  WHERE target_kind = $1 AND target_pk = $2 AND status = 0 RETURNING "
      "*) " INVITED_INVITE_COLUMNS
      "FROM i JOIN invite_batches b ON b.pk = i.batch_pk " INVITED_INVITE_TARGETS "ORDER BY i.pk"};
  Result rows = db_.query(kRevoke, Params()
                                       .add(code(target.kind))
                                       .add(target.pk)
                                       .add(code(domain::InviteStatus::kRevoked))
                                       .add(now));
  std::vector<domain::InviteRecord> closed;
  for (int row = 0; row < rows.rows(); ++row) closed.push_back(read_invite(rows, row));
  return closed;
}

std::vector<domain::InviteRecord> Transaction::take_expired_invites(UnixSeconds now, int limit) {
  // Instances sweeping at once both read an invite; the second to mark it fails to serialize
  // and runs again, finding it recorded: each expiry is recorded once.
  static constexpr Statement kTake{
      "invites_take_expired",
      "WITH i AS (UPDATE invites SET expiry_recorded = true WHERE pk IN ("
      "  SELECT pk FROM invites WHERE status = 0 AND NOT expiry_recorded AND expires_at <= $1 "
      "  ORDER BY expires_at LIMIT $2) RETURNING *) " INVITED_INVITE_COLUMNS
      "FROM i JOIN invite_batches b ON b.pk = i.batch_pk " INVITED_INVITE_TARGETS
      "ORDER BY i.expires_at, i.pk"};
  Result rows = db_.query(kTake, Params().add(now).add(limit));
  std::vector<domain::InviteRecord> due;
  for (int row = 0; row < rows.rows(); ++row) due.push_back(read_invite(rows, row));
  return due;
}

std::vector<domain::InviteRecord> Transaction::list_batch_invites(Pk batch_pk) {
  static constexpr Statement kBatch{
      "invites_of_batch", INVITED_INVITE_COLUMNS
      "FROM invites i JOIN invite_batches b ON b.pk = i.batch_pk " INVITED_INVITE_TARGETS
      "WHERE i.batch_pk = $1 ORDER BY i.pk"};
  Result rows = db_.query(kBatch, Params().add(batch_pk));
  std::vector<domain::InviteRecord> invites;
  for (int row = 0; row < rows.rows(); ++row) invites.push_back(read_invite(rows, row));
  return invites;
}

void Transaction::close_invite(Pk invite_pk, domain::InviteStatus status, UnixSeconds now) {
  static constexpr Statement kClose{"invites_close",
                                    "UPDATE invites SET status = $2, closed_at = $3 WHERE pk = $1"};
  db_.query(kClose, Params().add(invite_pk).add(code(status)).add(now));
}

#undef INVITED_INVITE_COLUMNS
#undef INVITED_INVITE_TARGETS
#undef INVITED_ORG_INVITES
#undef INVITED_INVITE_FILTER

}  // namespace invited::store::postgres
