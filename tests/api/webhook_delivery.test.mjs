// Webhook deliveries end to end (SPEC §9) with a real receiver (tests/support/webhook_receiver.mjs)
// and the service's test clock: every event type this suite can cause arrives signed and verifies
// with the Standard Webhooks algorithm (the test's own verifier and the snippet of
// docs/webhooks.md); a 500 then 200 is retried with the same webhook-id; redirects are not
// followed; a manual retry keeps the webhook-id; a rotated secret signs beside the new one for
// 24 h, then only the new one; an endpoint failing for 5 days is disabled. The service runs with
// --webhook-allow-insecure (the receiver is on 127.0.0.1); webhook_ssrf.test.mjs covers the
// refusals without it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startService } from '../support/service.mjs';
import { startReceiver, signersOf } from '../support/webhook_receiver.mjs';
import { GENEROUS_LIMITS, addDirect, call, createGroup, createKeyViaApi, inviteByEmail, latestToken, uniqueEmail, waitFor, websitesInOrder } from '../support/assertions.mjs';

let service;
let receiver;
let docsVerify;

const PATH = '/api/v1/webhook-endpoints';
const HOUR = 3600 * 1000;
const WAIT = { timeoutMs: 30000 };

before(async () => {
  receiver = await startReceiver();
  service = await startService({ args: [...GENEROUS_LIMITS, '--webhook-allow-insecure'] });
  // The verification snippet of docs/webhooks.md, run as the guide gives it.
  const guide = readFileSync(new URL('../../docs/webhooks.md', import.meta.url), 'utf8');
  const snippet = /```js\n([\s\S]*?)```/.exec(guide)[1];
  const file = join(mkdtempSync(join(tmpdir(), 'webhooks-guide-')), 'verify.mjs');
  writeFileSync(file, snippet);
  docsVerify = (await import(file)).verifyWebhook;
});

after(async () => {
  if (service) assert.equal(await service.stop(), 0);
  if (receiver) await receiver.close();
});

async function endpoint(key, path, body = {}) {
  return call(service, 'POST', PATH, { key, body: { url: receiver.url(path), ...body }, status: 201 });
}

function parsed(request) {
  return JSON.parse(request.body);
}

async function deliveries(key, endpointId) {
  return (await call(service, 'GET', `${PATH}/${endpointId}/deliveries?limit=100`, { key })).deliveries;
}

