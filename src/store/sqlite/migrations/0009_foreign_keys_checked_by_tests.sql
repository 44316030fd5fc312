-- compatibility: compatible
-- invited schema, version 9: nothing to change on SQLite. Its twin,
-- src/store/postgres/migrations/0009_foreign_keys_checked_by_tests.sql, stops enforcing foreign
-- keys on PostgreSQL, as this store never did while serving (PRAGMA foreign_keys = OFF in
-- store/sqlite/connection.cpp): the declarations stay here as the reference schema, and the test
-- harness checks them after every black-box test on both stores. Both stores keep one list of
-- schema versions.
SELECT 1;
