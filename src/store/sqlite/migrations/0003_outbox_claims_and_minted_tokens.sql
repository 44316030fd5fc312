-- The outbox claims one email before sending it, and an accept token is minted by that claim:
-- no plain token is ever written to the database (docs/architecture.md, "Email: an outbox").

-- Zero the bytes this migration erases (the plain tokens of queued emails) instead of leaving
-- them in free space, where a copy of the file or its WAL would still show them.
PRAGMA secure_delete = ON;

-- A claim leases a queued email to one worker until claimed_until (Unix milliseconds); NULL when
-- nobody holds it. The attempt is counted when the email is claimed.
ALTER TABLE outbox_emails ADD COLUMN claimed_until INTEGER;

-- The tokens of a batch, by SHA-256: one per claim of its current email (the same message may
-- have arrived more than once, so each copy's link works), all retired at once by a resend.
CREATE TABLE batch_tokens (
  token_hash BLOB    PRIMARY KEY,
  batch_pk   INTEGER NOT NULL REFERENCES invite_batches(pk),
  issued_at  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX batch_tokens_by_batch ON batch_tokens(batch_pk);

-- Every existing batch keeps its token (sent, or about to be replaced by the next claim).
-- invite_batches.token_hash is no longer read: SQLite cannot drop a UNIQUE column without
-- rebuilding the table, so from now on it holds 32 random bytes, the hash of no token.
INSERT INTO batch_tokens(token_hash, batch_pk, issued_at)
  SELECT token_hash, pk, created_at FROM invite_batches;
UPDATE invite_batches SET token_hash = randomblob(32);

-- Queued emails lose their plain token; their next claim mints a new one.
UPDATE outbox_emails SET token = NULL WHERE token IS NOT NULL;
ALTER TABLE outbox_emails DROP COLUMN token;