test('every event type the API can cause arrives once, signed, verifiable; body {type, timestamp, data} is the event; webhook-id is the event id', async () => {
  const org = service.createOrg('All Events');
  const key = org.api_key;
  const { webhook_endpoint: hook, secret } = await endpoint(key, '/all');
  // What each of these causes (SPEC §9); the receiver must see every type.
  const [site, site2] = await websitesInOrder(service, key, 2, 'events');
  await call(service, 'DELETE', `/api/v1/websites/${site2.id}`, { key });
  await call(service, 'POST', `/api/v1/websites/${site2.id}/restore`, { key });
  const group = await createGroup(service, key, 'G', [site.id]);
  await call(service, 'PATCH', `/api/v1/groups/${group.id}`, { key, body: { name: 'G2' } });
  await call(service, 'DELETE', `/api/v1/groups/${group.id}`, { key });
  const made = await createKeyViaApi(service, key, 'extra');
  await call(service, 'DELETE', `/api/v1/api-keys/${made.key_id}`, { key });
  const member = uniqueEmail('member');
  const userId = await addDirect(service, key, member, [site.id]);
  await call(service, 'PATCH', `/api/v1/websites/${site.id}/members/${userId}`, { key, body: { role: 'admin' } });
  await call(service, 'DELETE', `/api/v1/websites/${site.id}/members/${userId}`, { key });
  const accepter = uniqueEmail('accepter');
  await inviteByEmail(service, key, accepter, [site.id]);
  await call(service, 'POST', '/api/v1/invitations/accept', { body: { token: await latestToken(service, accepter) } });
  const decliner = uniqueEmail('decliner');
  await inviteByEmail(service, key, decliner, [site.id]);
  const declined = await service.fetch('/invites/decline', {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: `token=${encodeURIComponent(await latestToken(service, decliner))}`,
  });
  assert.equal(declined.status, 200);
  const revoked = uniqueEmail('revoked');
  const [revokedInvite] = await inviteByEmail(service, key, revoked, [site.id]);
  await call(service, 'POST', `/api/v1/invites/${revokedInvite}/resend`, { key });
  await call(service, 'DELETE', `/api/v1/invites/${revokedInvite}`, { key });
  const { webhook_endpoint: other } = await endpoint(key, '/other', { event_types: ['group.*'] });
  await call(service, 'PATCH', `${PATH}/${other.id}`, { key, body: { description: 'changed' } });
  await call(service, 'POST', `${PATH}/${other.id}/rotate-secret`, { key });
  await call(service, 'DELETE', `${PATH}/${other.id}`, { key });
  // Expiry: an invite left pending past its 7 days is swept (actor system) within seconds.
  await inviteByEmail(service, key, uniqueEmail('expiring'), [site2.id]);
  await service.advanceClock(8 * 24 * HOUR);

  const expected = [
    'website.created', 'website.deleted', 'website.restored', 'group.created', 'group.updated', 'group.deleted',
    'api_key.created', 'api_key.revoked', 'membership.created', 'membership.updated', 'membership.deleted',
    'invitation.created', 'invitation.accepted', 'invitation.declined', 'invitation.resent', 'invitation.revoked',
    'invitation.expired', 'webhook_endpoint.created', 'webhook_endpoint.updated', 'webhook_endpoint.secret_rotated',
    'webhook_endpoint.deleted',
  ];
  await waitFor(() => {
    const seen = new Set(receiver.to('/all').map((r) => parsed(r).type));
    return expected.every((type) => seen.has(type));
  }, { ...WAIT, what: 'every event type at the receiver' });

  const received = receiver.to('/all');
  const ids = received.map((r) => r.headers['webhook-id']);
  assert.equal(new Set(ids).size, ids.length, 'each event delivered once');
  for (const request of received) {
    assert.equal(request.method, 'POST');
    assert.match(request.headers['content-type'], /^application\/json/);
    assert.deepEqual(signersOf(request, [secret]), [secret], `signature of ${request.body}`);
    assert.ok(docsVerify([secret], request.headers, request.body, { now: Number(request.headers['webhook-timestamp']) * 1000 }), 'the guide\'s snippet verifies it');
    assert.ok(!docsVerify(['whsec_' + Buffer.alloc(32).toString('base64')], request.headers, request.body, { now: Number(request.headers['webhook-timestamp']) * 1000 }), 'not with another secret');
    const tampered = { ...request, body: request.body.replace('}', ' }') };
    assert.deepEqual(signersOf(tampered, [secret]), [], 'a changed body fails');
    const body = parsed(request);
    assert.deepEqual(Object.keys(body).sort(), ['data', 'timestamp', 'type']);
    assert.match(request.headers['webhook-timestamp'], /^\d+$/);
    // The event of the log, by the webhook-id.
    const { event } = await call(service, 'GET', `/api/v1/events/${request.headers['webhook-id']}`, { key });
    assert.equal(event.type, body.type);
    assert.equal(event.occurred_at, body.timestamp);
    assert.deepEqual(event.data, body.data);
  }
  // The endpoint's own creation reached it; `other` (group.* only) got only group events while it lived.
  assert.ok(received.some((r) => parsed(r).type === 'webhook_endpoint.created' && parsed(r).data.id === hook.id));
  for (const r of receiver.to('/other')) assert.match(parsed(r).type, /^group\./);
  // No secret in any event body or in the service's log.
  for (const r of received) assert.ok(!r.body.includes('whsec_'));
  assert.ok(!service.logs.join('\n').includes(secret.slice(6)), 'no secret in the log');
  const attempts = await deliveries(key, hook.id);
  assert.ok(attempts.length >= expected.length);
  for (const a of attempts) {
    assert.equal(a.status_code, 200);
    assert.equal(a.error, null);
    assert.equal(a.attempt, 1);
  }
});

