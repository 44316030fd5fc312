// Browser clients (--cors-origins): a preflight OPTIONS from an allowed origin is answered 204
// with that origin echoed (never *), no credentials, the route's methods, the allowed request
// headers and a max age; actual answers to an allowed origin let the page read the request id,
// the rate-limit headers and Retry-After; any other origin, an OPTIONS without Origin, the pages
// under /invites/ and a service without the setting get no CORS headers and the answers they got
// before (405 with Allow; an unknown /api/ path 404). A bad origin refuses to start, saying what to
// fix.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, makeTempDir, startService } from '../support/service.mjs';
import { assertError } from '../support/assertions.mjs';

const APP = 'https://app.example.com';
const LOCAL = 'http://localhost:3000';
const ALLOWED_HEADERS = 'content-type, x-api-key, idempotency-key';
const EXPOSED = ['x-request-id', 'x-rate-limit-limit', 'x-rate-limit-remaining', 'x-rate-limit-reset', 'retry-after'];

let service;
let plain; // the same binary without --cors-origins
let key;
let website;

before(async () => {
  // A budget of 3 requests a minute: the test reaches a 429 (with Retry-After) cheaply.
  service = await startService({ args: ['--cors-origins', ` ${APP} ,${LOCAL}`, '--rate-limit-per-minute', '3'] });
  const org = service.createOrg('Cors Org');
  key = org.api_key;
  website = await service.createWebsite(key, 'https://cors.example/', 'Cors site');
  plain = await startService();
});

after(async () => {
  const codes = [];
  if (service) codes.push(await service.stop());
  if (plain) codes.push(await plain.stop());
  assert.deepEqual(codes, [0, 0]);
});

