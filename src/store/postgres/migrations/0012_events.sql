-- compatibility: compatible
-- invited schema, version 12: the PostgreSQL twin of src/store/sqlite/migrations/0012_events.sql,
-- the event log (SPEC §9). The same columns; foreign keys are not enforced here (0009). `xact`
-- is the writing transaction's id (pg_current_xact_id()): the log's order is (xact, pk), and a
-- reader sees only events whose transaction is older than the oldest one still in flight, so an
-- event that commits late never lands below one already shown (domain/event_store.hpp). Rows
-- copied from SQLite keep xact 0, older than anything written here.
CREATE TABLE events (
  pk           bigint   GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id           uuid     NOT NULL UNIQUE,
  org_pk       bigint   NOT NULL,
  xact         bigint   NOT NULL DEFAULT 0,
  type         smallint NOT NULL,
  occurred_at  bigint   NOT NULL,
  actor_type   smallint NOT NULL,  -- 1 api_key, 2 invitee, 3 admin, 4 system
  actor_key_id uuid,
  actor_email  text,
  website_pk   bigint,
  group_pk     bigint,
  user_pk      bigint,
  email_key    text     COLLATE "C",
  data         text     NOT NULL
);
CREATE INDEX events_in_order ON events(org_pk, xact, pk);
-- The expiry sweep: a pending invite past its expiry gets one invitation.expired event, recorded
-- by the sweep, which then sets expiry_recorded (a resend that revives the invite clears it).
-- Expiry itself stays derived (status 0 and expires_at passed), as before.
ALTER TABLE invites ADD COLUMN expiry_recorded boolean NOT NULL DEFAULT false;
CREATE INDEX invites_expiring ON invites(expires_at) WHERE status = 0 AND expiry_recorded = false;
