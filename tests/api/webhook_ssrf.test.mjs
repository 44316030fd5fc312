// Where webhooks may go without --webhook-allow-insecure (SPEC §9): an endpoint on a private
// address is refused when saved, and a host name that resolves to one is refused when the
// delivery connects, on the address actually connected to. `localhost` is such a name: the URL
// check does not resolve names (DNS can change between a check and a connect), so
// https://localhost:PORT/ is saved, and the delivery worker's connect-time check
// (CURLOPT_OPENSOCKETFUNCTION) must refuse 127.0.0.1 / ::1. The receiver on that port counts TCP
// connections: none may arrive.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startService } from '../support/service.mjs';
import { startReceiver } from '../support/webhook_receiver.mjs';
import { GENEROUS_LIMITS, call, expectError, waitFor, websitesInOrder } from '../support/assertions.mjs';

let service;
let receiver;
let key;

const PATH = '/api/v1/webhook-endpoints';

before(async () => {
  receiver = await startReceiver();
  service = await startService({ args: GENEROUS_LIMITS });
  key = service.createOrg('Careful').api_key;
});

after(async () => {
  if (service) assert.equal(await service.stop(), 0);
  if (receiver) await receiver.close();
});

test('without --webhook-allow-insecure: http:// and private address literals are refused when saved', async () => {
  for (const url of [receiver.url('/hook'), `https://127.0.0.1:${receiver.port}/hook`, 'https://10.0.0.8/hook', 'https://[fe80::1]/hook', 'https://169.254.169.254/']) {
    await expectError(service, 'POST', PATH, { key, body: { url } }, 400, 'validation_error', { exactFields: ['url'] });
  }
});

test('a name resolving to 127.0.0.1 (localhost) passes the save check but is refused at connect time; nothing reaches the receiver', async () => {
  const { webhook_endpoint: hook } = await call(service, 'POST', PATH, {
    key, body: { url: `https://localhost:${receiver.port}/hook`, event_types: ['website.created'] }, status: 201,
  });
  await websitesInOrder(service, key, 1, 'ssrf');
  let attempts = [];
  await waitFor(async () => {
    attempts = (await call(service, 'GET', `${PATH}/${hook.id}/deliveries`, { key })).deliveries;
    return attempts.length === 1;
  }, { timeoutMs: 30000, what: 'the refused attempt recorded' });
  const [attempt] = attempts;
  assert.equal(attempt.status_code, null, 'no answer: the connection was never made');
  assert.match(attempt.error, /refused to connect to (127\.0\.0\.1|::1): not a public address/);
  assert.equal(receiver.connections(), 0, 'no TCP connection reached the receiver');
  assert.equal(receiver.requests.length, 0);
  // The refusal is retried like any failure (5 s later), and refused again.
  await service.advanceClock(5000);
  await waitFor(async () => (await call(service, 'GET', `${PATH}/${hook.id}/deliveries`, { key })).deliveries.length === 2, { timeoutMs: 30000, what: 'the retry' });
  assert.equal(receiver.connections(), 0);
});
