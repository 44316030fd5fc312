-- pg_bulk_setbased.sql with the event rows of issue 12 (`bench/pg-reference --events`): the same
-- one statement, which also records one membership.created per membership added, with its
-- transaction id and its compact JSON data, as src/store/postgres/events.cpp does. Event ids are
-- time-ordered, as the service's UUIDv7 are.
\set n random(1, 2000000000)
WITH u AS (
  INSERT INTO users (id, email_key, email, created_at)
  VALUES (gen_random_uuid(), 'u' || :n || '-' || :client_id || '@example.com', 'u' || :n || '@example.com', 0)
  ON CONFLICT (email_key) DO UPDATE SET email = EXCLUDED.email RETURNING pk, id, email, email_key),
w AS (SELECT pk, id FROM websites WHERE org_pk = 1 AND deleted_at IS NULL AND id = ANY (:ids::uuid[])),
m AS (
  INSERT INTO website_members (website_pk, user_pk, role, created_at)
  SELECT w.pk, u.pk, 1, 0 FROM w, u ON CONFLICT DO NOTHING RETURNING website_pk)
INSERT INTO events (id, org_pk, xact, type, occurred_at, actor_type, actor_key_id, website_pk,
                    user_pk, email_key, data)
SELECT (lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000)::bigint), 12, '0')
          || substr(md5(random()::text), 1, 20))::uuid,
       1, pg_current_xact_id()::text::int8, 20, 0, 1, '018f0000-0000-7000-8000-000000000001', w.pk,
       u.pk, u.email_key,
       '{"user_id":"' || u.id || '","email":"' || u.email
         || '","role":"viewer","target_type":"website","target_id":"' || w.id || '"}'
FROM m JOIN w ON w.pk = m.website_pk, u;
