-- compatibility: compatible
-- Foreign keys are declared in the SQLite twin (the reference schema) and not enforced here,
-- as migration 0009 says; the test harness checks them after every black-box test.
-- Webhooks (SPEC §9): the endpoints an organization subscribes, the deliveries owed to them (one
-- per event and subscribed endpoint, written in the event's own unit of work) and every attempt
-- made (GET /api/v1/webhook-endpoints/{id}/deliveries). The twin of
-- src/store/sqlite/migrations/0013_webhook_endpoints.sql. New tables only: older binaries never
-- read them. Claims of an endpoint (claimed_until_ms) are on the database's clock.
CREATE TABLE webhook_endpoints (
  pk                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id                 uuid    NOT NULL UNIQUE,
  org_pk             bigint  NOT NULL,
  url                text    NOT NULL,
  description        text,
  -- The subscribed types, each between spaces (' invitation.accepted invitation.* '); '' for
  -- every type. Matched by the delivery fan-out in SQL (store/*/webhooks.cpp).
  event_types        text    NOT NULL,
  enabled            boolean NOT NULL,
  -- The signing key as the API showed it (whsec_...): it must sign, so it cannot be hashed.
  secret             text    NOT NULL,
  previous_secret    text,              -- still signs until previous_until_ms (a rotation)
  previous_until_ms  bigint,
  created_at         bigint  NOT NULL,  -- Unix seconds
  updated_at         bigint  NOT NULL,
  last_success_ms    bigint,           -- the last 2xx answer
  -- The delivery worker's hold on the endpoint: one delivery in flight per endpoint.
  claimed_by         bigint,
  claimed_until_ms   bigint
);
CREATE INDEX webhook_endpoints_by_time ON webhook_endpoints(org_pk, created_at, id);

-- One event owed to one endpoint. Its webhook-id is the event's id, the same on every attempt.
CREATE TABLE webhook_deliveries (
  pk              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  endpoint_pk     bigint  NOT NULL,
  event_pk        bigint  NOT NULL,  -- events(pk); no foreign key: retention prunes events alone
  state           smallint NOT NULL,  -- 0 pending, 1 delivered, 2 failed
  attempts        integer NOT NULL DEFAULT 0,
  next_attempt_ms bigint  NOT NULL,  -- on the service's clock (domain::now)
  created_at      bigint  NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(next_attempt_ms, pk) WHERE state = 0;
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries(endpoint_pk, state, next_attempt_ms);

-- Every attempt, as the deliveries list shows it.
CREATE TABLE webhook_attempts (
  pk          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id          uuid    NOT NULL UNIQUE,
  delivery_pk bigint  NOT NULL,
  endpoint_pk bigint  NOT NULL,
  event_id    uuid    NOT NULL,
  event_type  text    NOT NULL,
  attempt     integer NOT NULL,
  status_code integer,           -- none when no answer came (refused, timed out)
  error       text,              -- what went wrong, with a short excerpt of the answer's body
  duration_ms bigint  NOT NULL,
  created_at  bigint  NOT NULL
);
CREATE INDEX webhook_attempts_by_time ON webhook_attempts(endpoint_pk, created_at, id);
CREATE INDEX webhook_attempts_by_delivery ON webhook_attempts(delivery_pk);
