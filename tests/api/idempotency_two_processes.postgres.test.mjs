// Idempotency-Key runs a request exactly once where process memory cannot help (SPEC §6): one key
// sent at once to two processes serving one database runs once; the database decides. PostgreSQL
// only: SQLite allows one server per database file (one_server_per_database.sqlite.test.mjs),
// while several instances on one PostgreSQL database are how that store is meant to be run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startService } from '../support/service.mjs';
import { GENEROUS_LIMITS, assertError, count, createWebsites, q, uniqueEmail } from '../support/assertions.mjs';

const keyed = (service, apiKey, job) =>
  service.api('POST', job.path, { key: apiKey, body: job.body, headers: { 'idempotency-key': job.key } });

test('postgres: one key sent at once to two processes on one database runs once: the database decides, not process memory', async () => {
  const first = await startService({ args: GENEROUS_LIMITS });
  const second = await startService({ dir: first.dir, args: GENEROUS_LIMITS });
  try {
    const apiKey = first.createOrg('Two Processes').api_key;
    const siteIds = (await createWebsites(first, apiKey, 3, 'twin')).map((s) => s.id);
    for (let round = 0; round < 8; round++) {
      const email = uniqueEmail('twin');
      const job = {
        key: randomUUID(),
        path: '/api/v1/invites/bulk',
        body: { invite_method: 'email', email, website_ids: siteIds },
      };
      const responses = await Promise.all(
        Array.from({ length: 6 }, () => [first, second].map((service) => keyed(service, apiKey, job))).flat(),
      );
      const context = responses.map((r) => `${r.status} ${r.headers.get('idempotent-replayed')} ${r.text}`).join('\n');
      const fresh = responses.filter((r) => r.status === 200 && r.headers.get('idempotent-replayed') === null);
      const replays = responses.filter((r) => r.headers.get('idempotent-replayed') === 'true');
      const inUse = responses.filter((r) => r.status === 409);
      assert.equal(fresh.length, 1, context);
      assert.equal(fresh.length + replays.length + inUse.length, responses.length, context);
      for (const replay of replays) assert.deepEqual(replay.body, fresh[0].body);
      for (const refusal of inUse) assertError(refusal, 409, 'idempotency_key_in_use');
      // One batch of three pending invites, one queued email: a second run would have revoked
      // the first batch's invites and queued another email.
      assert.equal(count(first, `SELECT COUNT(*) FROM invite_batches WHERE email = ${q(email)}`), 1, context);
      assert.equal(
        count(first, `SELECT COUNT(*) FROM invites i JOIN invite_batches b ON b.pk = i.batch_pk WHERE b.email = ${q(email)}`),
        3,
      );
      assert.equal(
        count(first, `SELECT COUNT(*) FROM outbox_emails o JOIN invite_batches b ON b.pk = o.batch_pk WHERE b.email = ${q(email)}`),
        1,
      );
    }
  } finally {
    assert.equal(await second.stop(), 0);
    assert.equal(await first.stop(), 0);
  }
});
