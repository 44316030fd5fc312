-- compatibility: compatible
-- invited schema, version 10: nothing to change on SQLite. Its twin,
-- src/store/postgres/migrations/0010_shared_rate_budgets.sql, keeps the organizations' rate-limit
-- budgets in the database so that several instances share them; a SQLite database is served by
-- one process, which keeps them in memory (src/api/rate_limiter.hpp). Both stores keep one list
-- of schema versions.
SELECT 1;
