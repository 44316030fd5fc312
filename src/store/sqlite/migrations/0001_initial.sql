-- compatibility: compatible
-- invited schema, version 1.
-- Rows are keyed by integers (pk); the 16-byte UUIDs the API shows live beside them. Times are
-- Unix seconds UTC. Roles: 1 viewer, 2 admin, 3 owner. Target kinds: 0 organization, 1 website,
-- 2 group. Invite status: 0 pending, 1 accepted, 2 declined, 3 expired, 4 revoked.

CREATE TABLE organizations (
  pk         INTEGER PRIMARY KEY,
  id         BLOB    NOT NULL UNIQUE,
  name       TEXT    NOT NULL,
  created_at INTEGER NOT NULL
);

CREATE TABLE users (
  pk             INTEGER PRIMARY KEY,
  id             BLOB    NOT NULL UNIQUE,
  email          TEXT    NOT NULL,
  email_key      TEXT    NOT NULL UNIQUE,  -- ASCII-folded email: one user per address
  first_name     TEXT,
  last_name      TEXT,
  email_verified INTEGER NOT NULL DEFAULT 0,
  created_at     INTEGER NOT NULL
);

CREATE TABLE websites (
  pk         INTEGER PRIMARY KEY,
  id         BLOB    NOT NULL UNIQUE,
  org_pk     INTEGER NOT NULL REFERENCES organizations(pk),
  url        TEXT    NOT NULL,
  name       TEXT    NOT NULL,
  created_at INTEGER NOT NULL,
  deleted_at INTEGER
);
CREATE INDEX websites_by_org ON websites(org_pk, pk);

CREATE TABLE website_groups (
  pk         INTEGER PRIMARY KEY,
  id         BLOB    NOT NULL UNIQUE,
  org_pk     INTEGER NOT NULL REFERENCES organizations(pk),
  name       TEXT    NOT NULL,
  created_at INTEGER NOT NULL,
  deleted_at INTEGER
);
CREATE INDEX website_groups_by_org ON website_groups(org_pk, pk);

CREATE TABLE group_websites (
  group_pk   INTEGER NOT NULL REFERENCES website_groups(pk),
  website_pk INTEGER NOT NULL REFERENCES websites(pk),
  PRIMARY KEY (group_pk, website_pk)
) WITHOUT ROWID;
CREATE INDEX group_websites_by_website ON group_websites(website_pk, group_pk);

-- One membership per (target, user), enforced by the primary keys.
CREATE TABLE organization_members (
  org_pk     INTEGER NOT NULL REFERENCES organizations(pk),
  user_pk    INTEGER NOT NULL REFERENCES users(pk),
  role       INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (org_pk, user_pk)
) WITHOUT ROWID;
CREATE INDEX organization_members_by_user ON organization_members(user_pk);

CREATE TABLE website_members (
  website_pk INTEGER NOT NULL REFERENCES websites(pk),
  user_pk    INTEGER NOT NULL REFERENCES users(pk),
  role       INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (website_pk, user_pk)
) WITHOUT ROWID;
CREATE INDEX website_members_by_user ON website_members(user_pk);

CREATE TABLE group_members (
  group_pk   INTEGER NOT NULL REFERENCES website_groups(pk),
  user_pk    INTEGER NOT NULL REFERENCES users(pk),
  role       INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (group_pk, user_pk)
) WITHOUT ROWID;
CREATE INDEX group_members_by_user ON group_members(user_pk);

CREATE TABLE api_keys (
  pk         INTEGER PRIMARY KEY,
  id         BLOB    NOT NULL UNIQUE,
  org_pk     INTEGER NOT NULL REFERENCES organizations(pk),
  name       TEXT    NOT NULL,
  key_hash   BLOB    NOT NULL UNIQUE,  -- SHA-256 of the secret; the secret is never stored
  scoped     INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  revoked_at INTEGER
);
CREATE INDEX api_keys_by_org ON api_keys(org_pk, pk);

