-- compatibility: compatible
-- The outbox's claim takes the email due longest, and among those due at the same millisecond
-- the one queued first by its message id (UUIDv7, ordered by the time it was made), not by its
-- row key: with several writers (a PostgreSQL store) row keys are not in commit order. The due
-- index carries the tie-breaker, so the claim still reads one index entry.
DROP INDEX outbox_emails_due;
CREATE INDEX outbox_emails_due ON outbox_emails(next_attempt_ms, message_id) WHERE status = 0;
