-- compatibility: compatible
-- invited schema, version 9: the PostgreSQL twin of
-- src/store/sqlite/migrations/0009_foreign_keys_checked_by_tests.sql.
-- Foreign keys stay declared in the reference schema (SQLite's migrations) but are no longer
-- enforced here, as SQLite never enforced them while serving (store/sqlite/connection.cpp).
-- Measured with `bench/run --store postgres` (bench/README.md): under SERIALIZABLE, the check that
-- a new membership's user exists reads the newest page of the users' primary key, where every
-- concurrent request has just inserted its own user, so concurrent direct requests cancelled
-- each other (0.7 rollbacks per request) and direct throughput was 42 % of the reference against
-- 80 % without the constraints: far more than the 5 % the schema may cost. Every row is written
-- by src/store/ code that takes its references from rows it read in the same transaction, and
-- nothing is ever hard-deleted from a parent table; the test harness checks every foreign key of
-- the reference schema with one anti-join each after every black-box test
-- (tests/support/database.mjs), on both stores.
DO $$
DECLARE
  fk record;
BEGIN
  FOR fk IN
    SELECT conrelid::regclass AS tbl, conname FROM pg_constraint
    WHERE contype = 'f' AND connamespace = current_schema()::regnamespace
  LOOP
    EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', fk.tbl, fk.conname);
  END LOOP;
END
$$;
