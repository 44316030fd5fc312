// Three instances on one PostgreSQL database deliver webhooks as one service (SPEC §9): each
// delivery is made once, whichever instance's worker claims it, and one endpoint never has two
// deliveries in flight. The endpoints are slow (each answer waits 150 ms) so that claims of the
// three instances overlap.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startService } from '../support/service.mjs';
import { startReceiver, signersOf } from '../support/webhook_receiver.mjs';
import { GENEROUS_LIMITS, call, waitFor } from '../support/assertions.mjs';

const instances = [];
let receiver;

after(async () => {
  for (const service of instances) assert.equal(await service.stop(), 0);
  if (receiver) await receiver.close();
});

test('3 instances: every delivery made exactly once, one at a time per endpoint', async () => {
  receiver = await startReceiver();
  const args = [...GENEROUS_LIMITS, '--webhook-allow-insecure', '--webhook-concurrency', '4'];
  const first = await startService({ args });
  instances.push(first);
  for (let i = 0; i < 2; i++) instances.push(await startService({ dir: first.dir, args }));
  const key = first.createOrg('Many Instances').api_key;

  // Slow answers, and a record of overlapping requests per endpoint.
  const inFlight = new Map();
  let overlap = 0;
  const slow = (entry) => {
    const n = (inFlight.get(entry.path) ?? 0) + 1;
    inFlight.set(entry.path, n);
    if (n > 1) overlap += 1;
    return { status: 200 };
  };
  const secrets = {};
  const endpoints = ['/a', '/b', '/c'];
  for (const path of endpoints) {
    receiver.answer(path, slow);
    const created = await call(first, 'POST', '/api/v1/webhook-endpoints', {
      key, body: { url: receiver.url(path), event_types: ['website.created'] }, status: 201,
    });
    secrets[path] = created.secret;
  }
  // The receiver answers only after 150 ms: each request stays in flight that long.
  receiver.delayMs = 150;
  receiver.onAnswered = (entry) => inFlight.set(entry.path, inFlight.get(entry.path) - 1);

  // 30 websites, created through all three instances.
  const websites = 30;
  await Promise.all(Array.from({ length: websites }, (_, i) =>
    call(instances[i % 3], 'POST', '/api/v1/websites', { key, body: { url: `https://site-${i}.example` }, status: 201 })));

  await waitFor(() => endpoints.every((p) => receiver.to(p).length >= websites), { timeoutMs: 120000, what: 'every delivery' });
  for (const path of endpoints) {
    const got = receiver.to(path);
    const ids = got.map((r) => r.headers['webhook-id']);
    assert.equal(new Set(ids).size, websites, `${path}: one delivery per event`);
    assert.equal(ids.length, websites, `${path}: none made twice`);
    for (const r of got) assert.deepEqual(signersOf(r, [secrets[path]]), [secrets[path]]);
  }
  assert.equal(overlap, 0, 'never two deliveries in flight to one endpoint');
  // Every outcome recorded (the last ones commit just after their answers), each attempt once.
  const delivered = () => first.sql('SELECT count(*) FILTER (WHERE state = 1), count(*) FROM webhook_deliveries')[0].map(Number);
  await waitFor(() => delivered()[0] === websites * 3, { timeoutMs: 30000, what: 'every outcome recorded' });
  assert.deepEqual(delivered(), [websites * 3, websites * 3]);
  const [attempts] = first.sql('SELECT count(*) FROM webhook_attempts')[0].map(Number);
  assert.equal(attempts, websites * 3, 'one attempt per delivery');
});
