-- invited schema, version 8: the PostgreSQL twin of
-- src/store/sqlite/migrations/0008_outbox_claimant.sql.
-- A claim names the instance that holds it. Each serving instance holds a session advisory lock
-- on its own random id for as long as it lives (store/postgres/instance_lock.hpp), so another
-- instance can tell at once whether a claimant is still there: a claim whose claimant no longer
-- holds its lock is free at once, and the lease (claimed_until, at most 30 s, renewed while a
-- send lasts, measured on the database's clock) only covers an instance that hangs while its
-- connection lives. NULL for claims made before this version, which keep their lease.
-- Older binaries never read the added column (NULL by default) and keep working on this schema.
ALTER TABLE outbox_emails ADD COLUMN claimed_by bigint;
