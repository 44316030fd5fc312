-- compatibility: compatible
-- One row that the writer updates once a second while no other write runs, so that /readyz
-- follows whether the database can be written (locked by another process, disk full, read-only
-- file) even when the service is idle. `probes` changes on every probe: a write that stored the
-- same bytes again would not reach the disk.
CREATE TABLE write_probe (
  id         INTEGER PRIMARY KEY CHECK (id = 1),
  probes     INTEGER NOT NULL,
  written_at INTEGER NOT NULL  -- Unix seconds of the last probe
);
INSERT INTO write_probe (id, probes, written_at) VALUES (1, 0, 0);
