// Whole-request errors and their order (SPEC §3), request ids, rate-limit headers and rate limits
// (SPEC §6), on the bulk endpoint.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startService, startWithOrg } from '../support/service.mjs';
import {
  GENEROUS_LIMITS, assertError, bulk, createWebsites, newId, rawRequest, tableCounts, uniqueEmail,
} from '../support/assertions.mjs';

const BULK = '/api/v1/invites/bulk';
const LIMIT = 64 * 1024;

let service;
let org;
let key;
let websites;
let scopedKey;

before(async () => {
  ({ service, org, key, websites } = await startWithOrg({ websiteCount: 2, args: GENEROUS_LIMITS }));
  scopedKey = service.createKey(org.org_id, [websites[0].id], 'scoped').api_key;
});

after(async () => {
  if (service) assert.equal(await service.stop(), 0);
});

const validBody = () => ({ invite_method: 'direct', email: uniqueEmail('err'), website_ids: [websites[0].id] });

// A raw POST to the bulk endpoint: `body` is sent as bytes, with exactly the given headers.
function rawPost(body, { contentType, apiKey = key, headers = {} } = {}) {
  const h = { ...headers };
  if (contentType !== undefined) h['content-type'] = contentType;
  const raw = Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
  return service.api('POST', BULK, { key: apiKey, raw, headers: h });
}

// Runs `send` and asserts that nothing was written.
async function writesNothing(send) {
  const before = tableCounts(service);
  const response = await send();
  assert.deepEqual(tableCounts(service), before, `nothing written for ${response.status} ${response.text}`);
  return response;
}

function nested(depth) {
  // An object whose value nests arrays so that the whole document is `depth` levels deep.
  return `{"website_ids":${'['.repeat(depth - 1)}${']'.repeat(depth - 1)}}`;
}

test('invalid JSON is 400 invalid_json and writes nothing', async () => {
  const cases = {
    'syntax error': '{"invite_method": "direct",',
    'single quotes': "{'email': 'a@b.c'}",
    'trailing data': '{}x',
    'two objects': '{}{}',
    'a JSON array': JSON.stringify([validBody()]),
    'a string': '"hello"',
    'null': 'null',
    'empty body': '',
    'nesting deeper than 32': nested(33),
    'invalid UTF-8 in a string': Buffer.concat([Buffer.from('{"invite_method":"direct","email":"'), Buffer.from([0xff, 0xfe]), Buffer.from('@example.com"}')]),
  };
  for (const [name, text] of Object.entries(cases)) {
    const response = await writesNothing(() => rawPost(text, { contentType: 'application/json' }));
    assert.equal(response.status, 400, `${name}: ${response.text}`);
    assertError(response, 400, 'invalid_json');
  }
});

test('nesting of exactly 32 levels is valid JSON (then a field error)', async () => {
  const response = await writesNothing(() => rawPost(nested(32), { contentType: 'application/json' }));
  assertError(response, 400, 'validation_error');
});

test('a missing or wrong Content-Type is 415 unsupported_media_type and writes nothing', async () => {
  const body = JSON.stringify(validBody());
  for (const contentType of [undefined, 'text/plain', 'application/x-www-form-urlencoded', 'application/jsonx', 'application/json-patch+json']) {
    const response = await writesNothing(() => rawPost(body, { contentType }));
    assertError(response, 415, 'unsupported_media_type');
  }
});

test('application/json with parameters or in another letter case is accepted', async () => {
  for (const contentType of ['application/json; charset=utf-8', 'Application/JSON']) {
    const response = await rawPost(JSON.stringify(validBody()), { contentType });
    assert.equal(response.status, 200, `${contentType}: ${response.text}`);
  }
});

// Oversized bodies get their own service each: if one brings the process down, the other tests
// still run, and the test itself proves the service survived (health check, exit code 0).
async function withOwnService(fn) {
  const own = await startWithOrg({ websiteCount: 1, args: GENEROUS_LIMITS });
  let failure;
  try {
    await fn(own);
    const health = await own.service.api('GET', '/healthz');
    assert.equal(health.status, 200, 'the service is still up after an oversized body');
  } catch (error) {
    failure = error;
  }
  const code = await own.service.stop();
  if (failure) throw failure;
  assert.equal(code, 0, 'clean exit after an oversized body');
}

// An oversized upload goes through rawRequest (a client that stops sending once answered), with a
// Content-Length unless `chunked`.
function ownPost(own, text, { contentType = 'application/json', apiKey = own.key, chunked = false } = {}) {
  const headers = {};
  // null (not undefined, which takes the default) leaves the header out.
  if (contentType !== null) headers['content-type'] = contentType;
  if (apiKey !== null) headers['x-api-key'] = apiKey;
  const bytes = Buffer.from(text, 'utf8');
  const chunks = [];
  for (let i = 0; i < bytes.length; i += 8192) chunks.push(bytes.subarray(i, i + 8192));
  return rawRequest(own.service.port, { path: BULK, headers, chunks, contentLength: !chunked });
}

