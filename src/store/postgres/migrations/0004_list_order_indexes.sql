-- compatibility: breaking
-- invited schema, version 4: the PostgreSQL twin of
-- src/store/sqlite/migrations/0004_list_order_indexes.sql.
-- Every list has an index in its own order (SPEC §5), so a cursor page is a seek and a walk of
-- `limit` entries whatever the list's length. Orders are a stored time plus a tie-breaker, never
-- the row key: members by the time they gained access, then user id; websites, groups and API
-- keys by creation time, then id; invites through their batches, newest first.
-- uuid compares as its 16 bytes in order, as SQLite compares the BLOB ids.

-- Member lists break ties on the user's id, so the membership rows carry it (copied from users
-- when the membership is inserted; never changes, as a user's id never does).
ALTER TABLE organization_members ADD COLUMN user_id uuid;
ALTER TABLE website_members ADD COLUMN user_id uuid;
ALTER TABLE group_members ADD COLUMN user_id uuid;
UPDATE organization_members m SET user_id = u.id FROM users u WHERE u.pk = m.user_pk;
UPDATE website_members m SET user_id = u.id FROM users u WHERE u.pk = m.user_pk;
UPDATE group_members m SET user_id = u.id FROM users u WHERE u.pk = m.user_pk;

CREATE INDEX organization_members_by_time ON organization_members(org_pk, created_at, user_id);
CREATE INDEX website_members_by_time ON website_members(website_pk, created_at, user_id);
CREATE INDEX group_members_by_time ON group_members(group_pk, created_at, user_id);

-- Only live websites and groups are listed: deleted ones leave these indexes.
CREATE INDEX websites_live_by_time ON websites(org_pk, created_at, id) WHERE deleted_at IS NULL;
CREATE INDEX website_groups_live_by_time ON website_groups(org_pk, created_at, id)
  WHERE deleted_at IS NULL;
CREATE INDEX api_keys_by_time ON api_keys(org_pk, created_at, id);

-- Invites are listed through their batches (one index entry per request, not per invite):
-- newest first by (created_at, batch id), and a batch's invites (at most 50) by id. This index
-- replaces invite_batches_by_org, which ordered batches by row key.
CREATE INDEX invite_batches_by_time ON invite_batches(org_pk, created_at, id);
DROP INDEX invite_batches_by_org;

-- Where removed members stood: a member list's cursor may name a member removed since they were
-- listed (a client that removes the members it walks asks for the page after the last one it
-- removed). One row per (target, user): the grant time of the membership last removed.
-- Target kinds as in memberships: 0 organization, 1 website, 2 group.
CREATE TABLE removed_memberships (
  target_kind smallint NOT NULL,
  target_pk   bigint   NOT NULL,
  user_pk     bigint   NOT NULL REFERENCES users(pk),
  created_at  bigint   NOT NULL,  -- when the removed membership had been granted
  removed_at  bigint   NOT NULL,
  PRIMARY KEY (target_kind, target_pk, user_pk)
);
