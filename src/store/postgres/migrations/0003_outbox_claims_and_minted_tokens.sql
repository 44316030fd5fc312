-- compatibility: breaking
-- invited schema, version 3: the PostgreSQL twin of
-- src/store/sqlite/migrations/0003_outbox_claims_and_minted_tokens.sql.
-- The outbox claims one email before sending it, and an accept token is minted by that claim:
-- no plain token is written to the database any more (docs/architecture.md, "Email: an outbox").
-- (SQLite's `PRAGMA secure_delete` has no twin: PostgreSQL's dropped column stays in the heap
-- until its rows are rewritten, so the UPDATE below erases the tokens' values first.)

-- A claim leases a queued email to one worker until claimed_until (Unix milliseconds); NULL when
-- nobody holds it. The attempt is counted when the email is claimed.
ALTER TABLE outbox_emails ADD COLUMN claimed_until bigint;

-- invite_batches.token_hash is the hash of the token minted by the latest claim of the batch's
-- email (random bytes, the hash of no token, before the first claim and after a resend). The
-- claim before it stays valid as previous_token_hash: a crash between a server's acceptance and
-- the record sends the same message again, and the first copy's link must keep working.
ALTER TABLE invite_batches ADD COLUMN previous_token_hash bytea;
CREATE INDEX invite_batches_by_previous_token ON invite_batches(previous_token_hash)
  WHERE previous_token_hash IS NOT NULL;

-- Queued emails lose their plain token (its hash stays with the batch); their next claim mints
-- a new one.
UPDATE outbox_emails SET token = NULL WHERE token IS NOT NULL;
ALTER TABLE outbox_emails DROP COLUMN token;
