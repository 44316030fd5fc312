// Idempotency-Key on POST (SPEC §6): replay, reuse with another body or from another API key, a
// key still in use, that every POST that writes keeps its answer in its own unit, that kept
// answers are sealed at rest, and that a replayed request writes nothing twice, across a
// restart too. (Crashes and several processes: idempotency_exactly_once.test.mjs.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startService } from '../support/service.mjs';
import { bytesAtRest } from '../support/database.mjs';
import { GENEROUS_LIMITS, assertError, tableCounts, uniqueEmail } from '../support/assertions.mjs';

let service;
let org;
let key;
let websites;

before(async () => {
  service = await startService({ args: GENEROUS_LIMITS });
  org = service.createOrg('Idempotent Inc');
  key = org.api_key;
  websites = [];
  for (let i = 0; i < 3; i++) websites.push(await service.createWebsite(key, `https://i${i}.example`, `I ${i}`));
});

after(async () => {
  assert.equal(await service.stop(), 0);
});

const bulk = (email) => ({ invite_method: 'direct', email, website_ids: websites.map((w) => w.id) });
const post = (path, body, idempotencyKey) =>
  service.api('POST', path, { key, body, headers: { 'idempotency-key': idempotencyKey } });
const memberships = (email) =>
  Number(service.sql(`SELECT COUNT(*) FROM website_members m JOIN users u ON u.pk = m.user_pk WHERE u.email = '${email}'`)[0][0]);

test('the same key and body replays the stored response with idempotent-replayed', async () => {
  const email = uniqueEmail('idem');
  const first = await post('/api/v1/invites/bulk', bulk(email), 'replay-1');
  assert.equal(first.status, 200);
  assert.equal(first.headers.get('idempotent-replayed'), null);
  assert.ok(first.body.results.every((r) => r.success));

  const again = await post('/api/v1/invites/bulk', bulk(email), 'replay-1');
  assert.equal(again.status, 200);
  assert.equal(again.headers.get('idempotent-replayed'), 'true');
  // The original answer, not a second run (which would say "already a member").
  assert.deepEqual(again.body, first.body);
  assert.equal(memberships(email), websites.length);
});

test('the same key with another body is 409 idempotency_key_reused and writes nothing', async () => {
  const created = await post('/api/v1/websites', { url: 'https://reuse.example' }, 'reuse-1');
  assert.equal(created.status, 201);
  const before = service.tableCounts();
  const other = await post('/api/v1/websites', { url: 'https://other.example' }, 'reuse-1');
  assertError(other, 409, 'idempotency_key_reused');
  assert.deepEqual(service.tableCounts(), before);
  // Same body on another path is another request too.
  const elsewhere = await post('/api/v1/groups', { url: 'https://reuse.example' }, 'reuse-1');
  assertError(elsewhere, 409, 'idempotency_key_reused');
});

test('keys belong to one organization', async () => {
  const otherKey = service.createOrg('Other Org').api_key;
  const mine = await post('/api/v1/websites', { url: 'https://mine.example' }, 'shared-key');
  const theirs = await service.api('POST', '/api/v1/websites', {
    key: otherKey,
    body: { url: 'https://mine.example' },
    headers: { 'idempotency-key': 'shared-key' },
  });
  assert.equal(mine.status, 201);
  assert.equal(theirs.status, 201);
  assert.equal(theirs.headers.get('idempotent-replayed'), null);
  assert.notEqual(theirs.body.website.id, mine.body.website.id);
});

test('concurrent requests with one key: one runs, the others replay it or are told it is in use', async () => {
  const email = uniqueEmail('race');
  const responses = await Promise.all(
    Array.from({ length: 12 }, () => post('/api/v1/invites/bulk', bulk(email), 'race-1')),
  );
  const fresh = responses.filter((r) => r.status === 200 && r.headers.get('idempotent-replayed') === null);
  const replays = responses.filter((r) => r.headers.get('idempotent-replayed') === 'true');
  const inUse = responses.filter((r) => r.status === 409);
  assert.equal(fresh.length, 1, responses.map((r) => `${r.status} ${r.text}`).join('\n'));
  assert.equal(fresh.length + replays.length + inUse.length, responses.length);
  for (const replay of replays) assert.deepEqual(replay.body, fresh[0].body);
  for (const refusal of inUse) assertError(refusal, 409, 'idempotency_key_in_use');
  assert.equal(memberships(email), websites.length);
  // Once the first has finished, the key replays.
  const later = await post('/api/v1/invites/bulk', bulk(email), 'race-1');
  assert.equal(later.headers.get('idempotent-replayed'), 'true');
});

test('a rejected request is not kept: fixing the body and retrying with the same key runs it', async () => {
  const bad = await post('/api/v1/websites', { url: 'not a url' }, 'fix-1');
  assertError(bad, 400, 'validation_error');
  // Only successes are kept: a failure wrote nothing, so the retry runs.
  const good = await post('/api/v1/websites', { url: 'https://fixed.example' }, 'fix-1');
  assert.equal(good.status, 201);
});

