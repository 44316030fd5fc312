-- compatibility: compatible
-- invited schema, version 5: the PostgreSQL twin of
-- src/store/sqlite/migrations/0005_write_probe.sql.
-- One row that a probe updates, so that /readyz follows whether the database can be written
-- (a read-only standby after a failover, a full disk) even when the service is idle. `probes`
-- changes on every probe, so every probe is a real write.
CREATE TABLE write_probe (
  id         integer PRIMARY KEY CHECK (id = 1),
  probes     bigint  NOT NULL,
  written_at bigint  NOT NULL  -- Unix seconds of the last probe
);
INSERT INTO write_probe (id, probes, written_at) VALUES (1, 0, 0);
