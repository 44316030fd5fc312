// Three instances on one PostgreSQL database each run the event log's housekeeping
// (app/event_sweeper: every 5 s, the expiry sweep, then retention), so their sweeps look at the
// same expired invites at about the same time. Each expiry is still recorded once (SPEC §9): one
// invitation.expired per invite, actor system, and one webhook delivery of it, whichever
// instance's sweep saw it first.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startService } from '../support/service.mjs';
import { startReceiver } from '../support/webhook_receiver.mjs';
import { metrics } from '../support/smtp.mjs';
import { query } from '../support/database.mjs';
import { GENEROUS_LIMITS, call, inviteByEmail, uniqueEmail, waitFor, websitesInOrder } from '../support/assertions.mjs';

const DAY = 24 * 3600 * 1000;
const instances = [];
let receiver;

after(async () => {
  for (const service of instances) assert.equal(await service.stop(), 0);
  if (receiver) await receiver.close();
});

test('3 instances sweeping at once: each expired invite gets one invitation.expired, delivered once', async () => {
  receiver = await startReceiver();
  const args = [...GENEROUS_LIMITS, '--webhook-allow-insecure'];
  const first = await startService({ args });
  instances.push(first);
  for (let i = 0; i < 2; i++) instances.push(await startService({ dir: first.dir, args }));
  const key = first.createOrg('Expiring Together').api_key;
  await call(first, 'POST', '/api/v1/webhook-endpoints', {
    key, body: { url: receiver.url('/expired'), event_types: ['invitation.expired'] }, status: 201,
  });
  const [site] = await websitesInOrder(first, key, 1, 'expiring');
  const invites = [];
  for (let i = 0; i < 12; i++) invites.push(...(await inviteByEmail(instances[i % 3], key, uniqueEmail(`expiring${i}`), [site.id])));

  // Every instance's clock passes the 7-day expiry, so all three sweeps find the same invites.
  for (const service of instances) await service.advanceClock(8 * DAY);
  const expired = async () => (await call(first, 'GET', '/api/v1/events?type=invitation.expired&limit=100', { key })).events;
  await waitFor(async () => (await expired()).length >= invites.length, { timeoutMs: 60000, what: 'every expiry recorded' });
  // Two more passes of every instance's sweep: a second record of an expiry would be made by then.
  const passes = async (service) => (await metrics(service)).invited_event_sweeps_total;
  const before = await Promise.all(instances.map(passes));
  await waitFor(async () => (await Promise.all(instances.map(passes))).every((n, i) => n >= before[i] + 2), {
    timeoutMs: 60000, what: 'two more passes of each instance\'s sweep',
  });

  const events = await expired();
  assert.deepEqual(events.map((e) => e.data.id).sort(), [...invites].sort(), 'one invitation.expired per invite');
  for (const event of events) {
    assert.deepEqual(event.actor, { type: 'system' });
    assert.equal(event.data.status, 'expired');
  }
  // Every delivery row made and none left pending: a second delivery of an expiry would have
  // arrived by then.
  await waitFor(() => receiver.to('/expired').length >= invites.length
    && Number(query(first, 'SELECT count(*) FROM webhook_deliveries WHERE state = 0')[0][0]) === 0, { timeoutMs: 60000, what: 'every delivery' });
  const ids = receiver.to('/expired').map((r) => r.headers['webhook-id']);
  assert.deepEqual([...ids].sort(), events.map((e) => e.id).sort(), 'each expiry delivered once');
});
