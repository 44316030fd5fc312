// API keys over the API (SPEC §2, §5): create (the secret once), list (never secrets),
// revoke (effective on the very next request); global keys only.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startService } from '../support/service.mjs';
import { hexText } from '../support/database.mjs';
import { GENEROUS_LIMITS, TIMESTAMP_RE, UUID_RE, assertKeys, newId, tableCounts } from '../support/assertions.mjs';
import { assertPagination, call, createKeyViaApi, expectError, websitesInOrder } from '../support/assertions.mjs';

let service;
let org;
let key;
let sites;

before(async () => {
  service = await startService({ args: GENEROUS_LIMITS });
  org = service.createOrg('Keys Inc');
  key = org.api_key;
  sites = await websitesInOrder(service, key, 3, 'keys');
});

after(async () => {
  if (service) assert.equal(await service.stop(), 0);
});

test('POST /api/v1/api-keys: 201 {key_id, api_key, name, website_ids}; the secret works, is high-entropy and is stored only as a hash', async () => {
  const global = await createKeyViaApi(service, key, 'back office');
  assertKeys(global, ['key_id', 'api_key', 'name', 'website_ids']);
  assert.match(global.key_id, UUID_RE);
  assert.match(global.api_key, /^ik_[A-Za-z0-9_-]{43,}$/);
  assert.equal(global.name, 'back office');
  assert.deepEqual(global.website_ids, []);
  assert.equal((await call(service, 'GET', '/api/v1/websites', { key: global.api_key })).total, 3, 'a global key sees every website');

  // An empty allowlist is no allowlist: a global key (docs/api.md, decision 14).
  const emptyList = await createKeyViaApi(service, key, 'empty list', []);
  assert.deepEqual(emptyList.website_ids, []);
  assert.equal((await call(service, 'GET', '/api/v1/groups', { key: emptyList.api_key })).total >= 0, true, 'may use global-key routes');

  const scoped = await createKeyViaApi(service, key, 'shop', [sites[2].id, sites[0].id]);
  assert.deepEqual(scoped.website_ids, [sites[2].id, sites[0].id]);
  assert.deepEqual((await call(service, 'GET', '/api/v1/websites', { key: scoped.api_key })).websites.map((w) => w.id), [sites[0].id, sites[2].id]);

  // The database never holds the secret.
  const dump = service.sql(`SELECT ${hexText('key_hash')}, name FROM api_keys`).flat().join('\n');
  assert.ok(!dump.includes(global.api_key) && !dump.includes(scoped.api_key));
  assert.ok(!dump.toLowerCase().includes(Buffer.from(global.api_key).toString('hex').toLowerCase()));
});

test('POST /api/v1/api-keys: validation lists every field; unknown or deleted websites name website_ids[i]; nothing written', async () => {
  const [gone] = await websitesInOrder(service, key, 1, 'gone');
  await call(service, 'DELETE', `/api/v1/websites/${gone.id}`, { key });
  const before = tableCounts(service);
  await expectError(service, 'POST', '/api/v1/api-keys', { key, body: {} }, 400, 'validation_error', { exactFields: ['name'] });
  await expectError(service, 'POST', '/api/v1/api-keys', { key, body: { name: '', website_ids: [sites[0].id, sites[0].id, 'x'], scope: 'all' } }, 400, 'validation_error', {
    exactFields: ['name', 'website_ids[1]', 'website_ids[2]', 'scope'],
  });
  await expectError(service, 'POST', '/api/v1/api-keys', { key, body: { name: 'k', website_ids: [sites[0].id, newId(), gone.id] } }, 400, 'validation_error', {
    exactFields: ['website_ids[1]', 'website_ids[2]'],
  });
  await expectError(service, 'POST', '/api/v1/api-keys', { key, body: { name: 'k', website_ids: 'all' } }, 400, 'validation_error', { exactFields: ['website_ids'] });
  await expectError(service, 'POST', '/api/v1/api-keys', { key, raw: '{"name":', headers: { 'content-type': 'application/json' } }, 400, 'invalid_json');
  assert.deepEqual(tableCounts(service), before);
});

test('GET /api/v1/api-keys: every key with scope and state, never a secret; pagination', async () => {
  const created = await createKeyViaApi(service, key, 'listed', [sites[1].id]);
  const list = await call(service, 'GET', '/api/v1/api-keys?page_size=100', { key });
  assertKeys(list, ['api_keys', 'page_num', 'page_size', 'total']);
  for (const k of list.api_keys) {
    assertKeys(k, ['key_id', 'name', 'scoped', 'website_ids', 'created_at', 'revoked_at']);
    assert.match(k.created_at, TIMESTAMP_RE);
    assert.ok(!JSON.stringify(k).includes('ik_'), 'no secret in the list');
  }
  assert.equal(list.api_keys[0].key_id, org.key_id, 'oldest first: the organization\'s first key');
  assert.equal(list.api_keys[0].name, 'default');
  const listed = list.api_keys.find((k) => k.key_id === created.key_id);
  assert.deepEqual({ ...listed, created_at: undefined }, { key_id: created.key_id, name: 'listed', scoped: true, website_ids: [sites[1].id], created_at: undefined, revoked_at: null });
  assert.ok(!list.text?.includes(created.api_key));
  await assertPagination(service, key, '/api/v1/api-keys', 'api_keys', list.total);
});

