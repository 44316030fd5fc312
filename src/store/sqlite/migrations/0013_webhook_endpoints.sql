-- compatibility: compatible
-- Webhooks (SPEC §9): the endpoints an organization subscribes, the deliveries owed to them (one
-- per event and subscribed endpoint, written in the event's own unit of work) and every attempt
-- made (GET /api/v1/webhook-endpoints/{id}/deliveries). The twin of
-- src/store/postgres/migrations/0013_webhook_endpoints.sql. New tables only: older binaries
-- never read them.
CREATE TABLE webhook_endpoints (
  pk                 INTEGER PRIMARY KEY,
  id                 BLOB    NOT NULL UNIQUE,
  org_pk             INTEGER NOT NULL REFERENCES organizations(pk),
  url                TEXT    NOT NULL,
  description        TEXT,
  -- The subscribed types, each between spaces (' invitation.accepted invitation.* '); '' for
  -- every type. Matched by the delivery fan-out in SQL (store/*/webhooks.cpp).
  event_types        TEXT    NOT NULL,
  enabled            INTEGER NOT NULL,
  -- The signing key as the API showed it (whsec_...): it must sign, so it cannot be hashed.
  secret             TEXT    NOT NULL,
  previous_secret    TEXT,              -- still signs until previous_until_ms (a rotation)
  previous_until_ms  INTEGER,
  created_at         INTEGER NOT NULL,  -- Unix seconds
  updated_at         INTEGER NOT NULL,
  last_success_ms    INTEGER,           -- the last 2xx answer
  -- The delivery worker's hold on the endpoint: one delivery in flight per endpoint.
  claimed_by         INTEGER,
  claimed_until_ms   INTEGER
);
CREATE INDEX webhook_endpoints_by_time ON webhook_endpoints(org_pk, created_at, id);

-- One event owed to one endpoint. Its webhook-id is the event's id, the same on every attempt.
CREATE TABLE webhook_deliveries (
  pk              INTEGER PRIMARY KEY,
  endpoint_pk     INTEGER NOT NULL REFERENCES webhook_endpoints(pk),
  event_pk        INTEGER NOT NULL,  -- events(pk); no foreign key: retention prunes events alone
  state           INTEGER NOT NULL,  -- 0 pending, 1 delivered, 2 failed
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_ms INTEGER NOT NULL,  -- on the service's clock (domain::now)
  created_at      INTEGER NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(next_attempt_ms, pk) WHERE state = 0;
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries(endpoint_pk, state, next_attempt_ms);

-- Every attempt, as the deliveries list shows it.
CREATE TABLE webhook_attempts (
  pk          INTEGER PRIMARY KEY,
  id          BLOB    NOT NULL UNIQUE,
  delivery_pk INTEGER NOT NULL REFERENCES webhook_deliveries(pk),
  endpoint_pk INTEGER NOT NULL REFERENCES webhook_endpoints(pk),
  event_id    BLOB    NOT NULL,
  event_type  TEXT    NOT NULL,
  attempt     INTEGER NOT NULL,
  status_code INTEGER,           -- none when no answer came (refused, timed out)
  error       TEXT,              -- what went wrong, with a short excerpt of the answer's body
  duration_ms INTEGER NOT NULL,
  created_at  INTEGER NOT NULL
);
CREATE INDEX webhook_attempts_by_time ON webhook_attempts(endpoint_pk, created_at, id);
CREATE INDEX webhook_attempts_by_delivery ON webhook_attempts(delivery_pk);
