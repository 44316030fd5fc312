-- compatibility: compatible
-- invited schema, version 11: nothing to change on SQLite, which runs one writer at a time and
-- locks no index pages. Its twin, src/store/postgres/migrations/0011_pending_invites_by_email_hash.sql,
-- gives PostgreSQL a hash index of pending invites by address, so that concurrent invitations to
-- neighbouring addresses no longer cancel each other under SERIALIZABLE.
SELECT 1;