test('DELETE /api/v1/api-keys/{key_id}: the next request with the key is 401; idempotent; 404 for unknown or foreign keys', async () => {
  const victim = await createKeyViaApi(service, key, 'victim');
  assert.equal((await service.api('GET', '/api/v1/websites', { key: victim.api_key })).status, 200, 'works (and is cached) before the revoke');
  const revoked = await call(service, 'DELETE', `/api/v1/api-keys/${victim.key_id}`, { key });
  assertKeys(revoked, ['success', 'api_key']);
  assert.equal(revoked.success, true);
  assert.equal(revoked.api_key.key_id, victim.key_id);
  assert.match(revoked.api_key.revoked_at, TIMESTAMP_RE);
  const next = await service.api('GET', '/api/v1/websites', { key: victim.api_key });
  assert.equal(next.status, 401, next.text);
  assert.equal(next.body.code, 'unauthorized');
  assert.equal((await service.api('POST', '/api/v1/websites', { key: victim.api_key, body: { url: 'https://x.example' } })).status, 401);
  assert.deepEqual(await call(service, 'DELETE', `/api/v1/api-keys/${victim.key_id}`, { key }), revoked, 'revoking again: 200, same revoked_at');
  const list = await call(service, 'GET', '/api/v1/api-keys?page_size=100', { key });
  assert.equal(list.api_keys.find((k) => k.key_id === victim.key_id).revoked_at, revoked.api_key.revoked_at, 'revoked keys stay listed');

  // A key can revoke itself; its very next request is 401.
  const selfish = await createKeyViaApi(service, key, 'self-revoking');
  await call(service, 'DELETE', `/api/v1/api-keys/${selfish.key_id}`, { key: selfish.api_key });
  assert.equal((await service.api('GET', '/api/v1/api-keys', { key: selfish.api_key })).status, 401);

  const other = service.createOrg('Keys Elsewhere');
  const before = tableCounts(service);
  for (const id of [newId(), other.key_id]) {
    const body = await expectError(service, 'DELETE', `/api/v1/api-keys/${id}`, { key }, 404, 'not_found');
    assert.equal(body.error, 'API key not found');
  }
  // A malformed id is no route at all.
  const malformed = await expectError(service, 'DELETE', '/api/v1/api-keys/nope', { key }, 404, 'not_found');
  assert.match(malformed.error, /no route/);
  assert.deepEqual(tableCounts(service), before);
  assert.equal((await service.api('GET', '/api/v1/websites', { key: other.api_key })).status, 200, 'the other organization\'s key still works');
});

test('API keys need a global key (403 global_key_required), and a scoped key cannot revoke itself either', async () => {
  const scoped = await createKeyViaApi(service, key, 'scoped', [sites[0].id]);
  const before = tableCounts(service);
  await expectError(service, 'POST', '/api/v1/api-keys', { key: scoped.api_key, body: { name: 'escalate' } }, 403, 'global_key_required');
  await expectError(service, 'GET', '/api/v1/api-keys', { key: scoped.api_key }, 403, 'global_key_required');
  await expectError(service, 'DELETE', `/api/v1/api-keys/${scoped.key_id}`, { key: scoped.api_key }, 403, 'global_key_required');
  await expectError(service, 'DELETE', `/api/v1/api-keys/${org.key_id}`, { key: scoped.api_key }, 403, 'global_key_required');
  assert.deepEqual(tableCounts(service), before);
  assert.equal((await service.api('GET', '/api/v1/websites', { key: scoped.api_key })).status, 200);
});

test('missing, unknown and revoked keys are 401 unauthorized without rate-limit headers', async () => {
  for (const k of [undefined, '', 'ik_unknown', `${key}x`]) {
    const response = await service.api('GET', '/api/v1/api-keys', { key: k });
    assert.equal(response.status, 401);
    assert.equal(response.body.code, 'unauthorized');
    assert.equal(response.headers.get('x-rate-limit-limit'), null);
    assert.match(response.headers.get('x-request-id') ?? '', /^[0-9a-f]{24}$/);
  }
  const ok = await service.api('GET', '/api/v1/api-keys', { key });
  assert.match(ok.headers.get('x-rate-limit-limit') ?? '', /^\d+$/);
});
