-- compatibility: breaking
-- invited schema, version 4: every list has an index in its own order (SPEC §5), so a cursor
-- page is a seek and a walk of `limit` entries whatever the list's length. Orders are a stored
-- time plus a tie-breaker, never the row key: members by the time they gained access, then
-- user id; websites, groups and API keys by creation time, then id; invites through their
-- batches, newest first.

-- Member lists break ties on the user's id, so the membership rows carry it (copied from users
-- when the membership is inserted; never changes, as a user's id never does).
ALTER TABLE organization_members ADD COLUMN user_id BLOB;
ALTER TABLE website_members ADD COLUMN user_id BLOB;
ALTER TABLE group_members ADD COLUMN user_id BLOB;
UPDATE organization_members SET user_id = (SELECT id FROM users WHERE users.pk = user_pk);
UPDATE website_members SET user_id = (SELECT id FROM users WHERE users.pk = user_pk);
UPDATE group_members SET user_id = (SELECT id FROM users WHERE users.pk = user_pk);

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
  target_kind INTEGER NOT NULL,
  target_pk   INTEGER NOT NULL,
  user_pk     INTEGER NOT NULL REFERENCES users(pk),
  created_at  INTEGER NOT NULL,  -- when the removed membership had been granted
  removed_at  INTEGER NOT NULL,
  PRIMARY KEY (target_kind, target_pk, user_pk)
) WITHOUT ROWID;
