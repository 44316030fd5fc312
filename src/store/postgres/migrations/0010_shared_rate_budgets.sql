-- compatibility: compatible
-- invited schema, version 10: the organizations' rate-limit budgets (SPEC §6), kept here so that
-- every instance serving this database enforces one budget per organization together
-- (src/store/postgres/rate_budgets.cpp; the rule is in src/api/rate_limiter.hpp). One token
-- bucket per (organization, budget): `tokens` left at `updated_at` (the database's clock),
-- refilled continuously; `granted` is what the last draw took. UNLOGGED: a draw commits without
-- waiting for a WAL flush, and after a crash of the server the table comes back empty, which
-- means every bucket full: budgets restart, no data is lost. Old binaries never read it.
-- SQLite keeps these budgets in the serving process (its twin, 0010_shared_rate_budgets.sql,
-- changes nothing).
CREATE UNLOGGED TABLE rate_budgets (
  org_pk     bigint           NOT NULL,
  budget     smallint         NOT NULL,
  tokens     double precision NOT NULL,
  granted    bigint           NOT NULL,
  updated_at timestamptz      NOT NULL,
  PRIMARY KEY (org_pk, budget)
);
