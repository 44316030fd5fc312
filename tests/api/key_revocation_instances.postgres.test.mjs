// A key revoked through any instance stops working on every instance on the database within
// REVOCATION_BOUND_MS (README, "Several instances"): the revocation is notified (LISTEN/NOTIFY)
// as it commits, and each instance forgets the key from its cache at once. The instances here
// cache keys for a minute (--key-cache-ms), far past the bound, so only the notification can
// meet it; the cache's expiry (2 s by default) is the backstop for a notification that goes
// unheard, and a listener that lost its connection forgets every key when it listens again.
// PostgreSQL only: SQLite is served by one process, which forgets the keys it revokes itself.
// The file has a cluster of its own (useOwnCluster), because one test restarts PostgreSQL.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startService } from '../support/service.mjs';
import { useOwnCluster } from '../support/database.mjs';
import { PG_CLUSTER } from '../support/postgres.mjs';
import { GENEROUS_LIMITS, assertError, call, count, createKeyViaApi, waitFor } from '../support/assertions.mjs';

// The stated bound, from the revoking response to the last instance refusing the key.
const REVOCATION_BOUND_MS = 1000;
const ARGS = [...GENEROUS_LIMITS, '--key-cache-ms', '60000'];

let cluster;
let instances = [];
let owner; // the organization's global key (admin create-org)

before(async () => {
  cluster = useOwnCluster();
  const first = await startService({ args: ARGS });
  instances = [first];
  for (let i = 0; i < 2; i++) instances.push(await startService({ dir: first.dir, args: ARGS }));
  owner = first.createOrg('Revocations').api_key;
});

after(async () => {
  for (const service of instances.reverse()) assert.equal(await service.stop(), 0);
});

const run = promisify(execFile);
const listeners = (service) =>
  count(service, "SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = 'invited key revocations'");

// A fresh key, used once on every instance so that each has it in its cache.
async function cachedEverywhere(name) {
  const created = await createKeyViaApi(instances[0], owner, name);
  for (const service of instances) await call(service, 'GET', '/api/v1/websites', { key: created.api_key });
  return created;
}

// Revokes `keyId` through `through` and returns how long, from the revoking answer, each
// instance took to refuse the key (polling each with a deadline far past the bound).
async function revokeAndTimeRefusals(through, keyId, secret) {
  await call(through, 'DELETE', `/api/v1/api-keys/${keyId}`, { key: owner });
  const revokedAt = Date.now();
  return Promise.all(
    instances.map(async (service, index) => {
      const response = await waitFor(
        async () => {
          const answer = await service.api('GET', '/api/v1/websites', { key: secret });
          if (answer.status === 200) return null;
          return answer;
        },
        { timeoutMs: 30000, intervalMs: 20, what: `instance ${index} to refuse the revoked key` },
      );
      const ms = Date.now() - revokedAt;
      assertError(response, 401, 'unauthorized');
      // And it stays refused.
      assertError(await service.api('GET', '/api/v1/websites', { key: secret }), 401, 'unauthorized');
      return ms;
    }),
  );
}

test(`postgres: a key revoked through one of 3 instances is refused by every instance within ${REVOCATION_BOUND_MS} ms, though each caches keys for a minute`, async () => {
  for (const [index, through] of instances.entries()) {
    const key = await cachedEverywhere(`revoked through ${index}`);
    const refusedAfter = await revokeAndTimeRefusals(through, key.key_id, key.api_key);
    for (const ms of refusedAfter) {
      assert.ok(ms <= REVOCATION_BOUND_MS, `refused after ${refusedAfter.join(', ')} ms (revoked through instance ${index})`);
    }
  }
  // Other keys of the organization still work everywhere.
  for (const service of instances) await call(service, 'GET', '/api/v1/websites', { key: owner });
});

test(`postgres: after PostgreSQL restarts, every instance listens again: a key revoked then is refused everywhere within ${REVOCATION_BOUND_MS} ms`, async () => {
  const old = cluster.sql('postgres', "SELECT pid FROM pg_stat_activity WHERE application_name = 'invited key revocations'").map(([pid]) => pid);
  assert.equal(old.length, instances.length);
  await run(PG_CLUSTER, ['stop', cluster.dir, '--mode', 'fast']);
  await run(PG_CLUSTER, ['start', cluster.dir]);
  // Each instance's listener reconnects on its own (every second while it cannot).
  await waitFor(() => listeners(instances[0]) === instances.length, { timeoutMs: 30000, intervalMs: 50, what: 'three listeners again' });
  // The instances serve again (their pools reconnect too).
  for (const service of instances) {
    await waitFor(async () => (await service.api('GET', '/api/v1/websites', { key: owner })).status === 200, { timeoutMs: 30000, what: 'the service to answer again' });
  }
  const key = await cachedEverywhere('revoked after the restart');
  const refusedAfter = await revokeAndTimeRefusals(instances[1], key.key_id, key.api_key);
  for (const ms of refusedAfter) assert.ok(ms <= REVOCATION_BOUND_MS, `refused after ${refusedAfter.join(', ')} ms`);
});
