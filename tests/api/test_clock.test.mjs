// The test clock (POST /_test/clock, test builds only): moving the service's clock forward is
// what every time-dependent test relies on, so it is tested on its own: an invite pending now is
// expired once the clock has passed its expiry, without waiting, and the clock never runs back.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startService } from '../support/service.mjs';
import { GENEROUS_LIMITS, call, inviteByEmail, uniqueEmail } from '../support/assertions.mjs';

let service;
let key;
let site;

before(async () => {
  service = await startService({ args: [...GENEROUS_LIMITS, '--invite-expiry-days', '1'] });
  key = service.createOrg('Clock Org', uniqueEmail('owner')).api_key;
  site = await service.createWebsite(key, 'https://clock.example');
});

after(async () => {
  if (service) assert.equal(await service.stop(), 0);
});

test('advancing the clock past an invite expiry makes it expired at once; the clock only moves forward', async () => {
  const [inviteId] = await inviteByEmail(service, key, uniqueEmail('clock'), [site.id]);
  const before = (await call(service, 'GET', `/api/v1/invites/${inviteId}`, { key })).invite;
  assert.equal(before.status, 'pending');
  const expiresMs = Date.parse(before.expires_at);

  const start = await service.advanceClock(0);
  assert.ok(start < expiresMs, 'a new invite expires in the future');
  const moved = await service.advanceClock(expiresMs - start + 1000);
  assert.ok(moved > expiresMs, `the clock moved past the expiry: ${moved} > ${expiresMs}`);
  const after = (await call(service, 'GET', `/api/v1/invites/${inviteId}`, { key })).invite;
  assert.equal(after.status, 'expired');

  const rejected = await service.fetch('/_test/clock', {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ advance_ms: -5000 }),
  });
  assert.equal(rejected.status, 400);
  assert.ok((await service.advanceClock(0)) >= moved, 'the clock never runs back');
});