// A raw request (no contract check: a preflight is protocol, not an operation of the API).
async function send(target, path, { method = 'GET', origin, headers = {} } = {}) {
  const all = { ...headers };
  if (origin !== undefined) all.origin = origin;
  const response = await target.fetch(path, { method, headers: all });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

const corsHeaders = (headers) => [...headers.keys()].filter((name) => name.startsWith('access-control-'));

// The Allow header the route answers a method it does not take with.
async function allowOf(path) {
  const refused = await send(service, path, { method: 'PUT' });
  assert.equal(refused.status, 405, refused.text);
  return refused.headers.get('allow');
}

test('a preflight from an allowed origin: 204 echoing the origin, the route\'s methods, the allowed headers, no credentials', async () => {
  const before = service.tableCounts();
  for (const [path, origin] of [
    ['/api/v1/invites/bulk', APP],
    [`/api/v1/websites/${website.id}`, LOCAL],
    ['/api/v1/websites', APP],
    ['/api/v1/invitations/accept', LOCAL],
  ]) {
    // (service.api: the answer is checked against the CorsPreflight response of /openapi.json.)
    const preflight = await service.api('OPTIONS', path, {
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type, x-api-key' },
    });
    assert.equal(preflight.status, 204, `${path}: ${preflight.text}`);
    assert.equal(preflight.text, '');
    assert.equal(preflight.headers.get('access-control-allow-origin'), origin);
    assert.equal(preflight.headers.get('access-control-allow-methods'), await allowOf(path));
    assert.equal(preflight.headers.get('access-control-allow-headers'), ALLOWED_HEADERS);
    assert.equal(preflight.headers.get('access-control-max-age'), '7200');
    assert.equal(preflight.headers.get('access-control-allow-credentials'), null);
    assert.equal(preflight.headers.get('vary'), 'origin');
    assert.ok(preflight.headers.get('x-request-id'));
  }
  assert.equal(await allowOf('/api/v1/invites/bulk'), 'POST');
  assert.equal(await allowOf(`/api/v1/websites/${website.id}`), 'GET, HEAD, DELETE');
  // A preflight carries no key: it is answered before authentication, draws on no budget and
  // writes nothing.
  assert.deepEqual(service.tableCounts(), before);
});

test('actual answers to an allowed origin carry the origin and expose the request id, rate-limit headers and Retry-After', async () => {
  const ok = await send(service, '/api/v1/websites', { origin: APP, headers: { 'x-api-key': key } });
  assert.equal(ok.status, 200, ok.text);
  assert.equal(ok.headers.get('access-control-allow-origin'), APP);
  assert.equal(ok.headers.get('access-control-allow-credentials'), null);
  assert.equal(ok.headers.get('vary'), 'origin');
  const exposed = ok.headers.get('access-control-expose-headers').split(', ');
  assert.deepEqual(exposed, EXPOSED);
  // The exposed names are the ones the service sends.
  for (const name of ['x-request-id', 'x-rate-limit-limit', 'x-rate-limit-remaining', 'x-rate-limit-reset']) {
    assert.ok(ok.headers.get(name), `${name} is sent`);
  }

  // Errors too, so a page can read why: 401 without a key, and 429 with Retry-After.
  const unauthorized = await send(service, '/api/v1/websites', { origin: LOCAL });
  assert.equal(unauthorized.status, 401);
  assert.equal(unauthorized.headers.get('access-control-allow-origin'), LOCAL);
  let limited;
  for (let i = 0; i < 5 && limited?.status !== 429; i++) {
    limited = await send(service, '/api/v1/websites', { origin: APP, headers: { 'x-api-key': key } });
  }
  assert.equal(limited.status, 429, limited.text);
  assert.ok(limited.headers.get('retry-after'));
  assert.equal(limited.headers.get('access-control-allow-origin'), APP);
  assert.deepEqual(limited.headers.get('access-control-expose-headers').split(', '), EXPOSED);
});

test('other origins, OPTIONS without Origin, unknown paths and the pages get no CORS headers and the answer they got before', async () => {
  for (const origin of ['https://evil.example.com', 'https://app.example.com.evil.example', 'http://app.example.com', 'null', `${APP}:8443`]) {
    const preflight = await send(service, '/api/v1/invites/bulk', {
      method: 'OPTIONS', origin, headers: { 'access-control-request-method': 'POST' },
    });
    assert.equal(preflight.status, 405, origin);
    assert.equal(preflight.headers.get('allow'), 'POST');
    assert.deepEqual(corsHeaders(preflight.headers), [], origin);
    const actual = await send(service, '/api/v1/websites', { origin, headers: { 'x-api-key': 'not-a-key' } });
    assert.equal(actual.status, 401);
    assert.deepEqual(corsHeaders(actual.headers), [], origin);
  }
  const noOrigin = await send(service, '/api/v1/websites', { method: 'OPTIONS' });
  assert.equal(noOrigin.status, 405);
  assert.equal(noOrigin.headers.get('allow'), await allowOf('/api/v1/websites'));
  assert.equal(JSON.parse(noOrigin.text).code, 'method_not_allowed');
  assert.deepEqual(corsHeaders(noOrigin.headers), []);

  // An unknown /api/ path is no preflight (404, so the browser's preflight fails), but like any
  // /api/ answer to a listed origin its error is readable by the page.
  const unknown = await send(service, '/api/v1/nothing-here', { method: 'OPTIONS', origin: APP });
  assert.equal(unknown.status, 404);
  assert.deepEqual(corsHeaders(unknown.headers).sort(), ['access-control-allow-origin', 'access-control-expose-headers']);
  const unknownGet = await send(service, '/api/v1/nothing-here', { origin: APP });
  assert.equal(unknownGet.status, 404);
  assert.equal(unknownGet.headers.get('access-control-allow-origin'), APP);

  // The pages are same-origin HTML forms: CORS is for /api/ only.
  const page = await send(service, '/invites/accept?token=abc', { origin: APP });
  assert.equal(page.status, 404);
  assert.deepEqual(corsHeaders(page.headers), []);
  const pagePreflight = await send(service, '/invites/accept', { method: 'OPTIONS', origin: APP });
  assert.equal(pagePreflight.status, 405);
  assert.deepEqual(corsHeaders(pagePreflight.headers), []);
  const health = await send(service, '/healthz', { origin: APP });
  assert.deepEqual(corsHeaders(health.headers), []);
});

test('without --cors-origins no origin gets CORS headers', async () => {
  const preflight = await send(plain, '/api/v1/websites', {
    method: 'OPTIONS', origin: APP, headers: { 'access-control-request-method': 'GET' },
  });
  assert.equal(preflight.status, 405);
  assert.deepEqual(corsHeaders(preflight.headers), []);
  assert.equal(preflight.headers.get('vary'), null);
  assertError(await plain.api('GET', '/api/v1/websites', { headers: { origin: APP } }), 401, 'unauthorized');
  const actual = await send(plain, '/api/v1/websites', { origin: APP });
  assert.deepEqual(corsHeaders(actual.headers), []);
});

test('a bad --cors-origins entry refuses to start, naming it and saying what to fix', () => {
  for (const [value, says] of [
    ['*', /wildcard is not allowed/],
    ['https://app.example.com/', /drop the trailing slash/],
    ['https://app.example.com/app', /no path/],
    ['app.example.com', /must start with http:\/\/ or https:\/\//],
    ['https://app.example.com:70000', /port must be a number from 1 to 65535/],
    ['https://ok.example.com,,https://b.example.com', /empty entry/],
  ]) {
    const dir = makeTempDir();
    const result = spawnSync(BIN, ['serve', '--listen', '127.0.0.1:0', '--cors-origins', value], {
      env: { ...process.env, INVITED_DATABASE: `sqlite://${join(dir, 'data', 'invited.db')}`, INVITED_MAIL_DIR: join(dir, 'mail') },
      encoding: 'utf8',
      timeout: 30000,
    });
    const context = `${value}:\n${result.stderr}`;
    assert.equal(result.status, 2, context);
    assert.match(result.stderr, /^invited: --cors-origins /, context);
    assert.match(result.stderr, says, context);
    if (!/empty entry/.test(result.stderr)) assert.ok(result.stderr.includes(`"${value}"`), context);
    assert.match(result.stderr, /empty entry|scheme:\/\/host\[:port\]/, context);
    assert.equal(existsSync(join(dir, 'data')), false, `nothing written: ${context}`);
  }
});