CREATE TABLE api_key_websites (
  key_pk     INTEGER NOT NULL REFERENCES api_keys(pk),
  website_pk INTEGER NOT NULL REFERENCES websites(pk),
  PRIMARY KEY (key_pk, website_pk)
) WITHOUT ROWID;

-- The invites of one email-mode request: one token (hashed), one expiry, one email.
CREATE TABLE invite_batches (
  pk         INTEGER PRIMARY KEY,
  id         BLOB    NOT NULL UNIQUE,
  org_pk     INTEGER NOT NULL REFERENCES organizations(pk),
  email      TEXT    NOT NULL,  -- the invitee, as supplied: every invite of a batch is for them
  first_name TEXT,
  last_name  TEXT,
  token_hash BLOB    NOT NULL UNIQUE,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  used_at    INTEGER,
  delivery   INTEGER NOT NULL DEFAULT 0  -- 0 queued, 1 sent, 2 failed: of the latest email
);

CREATE INDEX invite_batches_by_org ON invite_batches(org_pk, pk);

-- Tokens replaced by a resend: the old link must answer "replaced", not "unknown".
CREATE TABLE retired_tokens (
  token_hash BLOB    PRIMARY KEY,
  batch_pk   INTEGER NOT NULL REFERENCES invite_batches(pk),
  retired_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE invites (
  pk          INTEGER PRIMARY KEY,
  id          BLOB    NOT NULL UNIQUE,
  org_pk      INTEGER NOT NULL REFERENCES organizations(pk),
  batch_pk    INTEGER NOT NULL REFERENCES invite_batches(pk),
  email_key   TEXT    NOT NULL,  -- the batch's email, folded: for uniqueness and filters
  target_kind INTEGER NOT NULL,
  target_pk   INTEGER NOT NULL,
  role        INTEGER NOT NULL,
  status      INTEGER NOT NULL DEFAULT 0,
  created_at  INTEGER NOT NULL,
  expires_at  INTEGER NOT NULL,
  closed_at   INTEGER
);
-- An organization's invites are listed through its batches (invite_batches_by_org): one index
-- entry per request instead of one per invite. The writer inserts a batch's invites right after
-- the batch, so batch order and invite order agree.
CREATE INDEX invites_by_batch ON invites(batch_pk);
-- At most one pending invite per (email, target): a new one replaces the old.
CREATE UNIQUE INDEX invites_one_pending ON invites(email_key, target_kind, target_pk)
  WHERE status = 0;

-- The outbox: written in the request's transaction, delivered by the mail worker.
CREATE TABLE outbox_emails (
  pk              INTEGER PRIMARY KEY,
  message_id      BLOB    NOT NULL UNIQUE,
  batch_pk        INTEGER NOT NULL REFERENCES invite_batches(pk),
  to_address      TEXT    NOT NULL,
  token           TEXT,             -- erased once the message is sent or has finally failed
  status          INTEGER NOT NULL DEFAULT 0,  -- 0 queued, 1 sent, 2 failed, 3 cancelled
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_ms INTEGER NOT NULL,  -- Unix milliseconds: retries may be sub-second in tests
  last_error      TEXT,
  created_at      INTEGER NOT NULL,
  sent_at         INTEGER
);
CREATE INDEX outbox_emails_due ON outbox_emails(next_attempt_ms) WHERE status = 0;

-- Responses kept for Idempotency-Key replays (24 hours).
CREATE TABLE idempotent_responses (
  org_pk       INTEGER NOT NULL REFERENCES organizations(pk),
  key          TEXT    NOT NULL,
  request_hash BLOB    NOT NULL,  -- SHA-256 of method, path and body
  status       INTEGER NOT NULL,
  body         TEXT    NOT NULL,
  created_at   INTEGER NOT NULL,
  PRIMARY KEY (org_pk, key)
) WITHOUT ROWID;
CREATE INDEX idempotent_responses_by_age ON idempotent_responses(created_at);
