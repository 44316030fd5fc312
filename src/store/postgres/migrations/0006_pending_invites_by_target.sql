-- compatibility: compatible
-- invited schema, version 6: the PostgreSQL twin of
-- src/store/sqlite/migrations/0006_pending_invites_by_target.sql.
-- Deleting a website or a group revokes its pending invites: this finds them without scanning
-- the organization's invites. Partial, so it holds only the pending invites (closed ones are
-- most of the table and never looked up by target).
CREATE INDEX invites_pending_by_target ON invites(target_kind, target_pk) WHERE status = 0;
