-- compatibility: compatible
-- Deleting a website or a group revokes its pending invites: this finds them without scanning
-- the organization's invites. Partial, so it holds only the pending invites (closed ones are
-- most of the table and never looked up by target).
CREATE INDEX invites_pending_by_target ON invites(target_kind, target_pk) WHERE status = 0;
