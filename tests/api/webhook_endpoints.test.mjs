// Webhook endpoints over the API (SPEC §9): create (the secret once), list and read (never the
// secret), PATCH, delete, rotate-secret; global keys only; the URL rule without
// --webhook-allow-insecure (https on a public address); at most 16 per organization.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startService } from '../support/service.mjs';
import { GENEROUS_LIMITS, TIMESTAMP_RE, UUID_RE, assertKeys, call, createKeyViaApi, expectError, newId, tableCounts, websitesInOrder } from '../support/assertions.mjs';

let service;
let key;
let other;

const PATH = '/api/v1/webhook-endpoints';

before(async () => {
  service = await startService({ args: GENEROUS_LIMITS });
  key = service.createOrg('Hooks Inc').api_key;
  other = service.createOrg('Other Inc').api_key;
});

after(async () => {
  if (service) assert.equal(await service.stop(), 0);
});

const create = (body, k = key) => call(service, 'POST', PATH, { key: k, body, status: 201 });

test('POST: 201 {webhook_endpoint, secret}; the secret is whsec_<base64 of 32 bytes>, shown once, never listed', async () => {
  const created = await create({ url: 'https://hooks.example.com/in', event_types: ['invitation.accepted', 'membership.*'], description: 'CRM' });
  assertKeys(created, ['webhook_endpoint', 'secret']);
  const endpoint = created.webhook_endpoint;
  assertKeys(endpoint, ['id', 'url', 'event_types', 'enabled', 'description', 'created_at', 'updated_at']);
  assert.match(endpoint.id, UUID_RE);
  assert.equal(endpoint.url, 'https://hooks.example.com/in');
  assert.deepEqual(endpoint.event_types, ['invitation.accepted', 'membership.*']);
  assert.equal(endpoint.enabled, true);
  assert.equal(endpoint.description, 'CRM');
  assert.match(endpoint.created_at, TIMESTAMP_RE);
  assert.match(created.secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
  assert.equal(Buffer.from(created.secret.slice(6), 'base64').length, 32);

  const all = await create({ url: 'https://hooks.example.com/all' });
  assert.equal(all.webhook_endpoint.event_types, null, 'no filter: every type');
  assert.notEqual(all.secret, created.secret);

  const listed = await call(service, 'GET', PATH, { key });
  const read = await call(service, 'GET', `${PATH}/${endpoint.id}`, { key });
  assert.deepEqual(read.webhook_endpoint, endpoint);
  const cursor = await call(service, 'GET', `${PATH}?limit=1`, { key });
  assert.equal(cursor.webhook_endpoints.length, 1);
  assert.equal(cursor.has_more, true);
  const next = await call(service, 'GET', `${PATH}?limit=1&starting_after=${cursor.webhook_endpoints[0].id}`, { key });
  assert.notEqual(next.webhook_endpoints[0].id, cursor.webhook_endpoints[0].id);
  for (const text of [JSON.stringify(listed), JSON.stringify(read), JSON.stringify(cursor)]) {
    assert.ok(!text.includes(created.secret.slice(6)) && !text.includes('whsec_'), 'no secret in a list or a read');
  }
  assert.ok(listed.webhook_endpoints.some((e) => e.id === endpoint.id));
  // The secret never reaches the log.
  assert.ok(!service.logs.join('\n').includes(created.secret.slice(6)), 'no secret in the log');

  // Another organization sees none of it.
  await expectError(service, 'GET', `${PATH}/${endpoint.id}`, { key: other }, 404, 'not_found');
  assert.equal((await call(service, 'GET', PATH, { key: other })).webhook_endpoints.length, 0);
  for (const e of [endpoint, all.webhook_endpoint]) await call(service, 'DELETE', `${PATH}/${e.id}`, { key });
});

test('POST: the URL must be https on a public address; event types are exactly SPEC §9 ones; every failing field named; nothing written', async () => {
  const before = tableCounts(service);
  const refused = [
    'http://hooks.example.com/in',
    'https://127.0.0.1/in',
    'https://10.1.2.3/in',
    'https://192.168.0.10/in',
    'https://169.254.169.254/latest/meta-data',
    'https://[::1]/in',
    'https://[fd00:ec2::254]/in',
    'https://0x7f.1/in',
    'https://user:pass@hooks.example.com/',
    'ftp://hooks.example.com/',
    'not a url',
  ];
  for (const url of refused) {
    const body = await expectError(service, 'POST', PATH, { key, body: { url } }, 400, 'validation_error', { exactFields: ['url'] });
    assert.match(body.error, /url/);
  }
  await expectError(service, 'POST', PATH, { key, body: {} }, 400, 'validation_error', { exactFields: ['url'] });
  await expectError(service, 'POST', PATH, {
    key,
    body: { url: 'https://hooks.example.com', event_types: ['invitation.accepted', 'invitation.opened', 'website.*', '*'], enabled: 'yes', description: 'x'.repeat(501), secret: 'mine' },
  }, 400, 'validation_error', { exactFields: ['secret', 'enabled', 'event_types[1]', 'event_types[3]', 'description'] });
  await expectError(service, 'POST', PATH, { key, body: { url: 'https://hooks.example.com', event_types: [] } }, 400, 'validation_error', { exactFields: ['event_types'] });
  assert.deepEqual(tableCounts(service), before);
});

test('global keys only: a scoped key gets 403 global_key_required on every endpoint route', async () => {
  const [site] = await websitesInOrder(service, key, 1, 'scoped-hooks');
  const scoped = (await createKeyViaApi(service, key, 'scoped', [site.id])).api_key;
  const id = newId();
  for (const [method, path, body] of [
    ['POST', PATH, { url: 'https://hooks.example.com' }],
    ['GET', PATH],
    ['GET', `${PATH}/${id}`],
    ['PATCH', `${PATH}/${id}`, { enabled: false }],
    ['DELETE', `${PATH}/${id}`],
    ['POST', `${PATH}/${id}/rotate-secret`],
    ['GET', `${PATH}/${id}/deliveries`],
    ['POST', `${PATH}/${id}/deliveries/${newId()}/retry`],
  ]) {
    await expectError(service, method, path, { key: scoped, body }, 403, 'global_key_required');
  }
});

test('PATCH changes url, event_types, enabled, description (null clears it); the URL rule holds; unknown ids 404', async () => {
  const { webhook_endpoint: endpoint } = await create({ url: 'https://hooks.example.com/a', description: 'first' });
  const patched = await call(service, 'PATCH', `${PATH}/${endpoint.id}`, {
    key, body: { url: 'https://hooks.example.com/b', event_types: ['group.*'], enabled: false, description: null },
  });
  assert.equal(patched.webhook_endpoint.url, 'https://hooks.example.com/b');
  assert.deepEqual(patched.webhook_endpoint.event_types, ['group.*']);
  assert.equal(patched.webhook_endpoint.enabled, false);
  assert.equal(patched.webhook_endpoint.description, null);
  assert.deepEqual((await call(service, 'GET', `${PATH}/${endpoint.id}`, { key })).webhook_endpoint, patched.webhook_endpoint);
  await expectError(service, 'PATCH', `${PATH}/${endpoint.id}`, { key, body: { url: 'https://127.0.0.1/' } }, 400, 'validation_error', { exactFields: ['url'] });
  await expectError(service, 'PATCH', `${PATH}/${newId()}`, { key, body: { enabled: true } }, 404, 'not_found');
  await expectError(service, 'PATCH', `${PATH}/${endpoint.id}`, { key: other, body: { enabled: true } }, 404, 'not_found');
  await call(service, 'DELETE', `${PATH}/${endpoint.id}`, { key });
  await expectError(service, 'GET', `${PATH}/${endpoint.id}`, { key }, 404, 'not_found');
  await expectError(service, 'DELETE', `${PATH}/${endpoint.id}`, { key }, 404, 'not_found');
});

test('rotate-secret: {secret}, a new one each time; unknown ids 404', async () => {
  const created = await create({ url: 'https://hooks.example.com/r' });
  const rotated = await call(service, 'POST', `${PATH}/${created.webhook_endpoint.id}/rotate-secret`, { key });
  assertKeys(rotated, ['secret']);
  assert.match(rotated.secret, /^whsec_/);
  assert.notEqual(rotated.secret, created.secret);
  await expectError(service, 'POST', `${PATH}/${newId()}/rotate-secret`, { key }, 404, 'not_found');
  await expectError(service, 'POST', `${PATH}/${created.webhook_endpoint.id}/rotate-secret`, { key: other }, 404, 'not_found');
  assert.ok(!service.logs.join('\n').includes(rotated.secret.slice(6)), 'no secret in the log');
  await call(service, 'DELETE', `${PATH}/${created.webhook_endpoint.id}`, { key });
});

test('at most 16 endpoints per organization: the 17th is 409 conflict and writes nothing; deleting one makes room', async () => {
  const own = service.createOrg('Many Hooks').api_key;
  const ids = [];
  for (let i = 0; i < 16; i++) ids.push((await create({ url: `https://hooks.example.com/${i}` }, own)).webhook_endpoint.id);
  // Without the request, the delivery worker goes on recording attempts (hooks.example.com does
  // not resolve here) for the events of the 16 creations: those rows are not the request's.
  const counts = () => {
    const { webhook_attempts: _inBackground, ...rest } = tableCounts(service);
    return rest;
  };
  const before = counts();
  const refused = await expectError(service, 'POST', PATH, { key: own, body: { url: 'https://hooks.example.com/17' } }, 409, 'conflict');
  assert.match(refused.error, /16/);
  assert.deepEqual(counts(), before);
  await call(service, 'DELETE', `${PATH}/${ids[0]}`, { key: own });
  await create({ url: 'https://hooks.example.com/17' }, own);
});

test('deliveries of an endpoint: an empty cursor list at first; unknown endpoint 404', async () => {
  const { webhook_endpoint: endpoint } = await create({ url: 'https://hooks.example.com/d' });
  const list = await call(service, 'GET', `${PATH}/${endpoint.id}/deliveries`, { key });
  assert.deepEqual(list.deliveries, []);
  await expectError(service, 'GET', `${PATH}/${newId()}/deliveries`, { key }, 404, 'not_found');
  await expectError(service, 'POST', `${PATH}/${endpoint.id}/deliveries/${newId()}/retry`, { key }, 404, 'not_found');
  await call(service, 'DELETE', `${PATH}/${endpoint.id}`, { key });
});