test('a receiver answering 500 then 200 gets a retry with the same webhook-id; the attempts are listed', async () => {
  const key = service.createOrg('Flaky').api_key;
  receiver.answer('/flaky', [500, 200]);
  const { webhook_endpoint: hook, secret } = await endpoint(key, '/flaky', { event_types: ['website.created'] });
  await websitesInOrder(service, key, 1, 'flaky');
  await waitFor(() => receiver.to('/flaky').length >= 1, { ...WAIT, what: 'the first attempt' });
  await waitFor(async () => (await deliveries(key, hook.id)).length === 1, { ...WAIT, what: 'the first attempt recorded' });
  // The first retry is due 5 s later on the service's clock.
  await service.advanceClock(5000);
  await waitFor(() => receiver.to('/flaky').length >= 2, { ...WAIT, what: 'the retry' });
  const [first, second] = receiver.to('/flaky');
  assert.equal(second.headers['webhook-id'], first.headers['webhook-id']);
  assert.equal(second.body, first.body);
  assert.deepEqual(signersOf(second, [secret]), [secret]);
  await waitFor(async () => (await deliveries(key, hook.id)).length === 2, { ...WAIT, what: 'both attempts recorded' });
  const [a1, a2] = await deliveries(key, hook.id);
  assert.equal(a1.attempt, 1);
  assert.equal(a1.status_code, 500);
  assert.match(a1.error, /500/);
  assert.match(a1.error, /answer 500 from the test receiver/, 'a short excerpt of the answer');
  assert.equal(a2.attempt, 2);
  assert.equal(a2.status_code, 200);
  assert.equal(a2.error, null);
  assert.equal(a1.event_id, first.headers['webhook-id']);
  assert.equal(a1.event_type, 'website.created');
  assert.ok(a1.duration_ms >= 0);
});

test('redirects are not followed: a 302 is a failed attempt; a manual retry sends the same webhook-id again', async () => {
  const key = service.createOrg('Redirected').api_key;
  receiver.answer('/moved', [302]);
  receiver.answer('/moved', () => ({ status: 302, headers: { location: receiver.url('/target') } }));
  const { webhook_endpoint: hook } = await endpoint(key, '/moved', { event_types: ['website.created'] });
  await websitesInOrder(service, key, 1, 'moved');
  await waitFor(async () => (await deliveries(key, hook.id)).length === 1, { ...WAIT, what: 'the attempt' });
  const [attempt] = await deliveries(key, hook.id);
  assert.equal(attempt.status_code, 302);
  assert.match(attempt.error, /redirects are not followed/);
  assert.equal(receiver.to('/target').length, 0, 'the Location was not followed');

  // Now the endpoint answers 200; a manual retry of that attempt goes out at once, same webhook-id.
  receiver.answer('/moved', [200]);
  const before = receiver.to('/moved').length;
  await call(service, 'POST', `${PATH}/${hook.id}/deliveries/${attempt.id}/retry`, { key, status: 202 });
  await waitFor(() => receiver.to('/moved').length > before, { ...WAIT, what: 'the manual retry' });
  const again = receiver.to('/moved').at(-1);
  assert.equal(again.headers['webhook-id'], attempt.event_id);
  await waitFor(async () => (await deliveries(key, hook.id)).some((a) => a.status_code === 200), { ...WAIT, what: 'the retry recorded' });
  await call(service, 'DELETE', `${PATH}/${hook.id}`, { key });
});

