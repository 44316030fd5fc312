// Routing (docs/api.md "Routing"): a path parameter that is not a UUID matches no parametrised
// route (404 before the key check); a literal route on the same path wins; a known path with
// another method is 405 with a true Allow; HEAD answers on every GET route with GET's status
// and headers and no body.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWithOrg } from '../support/service.mjs';
import { GENEROUS_LIMITS, assertError, newId } from '../support/assertions.mjs';

let service;
let key;
let websites;

before(async () => {
  ({ service, key, websites } = await startWithOrg({ websiteCount: 1, args: GENEROUS_LIMITS }));
});

after(async () => {
  if (service) assert.equal(await service.stop(), 0);
});

const allowOf = (response) => (response.headers.get('allow') ?? '').split(',').map((m) => m.trim()).filter(Boolean).sort();

test('a path parameter that is not a UUID is no route: 404 before the key check', async () => {
  for (const path of ['/api/v1/websites/not-a-uuid', '/api/v1/invites/12345', `/api/v1/websites/${websites[0].id}x/members`, '/api/v1/groups/nope']) {
    const withoutKey = await service.api('GET', path);
    assertError(withoutKey, 404, 'not_found');
    assert.match(withoutKey.body.error, /no route/, path);
    const withKey = await service.api('GET', path, { key });
    assertError(withKey, 404, 'not_found');
  }
  // A UUID in either case is routed (then the key is checked).
  assertError(await service.api('GET', `/api/v1/websites/${newId().toUpperCase()}`), 401, 'unauthorized');
});

test('a literal route wins over a parametrised one: GET /api/v1/invites/bulk is 405 with Allow: POST', async () => {
  const response = await service.api('GET', '/api/v1/invites/bulk', { key });
  assertError(response, 405, 'method_not_allowed');
  assert.deepEqual(allowOf(response), ['POST']);
  const del = await service.api('DELETE', '/api/v1/invites/bulk', { key });
  assertError(del, 405, 'method_not_allowed');
  assert.deepEqual(allowOf(del), ['POST']);
});

test('405 lists exactly the methods of the path, with HEAD wherever GET is', async () => {
  const cases = [
    ['PUT', '/api/v1/websites', ['GET', 'HEAD', 'POST']],
    ['OPTIONS', '/api/v1/invites/bulk', ['POST']],
    ['OPTIONS', `/api/v1/invites/${newId()}`, ['DELETE', 'GET', 'HEAD']],
    ['POST', `/api/v1/websites/${websites[0].id}`, ['DELETE', 'GET', 'HEAD']],
    ['GET', `/api/v1/websites/${websites[0].id}/members/${newId()}`, ['DELETE', 'PATCH']],
    ['POST', '/healthz', ['GET', 'HEAD']],
    ['PUT', '/invites/accept', ['GET', 'HEAD', 'POST']],
  ];
  for (const [method, path, allow] of cases) {
    const response = await service.api(method, path, { key });
    assert.equal(response.status, 405, `${method} ${path}: ${response.text}`);
    assert.deepEqual(allowOf(response), allow, `${method} ${path}`);
  }
});

// HEAD next to GET: same status and headers (Content-Length included), no body. Two answers
// change from one request to the next, so they are compared only when they held still:
// /metrics (requests answered, connections open, the store's units and commits, the outbox's
// counters): one that gains a digit between the GET and the HEAD changes the length, so its HEAD
// counts only between two GETs of the same length (the counters only grow, so none gained a
// digit); /readyz: its probe has a deadline of its own (1 s on PostgreSQL), which a loaded machine
// can pass, so the pair counts once both answered ready.
async function compareHeadWithGet(path, headers = {}) {
  let get;
  let getBody;
  let head;
  for (let attempt = 1; ; attempt++) {
    get = await service.fetch(path, { headers });
    getBody = await get.text();
    head = await service.fetch(path, { method: 'HEAD', headers });
    if (attempt === 10) break;
    if (path === '/readyz') {
      if (get.status === 200 && head.status === 200) break;
      continue;
    }
    if (path !== '/metrics') break;
    const after = await (await service.fetch(path, { headers })).text();
    if (Buffer.byteLength(after) === Buffer.byteLength(getBody)) break;
  }
  const headBody = await head.text();
  assert.equal(head.status, get.status, `HEAD ${path}`);
  assert.equal(headBody, '', `HEAD ${path} has no body`);
  assert.equal(head.headers.get('content-type'), get.headers.get('content-type'), `HEAD ${path}`);
  assert.equal(Number(head.headers.get('content-length')), Buffer.byteLength(getBody), `HEAD ${path} content-length`);
  for (const name of ['cache-control', 'allow', 'x-rate-limit-limit']) {
    assert.equal(head.headers.get(name) === null, get.headers.get(name) === null, `HEAD ${path}: ${name}`);
  }
  assert.ok(head.headers.get('x-request-id'));
  return head;
}

test('HEAD works on every GET route: /healthz, /openapi.json, API reads, pages, and their errors', async () => {
  assert.equal((await compareHeadWithGet('/healthz')).status, 200);
  assert.equal((await compareHeadWithGet('/readyz')).status, 200);
  assert.equal((await compareHeadWithGet('/openapi.json')).status, 200);
  assert.equal((await compareHeadWithGet('/metrics')).status, 200);
  assert.equal((await compareHeadWithGet('/api/v1/websites', { 'x-api-key': key })).status, 200);
  assert.equal((await compareHeadWithGet(`/api/v1/websites/${websites[0].id}`, { 'x-api-key': key })).status, 200);
  assert.equal((await compareHeadWithGet('/api/v1/websites')).status, 401);
  assert.equal((await compareHeadWithGet(`/api/v1/websites/${newId()}`, { 'x-api-key': key })).status, 404);
  assert.equal((await compareHeadWithGet('/invites/accept?token=unknown')).status, 404);
  assert.equal((await compareHeadWithGet('/nothing/here')).status, 404);
});

test('HEAD on a path without GET is 405 with the true Allow', async () => {
  const response = await service.fetch('/api/v1/invites/bulk', { method: 'HEAD' });
  assert.equal(response.status, 405);
  assert.equal(response.headers.get('allow'), 'POST');
  assert.equal(await response.text(), '');
});
