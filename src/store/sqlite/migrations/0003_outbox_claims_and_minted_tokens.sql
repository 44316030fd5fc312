-- compatibility: breaking
-- The outbox claims one email before sending it, and an accept token is minted by that claim:
-- no plain token is written to the database any more (docs/architecture.md, "Email: an outbox").

-- Zero the bytes this migration erases (the plain tokens of queued emails) instead of leaving
-- them in free space, where a copy of the file or its WAL could still show them.
PRAGMA secure_delete = ON;

-- A claim leases a queued email to one worker until claimed_until (Unix milliseconds); NULL when
-- nobody holds it. The attempt is counted when the email is claimed.
ALTER TABLE outbox_emails ADD COLUMN claimed_until INTEGER;

-- invite_batches.token_hash is the hash of the token minted by the latest claim of the batch's
-- email (random bytes, the hash of no token, before the first claim and after a resend). The
-- claim before it stays valid as previous_token_hash: a crash between a server's acceptance and
-- the record sends the same message again, and the first copy's link must keep working.
ALTER TABLE invite_batches ADD COLUMN previous_token_hash BLOB;
CREATE INDEX invite_batches_by_previous_token ON invite_batches(previous_token_hash)
  WHERE previous_token_hash IS NOT NULL;

-- Queued emails lose their plain token (its hash stays with the batch); their next claim mints
-- a new one.
UPDATE outbox_emails SET token = NULL WHERE token IS NOT NULL;
ALTER TABLE outbox_emails DROP COLUMN token;