test('after rotate-secret deliveries carry both signatures for 24 hours, then only the new one', async () => {
  const key = service.createOrg('Rotating').api_key;
  const { webhook_endpoint: hook, secret: old } = await endpoint(key, '/rotating', { event_types: ['website.*'] });
  const { secret: fresh } = await call(service, 'POST', `${PATH}/${hook.id}/rotate-secret`, { key });
  await websitesInOrder(service, key, 1, 'rot-a');
  await waitFor(() => receiver.to('/rotating').length === 1, { ...WAIT, what: 'a delivery after the rotation' });
  const during = receiver.to('/rotating')[0];
  assert.equal(during.headers['webhook-signature'].split(' ').length, 2);
  assert.deepEqual(signersOf(during, [fresh, old]), [fresh, old]);

  await service.advanceClock(24 * HOUR + 60000);
  await websitesInOrder(service, key, 1, 'rot-b');
  await waitFor(() => receiver.to('/rotating').length === 2, { ...WAIT, what: 'a delivery a day later' });
  const later = receiver.to('/rotating')[1];
  assert.equal(later.headers['webhook-signature'].split(' ').length, 1);
  assert.deepEqual(signersOf(later, [fresh, old]), [fresh]);
});

test('retries follow 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, then failed; with no success for 5 days the endpoint is disabled (event by the system)', async () => {
  const key = service.createOrg('Dead End').api_key;
  receiver.answer('/dead', [503]);
  const { webhook_endpoint: hook } = await endpoint(key, '/dead', { event_types: ['website.created'] });
  const delays = [5000, 5 * 60000, 30 * 60000, 2 * HOUR, 5 * HOUR, 10 * HOUR, 10 * HOUR];

  // One delivery's 8 attempts: each comes only once the clock reaches its due time.
  async function runSchedule(count) {
    await websitesInOrder(service, key, 1, `dead-${count}`);
    for (let attempt = 1; attempt <= 8; attempt++) {
      await waitFor(() => receiver.to('/dead').length === count + attempt, { ...WAIT, what: `attempt ${attempt}` });
      // Its retry is scheduled from when the attempt is recorded (after the answer): move the
      // clock only then, or the move lands before the schedule and the retry comes a delay late.
      await waitFor(async () => (await deliveries(key, hook.id)).length === count + attempt, { ...WAIT, what: `attempt ${attempt} recorded` });
      if (attempt === 8) break;
      // Not before its time: 30 s short of the delay (real time runs on too; the 5 s one is too
      // short to check without a race), nothing more arrives.
      const margin = delays[attempt - 1] > 60000 ? 30000 : 0;
      await service.advanceClock(delays[attempt - 1] - margin);
      if (margin > 0) {
        assert.equal(receiver.to('/dead').length, count + attempt, `attempt ${attempt + 1} waits for its due time`);
        await service.advanceClock(margin);
      }
    }
    await waitFor(async () => (await deliveries(key, hook.id)).length === count + 8, { ...WAIT, what: 'the last attempt recorded' });
  }

  await runSchedule(0);
  const first = receiver.to('/dead').slice(0, 8);
  assert.equal(new Set(first.map((r) => r.headers['webhook-id'])).size, 1, 'one webhook-id for every attempt');
  // About 28 hours since its creation: failed, but the endpoint stays enabled.
  assert.equal((await call(service, 'GET', `${PATH}/${hook.id}`, { key })).webhook_endpoint.enabled, true);
  await service.advanceClock(4 * 24 * HOUR);
  await runSchedule(8);
  const after = (await call(service, 'GET', `${PATH}/${hook.id}`, { key })).webhook_endpoint;
  assert.equal(after.enabled, false, 'no success for 5 days and a finally failed delivery');
  const { events } = await call(service, 'GET', '/api/v1/events?type=webhook_endpoint.updated', { key });
  assert.equal(events.length, 1);
  assert.deepEqual(events[0].actor, { type: 'system' });
  assert.equal(events[0].data.enabled, false);
  // Disabled: nothing more is delivered to it.
  await websitesInOrder(service, key, 1, 'dead-after');
  await service.advanceClock(HOUR);
  const attempts = (await deliveries(key, hook.id)).length;
  assert.equal(attempts, 16);
  // A manual retry of a disabled endpoint is refused until it is enabled again.
  const [a] = await deliveries(key, hook.id);
  const refused = await service.api('POST', `${PATH}/${hook.id}/deliveries/${a.id}/retry`, { key });
  assert.equal(refused.status, 409);
});
