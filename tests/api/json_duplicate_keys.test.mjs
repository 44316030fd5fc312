// A key repeated within one JSON object is 400 invalid_json naming the key (SPEC §3), at any
// depth: a gateway that reads the first value and this service must never see two requests.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWithOrg } from '../support/service.mjs';
import { GENEROUS_LIMITS, assertError, tableCounts, uniqueEmail } from '../support/assertions.mjs';

let service;
let key;
let websites;

before(async () => {
  ({ service, key, websites } = await startWithOrg({ websiteCount: 1, args: GENEROUS_LIMITS }));
});

after(async () => {
  if (service) assert.equal(await service.stop(), 0);
});

async function post(path, raw) {
  const before = tableCounts(service);
  const response = await service.api('POST', path, { key, raw, headers: { 'content-type': 'application/json' } });
  if (response.status >= 400) assert.deepEqual(tableCounts(service), before, `nothing written for ${response.text}`);
  return response;
}

test('a repeated top-level key is invalid_json naming it, and nothing is written', async () => {
  const email = uniqueEmail('dup');
  const raw = `{"invite_method":"email","invite_method":"direct","email":"${email}","website_ids":["${websites[0].id}"]}`;
  const response = await post('/api/v1/invites/bulk', raw);
  const body = assertError(response, 400, 'invalid_json');
  assert.match(body.error, /"invite_method"/);
  assert.match(body.error, /twice/);
});

test('a repeated key is refused at any depth (also spelled with escapes), a key in sibling objects is not', async () => {
  const cases = [
    ['{"name":"G","website_ids":[],"x":{"a":1,"b":{"c":[{"d":1,"d":2}]}}}', 'd'],
    ['{"name":"G","name":"H","website_ids":[]}', 'name'],
    ['{"name":"G","na\\u006de":"H","website_ids":[]}', 'name'],
    ['{"website_ids":[],"name":"G","x":[{"deep":{"k":1,"l":2,"k":3}}]}', 'k'],
  ];
  for (const [raw, repeated] of cases) {
    const body = assertError(await post('/api/v1/groups', raw), 400, 'invalid_json');
    assert.ok(body.error.includes(`"${repeated}"`), `${raw}: ${body.error}`);
  }
  // The same key in sibling or nested objects is no repeat: this body reaches the field checks
  // (x and y are unknown), so the JSON itself was accepted.
  const raw = '{"name":"G","website_ids":[],"x":[{"a":1},{"a":2}],"y":{"a":{"a":1}}}';
  const body = assertError(await post('/api/v1/groups', raw), 400, 'validation_error');
  assert.deepEqual(body.details.map((d) => d.field).sort(), ['x', 'y']);
});
