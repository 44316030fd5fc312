-- compatibility: compatible
-- invited schema, version 1: the PostgreSQL twin of src/store/sqlite/migrations/0001_initial.sql.
-- The same tables, columns, keys and constraints, with the same meaning; only the types are
-- PostgreSQL's:
--   row keys (pk)  bigint GENERATED ALWAYS AS IDENTITY; the 16-byte UUIDs the API shows live
--                  beside them as uuid
--   times          bigint Unix seconds UTC, as in SQLite (the domain's UnixSeconds, copied 1:1);
--                  outbox_emails.next_attempt_ms is Unix milliseconds
--   flags          boolean (SQLite: INTEGER 0/1)
--   hashes         bytea (SQLite: BLOB)
--   email keys and idempotency keys  text COLLATE "C": byte order, whatever the database's
--                  locale, so uniqueness and index order never depend on it
-- Roles: 1 viewer, 2 admin, 3 owner. Target kinds: 0 organization, 1 website, 2 group. Invite
-- status: 0 pending, 1 accepted, 2 declined, 3 expired, 4 revoked.

CREATE TABLE organizations (
  pk         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id         uuid   NOT NULL UNIQUE,
  name       text   NOT NULL,
  created_at bigint NOT NULL
);

CREATE TABLE users (
  pk             bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id             uuid    NOT NULL UNIQUE,
  email          text    NOT NULL,
  email_key      text    COLLATE "C" NOT NULL UNIQUE,  -- ASCII-folded email: one user per address
  first_name     text,
  last_name      text,
  email_verified boolean NOT NULL DEFAULT false,
  created_at     bigint  NOT NULL
);

CREATE TABLE websites (
  pk         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id         uuid   NOT NULL UNIQUE,
  org_pk     bigint NOT NULL REFERENCES organizations(pk),
  url        text   NOT NULL,
  name       text   NOT NULL,
  created_at bigint NOT NULL,
  deleted_at bigint
);
CREATE INDEX websites_by_org ON websites(org_pk, pk);

CREATE TABLE website_groups (
  pk         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id         uuid   NOT NULL UNIQUE,
  org_pk     bigint NOT NULL REFERENCES organizations(pk),
  name       text   NOT NULL,
  created_at bigint NOT NULL,
  deleted_at bigint
);
CREATE INDEX website_groups_by_org ON website_groups(org_pk, pk);

CREATE TABLE group_websites (
  group_pk   bigint NOT NULL REFERENCES website_groups(pk),
  website_pk bigint NOT NULL REFERENCES websites(pk),
  PRIMARY KEY (group_pk, website_pk)
);
CREATE INDEX group_websites_by_website ON group_websites(website_pk, group_pk);

-- One membership per (target, user), enforced by the primary keys.
CREATE TABLE organization_members (
  org_pk     bigint   NOT NULL REFERENCES organizations(pk),
  user_pk    bigint   NOT NULL REFERENCES users(pk),
  role       smallint NOT NULL,
  created_at bigint   NOT NULL,
  PRIMARY KEY (org_pk, user_pk)
);
CREATE INDEX organization_members_by_user ON organization_members(user_pk);

CREATE TABLE website_members (
  website_pk bigint   NOT NULL REFERENCES websites(pk),
  user_pk    bigint   NOT NULL REFERENCES users(pk),
  role       smallint NOT NULL,
  created_at bigint   NOT NULL,
  PRIMARY KEY (website_pk, user_pk)
);
CREATE INDEX website_members_by_user ON website_members(user_pk);

CREATE TABLE group_members (
  group_pk   bigint   NOT NULL REFERENCES website_groups(pk),
  user_pk    bigint   NOT NULL REFERENCES users(pk),
  role       smallint NOT NULL,
  created_at bigint   NOT NULL,
  PRIMARY KEY (group_pk, user_pk)
);
CREATE INDEX group_members_by_user ON group_members(user_pk);

CREATE TABLE api_keys (
  pk         bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id         uuid    NOT NULL UNIQUE,
  org_pk     bigint  NOT NULL REFERENCES organizations(pk),
  name       text    NOT NULL,
  key_hash   bytea   NOT NULL UNIQUE,  -- SHA-256 of the secret; the secret is never stored
  scoped     boolean NOT NULL,
  created_at bigint  NOT NULL,
  revoked_at bigint
);
CREATE INDEX api_keys_by_org ON api_keys(org_pk, pk);

CREATE TABLE api_key_websites (
  key_pk     bigint NOT NULL REFERENCES api_keys(pk),
  website_pk bigint NOT NULL REFERENCES websites(pk),
  PRIMARY KEY (key_pk, website_pk)
);

-- The invites of one email-mode request: one token (hashed), one expiry, one email.
CREATE TABLE invite_batches (
  pk         bigint   GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id         uuid     NOT NULL UNIQUE,
  org_pk     bigint   NOT NULL REFERENCES organizations(pk),
  email      text     NOT NULL,  -- the invitee, as supplied: every invite of a batch is for them
  first_name text,
  last_name  text,
  token_hash bytea    NOT NULL UNIQUE,
  created_at bigint   NOT NULL,
  expires_at bigint   NOT NULL,
  used_at    bigint,
  delivery   smallint NOT NULL DEFAULT 0  -- 0 queued, 1 sent, 2 failed: of the latest email
);
CREATE INDEX invite_batches_by_org ON invite_batches(org_pk, pk);

-- Tokens replaced by a resend: the old link must answer "replaced", not "unknown".
CREATE TABLE retired_tokens (
  token_hash bytea  PRIMARY KEY,
  batch_pk   bigint NOT NULL REFERENCES invite_batches(pk),
  retired_at bigint NOT NULL
);

CREATE TABLE invites (
  pk          bigint   GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id          uuid     NOT NULL UNIQUE,
  org_pk      bigint   NOT NULL REFERENCES organizations(pk),
  batch_pk    bigint   NOT NULL REFERENCES invite_batches(pk),
  email_key   text     COLLATE "C" NOT NULL,  -- the batch's email, folded: uniqueness and filters
  target_kind smallint NOT NULL,
  target_pk   bigint   NOT NULL,
  role        smallint NOT NULL,
  status      smallint NOT NULL DEFAULT 0,
  created_at  bigint   NOT NULL,
  expires_at  bigint   NOT NULL,
  closed_at   bigint
);
-- An organization's invites are listed through its batches (invite_batches_by_org).
CREATE INDEX invites_by_batch ON invites(batch_pk);
-- At most one pending invite per (email, target): a new one replaces the old.
CREATE UNIQUE INDEX invites_one_pending ON invites(email_key, target_kind, target_pk)
  WHERE status = 0;

-- The outbox: written in the request's transaction, delivered by the mail worker.
CREATE TABLE outbox_emails (
  pk              bigint   GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  message_id      uuid     NOT NULL UNIQUE,
  batch_pk        bigint   NOT NULL REFERENCES invite_batches(pk),
  to_address      text     NOT NULL,
  token           text,              -- erased once the message is sent or has finally failed
  status          smallint NOT NULL DEFAULT 0,  -- 0 queued, 1 sent, 2 failed, 3 cancelled
  attempts        integer  NOT NULL DEFAULT 0,
  next_attempt_ms bigint   NOT NULL,  -- Unix milliseconds: retries may be sub-second in tests
  last_error      text,
  created_at      bigint   NOT NULL,
  sent_at         bigint
);
CREATE INDEX outbox_emails_due ON outbox_emails(next_attempt_ms) WHERE status = 0;

-- Responses kept for Idempotency-Key replays (24 hours).
CREATE TABLE idempotent_responses (
  org_pk       bigint  NOT NULL REFERENCES organizations(pk),
  key          text    COLLATE "C" NOT NULL,
  request_hash bytea   NOT NULL,  -- SHA-256 of method, path and body
  status       integer NOT NULL,
  body         text    NOT NULL,
  created_at   bigint  NOT NULL,
  PRIMARY KEY (org_pk, key)
);
CREATE INDEX idempotent_responses_by_age ON idempotent_responses(created_at);
