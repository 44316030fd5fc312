-- What `bench/pg-reference --events` adds to pg_schema.sql: the event log's table as the
-- service's migration 0012 makes it (src/store/postgres/migrations/0012_events.sql: the same
-- columns, the same two indexes besides the primary key), so that the reference writes the rows
-- every request of the service now writes too (issue 12).
DROP TABLE IF EXISTS events;
CREATE TABLE events (
  pk           bigint   GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id           uuid     NOT NULL UNIQUE,
  org_pk       bigint   NOT NULL,
  xact         bigint   NOT NULL DEFAULT 0,
  type         smallint NOT NULL,
  occurred_at  bigint   NOT NULL,
  actor_type   smallint NOT NULL,
  actor_key_id uuid,
  actor_email  text,
  website_pk   bigint,
  group_pk     bigint,
  user_pk      bigint,
  email_key    text     COLLATE "C",
  data         text     NOT NULL
);
CREATE INDEX events_in_order ON events(org_pk, xact, pk);