function ownBody(own) {
  return JSON.stringify({ invite_method: 'direct', email: uniqueEmail('big'), website_ids: [own.websites[0].id] });
}

function pad(text, bytes) {
  return text + ' '.repeat(bytes - Buffer.byteLength(text));
}

test('an oversized body with a Content-Length does not bring the service down', async () => {
  const own = await startWithOrg({ websiteCount: 1, args: GENEROUS_LIMITS });
  let code;
  try {
    // Whatever the answer, the process must survive it (SPEC §6: body at most 64 KiB).
    await ownPost(own, pad(ownBody(own), LIMIT + 1)).catch(() => undefined);
    const health = await own.service.api('GET', '/healthz').catch((error) => ({ status: `fetch failed: ${error.cause?.message ?? error.message}` }));
    assert.equal(health.status, 200, 'GET /healthz after an oversized request');
  } finally {
    code = await own.service.stop();
  }
  assert.equal(code, 0, `exit code after an oversized request (null = killed by a signal); stderr tail:\n${own.service.logs.filter((l) => /AddressSanitizer|SUMMARY|free\(\)|abort/i.test(l)).slice(0, 3).join('\n')}`);
});

test('a body of 64 KiB + 1 byte is 413 payload_too_large and writes nothing', async () => {
  await withOwnService(async (own) => {
    const before = tableCounts(own.service);
    const response = await ownPost(own, pad(ownBody(own), LIMIT + 1));
    assertError(response, 413, 'payload_too_large');
    assert.ok(response.headers.get('x-request-id'), 'x-request-id on the 413');
    assert.deepEqual(tableCounts(own.service), before);
  });
});

test('a 1 MiB body is 413 payload_too_large', async () => {
  await withOwnService(async (own) => {
    assertError(await ownPost(own, pad(ownBody(own), 1024 * 1024)), 413, 'payload_too_large');
  });
});

test('an oversized body sent chunked (no Content-Length) is 413 payload_too_large', async () => {
  await withOwnService(async (own) => {
    const before = tableCounts(own.service);
    assertError(await ownPost(own, pad(ownBody(own), LIMIT + 4096), { chunked: true }), 413, 'payload_too_large');
    assertError(await ownPost(own, pad(ownBody(own), LIMIT + 1), { chunked: true }), 413, 'payload_too_large');
    assert.deepEqual(tableCounts(own.service), before);
  });
});

test('a body of exactly 64 KiB is accepted', async () => {
  await withOwnService(async (own) => {
    for (const chunked of [false, true]) {
      const response = await ownPost(own, pad(ownBody(own), LIMIT), { chunked });
      assert.equal(response.status, 200, response.text);
    }
  });
});

test('the key is checked before the size: an oversized body without a valid key is 401', async () => {
  await withOwnService(async (own) => {
    for (const apiKey of [null, 'ik_unknown']) {
      assertError(await ownPost(own, pad('{}', LIMIT + 10), { apiKey }), 401, 'unauthorized');
    }
  });
});

test('with a valid key the size is checked first: 413 before 415 and before invalid_json', async () => {
  await withOwnService(async (own) => {
    const notJson = 'x'.repeat(LIMIT + 1);
    assertError(await ownPost(own, notJson, { contentType: 'text/plain' }), 413, 'payload_too_large');
    assertError(await ownPost(own, notJson, { contentType: null }), 413, 'payload_too_large');
    assertError(await ownPost(own, notJson), 413, 'payload_too_large');
  });
});

test('unknown route: 404 not_found', async () => {
  for (const path of ['/api/v1/invitez/bulk', '/api/v1/nothing', '/nope', '/api/v2/invites/bulk', '/api/v1/invites/bulk/extra/deep']) {
    const response = await service.api('POST', path, { key, body: validBody() });
    assertError(response, 404, 'not_found');
  }
});

test('wrong method on a known path: 405 method_not_allowed with an Allow header', async () => {
  for (const method of ['PUT', 'PATCH', 'GET', 'DELETE']) {
    const response = await service.api(method, BULK, { key });
    assertError(response, 405, 'method_not_allowed');
    const allow = response.headers.get('allow') ?? '';
    assert.ok(allow.split(',').map((m) => m.trim()).includes('POST'), `Allow: ${allow}`);
    assert.ok(!allow.split(',').map((m) => m.trim()).includes(method), `Allow: ${allow}`);
  }
  // A collection lists every method it takes.
  const collection = await service.api('PUT', '/api/v1/websites', { key });
  assertError(collection, 405, 'method_not_allowed');
  const allow = (collection.headers.get('allow') ?? '').split(',').map((m) => m.trim()).sort();
  assert.deepEqual(allow, ['GET', 'HEAD', 'POST']);
});

