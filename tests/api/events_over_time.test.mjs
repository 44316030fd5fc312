// The event log's work in the background (SPEC §9): a delivery given up records
// invitation.delivery_failed, an invite's expiry is recorded by the sweep (invitation.expired,
// actor system) within a minute of it, and events past --event-retention-days are pruned. Time
// moves with the test clock (service.advanceClock), so the tests run in order on one service:
// each moves the clock further.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startService } from '../support/service.mjs';
import { GENEROUS_LIMITS, call, inviteByEmail, uniqueEmail, waitFor, websitesInOrder } from '../support/assertions.mjs';

let service;
let key;
let sites;

before(async () => {
  // Mail goes to a port where nothing listens, and is given up after its first attempt.
  service = await startService({
    args: [...GENEROUS_LIMITS, '--mail-max-attempts', '1', '--event-retention-days', '30'],
    smtpUrl: 'smtp://127.0.0.1:9',
  });
  key = service.createOrg('Time Travel').api_key;
  sites = await websitesInOrder(service, key, 2, 'later');
});

after(async () => {
  if (service) assert.equal(await service.stop(), 0);
});

async function eventsOf(type) {
  return (await call(service, 'GET', `/api/v1/events?limit=100&type=${type}`, { key })).events;
}

test('a delivery given up records invitation.delivery_failed for the batch\'s invites (actor system)', async () => {
  const email = uniqueEmail('undeliverable');
  const ids = await inviteByEmail(service, key, email, [sites[0].id, sites[1].id]);
  const failed = await waitFor(async () => {
    const events = await eventsOf('invitation.delivery_failed');
    return events.length === 2 && events;
  }, { timeoutMs: 60000, what: 'the delivery to be given up' });
  assert.deepEqual(failed.map((e) => e.data.id).sort(), [...ids].sort());
  for (const event of failed) {
    assert.deepEqual(event.actor, { type: 'system' });
    assert.equal(event.data.delivery, 'failed');
    assert.equal(event.data.status, 'pending');
  }
});

test('the expiry sweep records invitation.expired once per invite, within a minute of the expiry, with actor system', async () => {
  const email = uniqueEmail('expiring');
  const ids = await inviteByEmail(service, key, email, [sites[0].id]);
  // The earlier test's invites expire too: all three.
  const expiring = (await call(service, 'GET', '/api/v1/invites?status=pending', { key })).invites.map((i) => i.id);
  assert.ok(ids.every((id) => expiring.includes(id)));
  assert.deepEqual(await eventsOf('invitation.expired'), []);
  const now = await service.advanceClock(7 * 86400 * 1000 + 1000);
  const expired = await waitFor(async () => {
    const events = await eventsOf('invitation.expired');
    return events.length === expiring.length && events;
  }, { timeoutMs: 60000, what: 'the sweep to record the expiries' });
  assert.deepEqual(expired.map((e) => e.data.id).sort(), [...expiring].sort());
  for (const event of expired) {
    assert.deepEqual(event.actor, { type: 'system' });
    assert.equal(event.data.status, 'expired');
    assert.ok(Date.parse(event.occurred_at) >= Date.parse(event.data.expires_at));
  }
  // The clock jumped a second past the fresh invite's expiry: its event follows within a minute.
  const fresh = expired.find((e) => e.data.id === ids[0]);
  const lag = Date.parse(fresh.occurred_at) - Date.parse(fresh.data.expires_at);
  assert.ok(lag <= 60000, `recorded ${lag} ms after the expiry`);
  assert.ok(Date.parse(fresh.occurred_at) <= now + 60000);
  // A later expiry is recorded by a later sweep; the earlier ones are not recorded again.
  const [late] = await inviteByEmail(service, key, uniqueEmail('later'), [sites[1].id]);
  await service.advanceClock(7 * 86400 * 1000 + 1000);
  const again = await waitFor(async () => {
    const events = await eventsOf('invitation.expired');
    return events.some((e) => e.data.id === late) && events;
  }, { timeoutMs: 60000, what: 'the second expiry' });
  assert.equal(again.length, expiring.length + 1, 'each expiry recorded once');
});

test('events older than --event-retention-days are pruned in the background (the newest stays)', async () => {
  const before = (await call(service, 'GET', '/api/v1/events?limit=100', { key })).events;
  assert.ok(before.length > 5);
  await service.advanceClock(31 * 86400 * 1000);
  await waitFor(async () => (await call(service, 'GET', '/api/v1/events?limit=100', { key })).events.length === 1, {
    timeoutMs: 60000, what: 'the old events to be pruned',
  });
  const [kept] = (await call(service, 'GET', '/api/v1/events', { key })).events;
  assert.equal(kept.id, before[0].id, 'the newest event of the log stays');
  // New events are kept.
  const site = await service.createWebsite(key, 'https://after-pruning.example.com');
  const after = (await call(service, 'GET', '/api/v1/events', { key })).events;
  assert.deepEqual(after.map((e) => e.type), ['website.created', before[0].type]);
  assert.equal(after[0].data.id, site.id);
});
