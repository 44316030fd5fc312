-- compatibility: compatible
-- A claim names the instance that holds it (claimed_by), so that on PostgreSQL, where several
-- instances serve one database, a claim whose instance died is free at once instead of at the end
-- of its lease. The twin of src/store/postgres/migrations/0008_outbox_claimant.sql, so both
-- stores keep one schema. SQLite has one serving process, which ends every claim it finds when it
-- starts: the SQLite store leaves the column NULL.
ALTER TABLE outbox_emails ADD COLUMN claimed_by INTEGER;