test('route checks come before the key: 404 and 405 without a key', async () => {
  assertError(await service.api('POST', '/api/v1/unknown-thing', { body: validBody() }), 404, 'not_found');
  const response = await service.api('PUT', BULK, {});
  assertError(response, 405, 'method_not_allowed');
  assert.ok(response.headers.get('allow'));
});

test('no key, an empty key or an unknown key: 401 unauthorized, even with a bad body', async () => {
  const bodies = [
    () => ({ raw: Buffer.from(JSON.stringify(validBody())), headers: { 'content-type': 'application/json' } }),
    () => ({ raw: Buffer.from('{not json'), headers: { 'content-type': 'application/json' } }),
    () => ({ raw: Buffer.from('{}'), headers: { 'content-type': 'text/plain' } }),
    () => ({ raw: Buffer.from(JSON.stringify({ invite_method: 'x' })), headers: { 'content-type': 'application/json' } }),
  ];
  for (const apiKey of [undefined, '', 'ik_definitely-not-a-key', `${key}x`, key.slice(0, -1)]) {
    for (const make of bodies) {
      const response = await writesNothing(() => service.api('POST', BULK, { key: apiKey, ...make() }));
      assertError(response, 401, 'unauthorized');
    }
  }
});

test('with a valid key the checks run in order: 415, then invalid_json, then validation_error, then 403', async () => {
  // (413 first: see the oversized-body tests above.)
  // Wrong type, not JSON: 415 wins.
  assertError(await rawPost('{not json', { contentType: 'text/plain' }), 415, 'unsupported_media_type');
  assertError(await rawPost('{not json', {}), 415, 'unsupported_media_type');
  // Not JSON (and a scoped key that would be refused group_ids): invalid_json wins.
  assertError(await rawPost('{"group_ids": [', { contentType: 'application/json', apiKey: scopedKey }), 400, 'invalid_json');
  // Bad fields with a scoped key and group_ids: validation_error wins over 403.
  const invalidForScope = JSON.stringify({ invite_method: 'direct', email: 'nope', group_ids: [newId()] });
  assertError(await rawPost(invalidForScope, { contentType: 'application/json', apiKey: scopedKey }), 400, 'validation_error', { fields: ['email'] });
  // Valid fields, scoped key, group_ids: 403.
  const validForScope = JSON.stringify({ invite_method: 'direct', email: uniqueEmail(), group_ids: [newId()] });
  assertError(await rawPost(validForScope, { contentType: 'application/json', apiKey: scopedKey }), 403, 'global_key_required');
});

test('every response carries x-request-id', async () => {
  const responses = [
    await service.api('GET', '/healthz'),
    await service.api('GET', '/readyz'),
    await service.api('GET', '/nope'),
    await service.api('PUT', BULK, { key }),
    await service.api('POST', BULK, { body: validBody() }),
    await rawPost('{', { contentType: 'application/json' }),
    await bulk(service, key, { invite_method: 'x' }),
    await bulk(service, key, validBody()),
  ];
  const ids = responses.map((r) => r.headers.get('x-request-id'));
  for (let i = 0; i < ids.length; i++) {
    assert.ok(ids[i] && ids[i].length >= 8, `response ${i} (${responses[i].status}) has x-request-id: ${ids[i]}`);
  }
  assert.equal(new Set(ids).size, ids.length, 'generated ids are unique');
});

test('a sane incoming x-request-id is echoed', async () => {
  for (const id of ['req-123', 'abc_DEF.789:xyz', '0f8fad5b-d9cb-469f-a165-70867728950e']) {
    for (const response of [
      await service.api('GET', '/healthz', { headers: { 'x-request-id': id } }),
      await bulk(service, key, validBody(), { 'x-request-id': id }),
      await service.api('POST', BULK, { body: validBody(), headers: { 'x-request-id': id } }),
    ]) {
      assert.equal(response.headers.get('x-request-id'), id, `${response.status}`);
    }
  }
});

test('an insane incoming x-request-id is replaced', async () => {
  for (const id of ['has spaces in it', 'a'.repeat(300), 'quote"and<angle>', 'semi;colon', 'ünïcödé']) {
    const headers = { 'x-request-id': Buffer.from(id, 'utf8').toString('latin1') };
    for (const response of [
      await service.api('GET', '/healthz', { headers }),
      await bulk(service, key, validBody(), headers),
    ]) {
      const echoed = response.headers.get('x-request-id');
      assert.ok(echoed, 'a request id is still sent');
      assert.notEqual(echoed, headers['x-request-id']);
      assert.match(echoed, /^[A-Za-z0-9._:-]{8,128}$/);
    }
  }
});