test('a malformed key is a validation error naming the header', async () => {
  for (const bad of ['x'.repeat(256), 'has space']) {
    assertError(await post('/api/v1/websites', { url: 'https://k.example' }, bad), 400, 'validation_error', {
      exactFields: ['Idempotency-Key'],
    });
  }
});

test('every POST that writes keeps its answer in its own unit of work: the replay runs nothing', async () => {
  const deleted = await service.createWebsite(key, 'https://every-restore.example');
  assert.equal((await service.api('DELETE', `/api/v1/websites/${deleted.id}`, { key })).status, 200);
  const resendee = uniqueEmail('every-resend');
  const batch = await service.api('POST', '/api/v1/invites/bulk', {
    key,
    body: { invite_method: 'email', email: resendee, website_ids: [websites[0].id] },
  });
  assert.equal(batch.status, 200, batch.text);
  const cases = [
    ['/api/v1/websites', { url: 'https://every.example' }],
    [`/api/v1/websites/${deleted.id}/restore`, undefined],
    ['/api/v1/groups', { name: 'Every group', website_ids: [websites[1].id] }],
    ['/api/v1/api-keys', { name: 'every key' }],
    ['/api/v1/invites', { type: 'website', website_id: websites[2].id, email: uniqueEmail('every'), invite_method: 'email' }],
    [`/api/v1/invites/${batch.body.results[0].invite_id}/resend`, undefined],
    ['/api/v1/invites/bulk', { invite_method: 'email', email: uniqueEmail('every-bulk'), website_ids: [websites[0].id] }],
  ];
  for (const [path, body] of cases) {
    const idem = `every ${path}`.replaceAll(' ', '-');
    const first = await post(path, body, idem);
    assert.ok(first.status >= 200 && first.status < 300, `${path}: ${first.status} ${first.text}`);
    // Kept by the request's own unit, before it answered; sealed, not in clear.
    const [[status, keptBody]] = service.sql(`SELECT status, body FROM idempotent_responses WHERE key = '${idem}'`);
    assert.equal(status, String(first.status), path);
    assert.ok(!keptBody.includes(first.text) && !keptBody.includes('"success"') && !keptBody.includes('{'), keptBody);
    const counts = tableCounts(service);
    const again = await post(path, body, idem);
    assert.equal(again.status, first.status, path);
    assert.equal(again.headers.get('idempotent-replayed'), 'true', path);
    assert.deepEqual(again.body, first.body, path);
    assert.deepEqual(tableCounts(service), counts, `${path}: the replay wrote nothing`);
  }
});

test('a copy of the database does not reveal a kept response: the secret of a key created with an Idempotency-Key is sealed', async () => {
  const created = await post('/api/v1/api-keys', { name: 'sealed key' }, 'sealed-1');
  assert.equal(created.status, 201, created.text);
  const secret = created.body.api_key;
  // Everything the store keeps at rest (SQLite: the database file and its write-ahead log;
  // PostgreSQL: the pages of the service's tables and indexes).
  for (const { what, bytes } of bytesAtRest(service)) assert.ok(!bytes.includes(Buffer.from(secret)), `${what} holds the secret`);
  // The caller still gets it back on a retry.
  const again = await post('/api/v1/api-keys', { name: 'sealed key' }, 'sealed-1');
  assert.equal(again.headers.get('idempotent-replayed'), 'true');
  assert.equal(again.body.api_key, secret);
});

test('the same key and body from another API key of the organization is another request: 409 reused, nothing written', async () => {
  const first = await post('/api/v1/websites', { url: 'https://two-keys.example' }, 'two-keys-1');
  assert.equal(first.status, 201);
  const otherKey = service.createKey(org.org_id, [], 'second key').api_key;
  const before = service.tableCounts();
  const other = await service.api('POST', '/api/v1/websites', {
    key: otherKey,
    body: { url: 'https://two-keys.example' },
    headers: { 'idempotency-key': 'two-keys-1' },
  });
  assertError(other, 409, 'idempotency_key_reused');
  assert.deepEqual(service.tableCounts(), before);
});

test('kept responses survive a restart', async () => {
  const created = await post('/api/v1/websites', { url: 'https://durable.example' }, 'durable-1');
  assert.equal(created.status, 201);
  const dir = service.dir;
  const env = service.extraEnv;
  assert.equal(await service.stop(), 0);
  service = await startService({ dir, env, args: GENEROUS_LIMITS });
  const replay = await post('/api/v1/websites', { url: 'https://durable.example' }, 'durable-1');
  assert.equal(replay.headers.get('idempotent-replayed'), 'true');
  assert.deepEqual(replay.body, created.body);
});
