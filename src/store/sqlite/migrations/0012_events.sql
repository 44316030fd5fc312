-- compatibility: compatible
-- invited schema, version 12: the event log (SPEC §9, domain/event_store.hpp). One row per
-- event, written in the unit of work that makes the change it describes. Kept compact: a
-- bulk-50 request writes 50 of them. `type` and `actor_type` are small numbers
-- (domain/events.hpp); `data` is the object of the event as compact JSON text; website_pk,
-- group_pk, user_pk and email_key are what the list's filters and the scoped-key rule ask
-- about. The log's order is (xact, pk): on SQLite `xact` is always 0 and `pk` grows in commit
-- order (one writer); on PostgreSQL `xact` is the writing transaction's id. Its twin,
-- src/store/postgres/migrations/0012_events.sql, has the same columns.
CREATE TABLE events (
  pk           INTEGER PRIMARY KEY,
  id           BLOB    NOT NULL UNIQUE,
  org_pk       INTEGER NOT NULL REFERENCES organizations(pk),
  xact         INTEGER NOT NULL DEFAULT 0,
  type         INTEGER NOT NULL,
  occurred_at  INTEGER NOT NULL,
  actor_type   INTEGER NOT NULL,  -- 1 api_key, 2 invitee, 3 admin, 4 system
  actor_key_id BLOB,              -- api_key: the key's public id
  actor_email  TEXT,              -- invitee: the address the invitation went to
  website_pk   INTEGER REFERENCES websites(pk),
  group_pk     INTEGER REFERENCES website_groups(pk),
  user_pk      INTEGER REFERENCES users(pk),
  email_key    TEXT,
  data         TEXT    NOT NULL
);
-- The list: an organization's events newest first.
CREATE INDEX events_in_order ON events(org_pk, xact, pk);
-- The expiry sweep: pending invites by expiry (status 0 is pending).
-- The expiry sweep: a pending invite past its expiry gets one invitation.expired event, recorded
-- by the sweep, which then sets expiry_recorded (a resend that revives the invite clears it).
-- Expiry itself stays derived (status 0 and expires_at passed), as before.
ALTER TABLE invites ADD COLUMN expiry_recorded INTEGER NOT NULL DEFAULT 0;
CREATE INDEX invites_expiring ON invites(expires_at) WHERE status = 0 AND expiry_recorded = 0;