test('authenticated /api/v1 responses carry x-rate-limit-limit, -remaining and -reset', async () => {
  const now = Math.floor(Date.now() / 1000);
  const responses = [
    await bulk(service, key, validBody()),
    await bulk(service, key, { invite_method: 'nope' }),
    await rawPost('{', { contentType: 'application/json' }),
    await rawPost('{}', { contentType: 'text/plain' }),
    await bulk(service, scopedKey, { invite_method: 'direct', email: uniqueEmail(), group_ids: [newId()] }),
    await service.api('GET', '/api/v1/websites', { key }),
    await service.api('GET', `/api/v1/websites/${newId()}`, { key }),
  ];
  for (const response of responses) {
    const limit = response.headers.get('x-rate-limit-limit');
    const remaining = response.headers.get('x-rate-limit-remaining');
    const reset = response.headers.get('x-rate-limit-reset');
    const context = `${response.status} ${response.text}`;
    assert.match(limit ?? '', /^\d+$/, context);
    assert.match(remaining ?? '', /^\d+$/, context);
    assert.match(reset ?? '', /^\d+$/, context);
    assert.equal(Number(limit), 1000000, context);
    assert.ok(Number(remaining) <= Number(limit), context);
    assert.ok(Number(reset) >= now && Number(reset) <= now + 120, `reset is Unix seconds: ${reset}`);
  }
});

test('the per-minute request budget: the 4th request in a row is 429 rate_limited with retry-after', async () => {
  const limited = await startService({ args: ['--rate-limit-per-minute', '3'] });
  try {
    const acme = limited.createOrg('Limited');
    const second = limited.createKey(acme.org_id, [], 'second key');
    const bystander = limited.createOrg('Bystander');
    const remaining = [];
    for (let i = 0; i < 3; i++) {
      const response = await limited.api('GET', '/api/v1/websites', { key: acme.api_key });
      assert.equal(response.status, 200, response.text);
      assert.equal(response.headers.get('x-rate-limit-limit'), '3');
      remaining.push(Number(response.headers.get('x-rate-limit-remaining')));
    }
    assert.deepEqual(remaining, [2, 1, 0]);

    const before = tableCounts(limited);
    const fourth = await limited.api('POST', BULK, {
      key: acme.api_key,
      body: { invite_method: 'direct', email: uniqueEmail(), website_ids: [newId()] },
    });
    assertError(fourth, 429, 'rate_limited');
    const retryAfter = fourth.headers.get('retry-after');
    assert.match(retryAfter ?? '', /^\d+$/);
    assert.ok(Number(retryAfter) >= 1 && Number(retryAfter) <= 60, `retry-after ${retryAfter}`);
    assert.equal(fourth.headers.get('x-rate-limit-remaining'), '0');
    assert.ok(fourth.headers.get('x-request-id'));
    assert.deepEqual(tableCounts(limited), before);

    // The budget is the organization's, shared by its keys; other organizations are unaffected.
    assertError(await limited.api('GET', '/api/v1/websites', { key: second.api_key }), 429, 'rate_limited');
    assert.equal((await limited.api('GET', '/api/v1/websites', { key: bystander.api_key })).status, 200);
  } finally {
    assert.equal(await limited.stop(), 0);
  }
});

test('the per-target budget: with --invite-limit-per-hour 5 a bulk of 6 targets is 429 and writes nothing', async () => {
  const limited = await startService({ args: ['--invite-limit-per-hour', '5'] });
  try {
    const acme = limited.createOrg('Target Limited');
    const sites = await createWebsites(limited, acme.api_key, 6, 'budget');
    const before = tableCounts(limited);
    const email = uniqueEmail('budget');
    const response = await limited.api('POST', BULK, {
      key: acme.api_key,
      body: { invite_method: 'direct', email, website_ids: sites.map((s) => s.id) },
    });
    assertError(response, 429, 'rate_limited');
    assert.match(response.headers.get('retry-after') ?? '', /^[1-9]\d*$/);
    assert.deepEqual(tableCounts(limited), before);

    // Five targets fit the budget.
    const ok = await limited.api('POST', BULK, {
      key: acme.api_key,
      body: { invite_method: 'direct', email, website_ids: sites.slice(0, 5).map((s) => s.id) },
    });
    assert.equal(ok.status, 200, ok.text);
  } finally {
    assert.equal(await limited.stop(), 0);
  }
});
