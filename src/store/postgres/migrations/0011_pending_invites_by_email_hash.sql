-- compatibility: compatible
-- invited schema, version 11: the PostgreSQL twin of
-- src/store/sqlite/migrations/0011_pending_invites_by_email_hash.sql.
-- Every invite request first asks whether the address has a pending invite in the organization
-- (has_pending_invites). Under SERIALIZABLE that read locks the index pages it visits, and in the
-- btree led by the email those are the pages where neighbouring addresses' new invites go: a
-- burst of invitations to consecutive addresses (an import, a benchmark) cancelled about one
-- request in two. A hash index places each address in a bucket of its own, so the read conflicts
-- only with invites to the same address (or the rare address in the same bucket). The unique
-- index is reordered to lead with the target, so the planner reads an address's pending invites
-- through the hash index; it also serves what invites_pending_by_target served (a deleted
-- target's pending invites), which goes.
-- Compatible (an older binary's statements work on it: ON CONFLICT names the columns as a set),
-- but not online: the index builds hold the invites table's write lock until the migration
-- commits, so on a large table run `invited migrate` at a quiet moment before the rolling start.
CREATE INDEX invites_pending_by_email ON invites USING hash (email_key) WHERE status = 0;
DROP INDEX invites_one_pending;
CREATE UNIQUE INDEX invites_one_pending ON invites(target_kind, target_pk, email_key)
  WHERE status = 0;
DROP INDEX invites_pending_by_target;
