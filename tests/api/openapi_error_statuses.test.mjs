// Every 4xx an operation answers is documented for that operation in /openapi.json, so a client
// generated from the document has a type for it. Each documented operation is called with the
// inputs that draw the errors of the contract's check order (no key, a scoped key, unknown ids,
// a query parameter out of range, a body that is too large, of another media type, not JSON,
// with an unknown field, the operation's own request example, a malformed Idempotency-Key on
// POST), and every answer must be a status documented for it, with its body and headers
// (tests/support/openapi.mjs). One service, small data; only the body of the 64 KiB probe is big.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startService } from '../support/service.mjs';
import { contractOf } from '../support/openapi.mjs';
import { GENEROUS_LIMITS, uniqueEmail } from '../support/assertions.mjs';

const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';
const JSON_TYPE = { 'content-type': 'application/json' };

let service;
let contract;
let key;
let scopedKey;

before(async () => {
  service = await startService({ args: GENEROUS_LIMITS, validateResponses: false });
  contract = await contractOf(service);
  const org = service.createOrg('Probed', uniqueEmail('owner'));
  key = org.api_key;
  const site = await service.createWebsite(key, 'https://probed.example.com', 'Probed');
  scopedKey = service.createKey(org.org_id, [site.id], 'probe scoped').api_key;
});

after(async () => {
  if (service) assert.equal(await service.stop(), 0);
});

// The requests that probe one operation: [what, init] with init as service.api takes it.
function probesOf(method, operation) {
  const body = operation.requestBody?.content ?? {};
  const isJson = Boolean(body['application/json']);
  const isForm = Boolean(body['application/x-www-form-urlencoded']);
  const examples = Object.entries(body['application/json']?.examples ?? {}).map(([name, e]) => [name, e.value]);
  const example = examples[0]?.[1];
  const probes = [
    ['no key', {}],
    ['a global key', { key }],
    ['a scoped key', { key: scopedKey }],
  ];
  if ((operation.parameters ?? []).some((p) => contract.resolve(p).name === 'limit')) {
    probes.push(['limit=0', { key, query: '?limit=0' }], ['limit=0, scoped key', { key: scopedKey, query: '?limit=0' }]);
  }
  if (isJson || isForm) {
    const type = isJson ? JSON_TYPE : { 'content-type': 'application/x-www-form-urlencoded' };
    probes.push(
      ['a body over 64 KiB', { key, headers: type, raw: `{"pad": "${'x'.repeat(65 * 1024)}"}` }],
      ['a text/plain body', { key, headers: { 'content-type': 'text/plain' }, raw: 'hello' }],
      ['an empty body', { key, headers: type, raw: '' }],
    );
  }
  if (isJson) {
    probes.push(
      ['a body that is not JSON', { key, headers: JSON_TYPE, raw: '{"a": ' }],
      ['a JSON array', { key, headers: JSON_TYPE, raw: '[]' }],
      ['an unknown field', { key, body: { no_such_field: 1 } }],
      ...examples.flatMap(([name, value]) => [
        [`request example ${name}, global key`, { key, body: value }],
        [`request example ${name}, scoped key`, { key: scopedKey, body: value }],
      ]),
    );
  }
  if (isForm) probes.push(['an unknown token', { headers: { 'content-type': 'application/x-www-form-urlencoded' }, raw: 'token=nope' }]);
  if (method === 'POST') {
    probes.push(['a malformed Idempotency-Key', { key, headers: { 'Idempotency-Key': 'has space' }, ...(isJson ? { body: example } : {}) }]);
    if (isJson) {
      // A key kept with one body (when the example succeeds), then sent with another.
      const idempotencyKey = { 'Idempotency-Key': `probe-${method}-${Math.random()}` };
      probes.push(
        ['an Idempotency-Key, first use', { key, headers: { ...idempotencyKey, ...JSON_TYPE }, raw: JSON.stringify(example) }],
        ['the same Idempotency-Key with another body', { key, headers: { ...idempotencyKey, ...JSON_TYPE }, raw: `${JSON.stringify(example)} ` }],
      );
    }
  }
  return probes;
}

test('every answer to every probe of every operation is a status documented for it, with its body and headers', async () => {
  const problems = [];
  const seen = new Map(); // operation → statuses answered
  let probes = 0;
  for (const { method, template, operation } of contract.operations()) {
    const path = template.replace(/\{[^}]+\}/g, UNKNOWN_ID);
    for (const [what, { query = '', ...init }] of probesOf(method, operation)) {
      const response = await service.api(method, path + query, init);
      probes += 1;
      const name = `${method} ${template}`;
      if (!seen.has(name)) seen.set(name, new Set());
      seen.get(name).add(response.status);
      for (const problem of contract.check(method, path + query, response, { rateLimitOn: true })) problems.push(`${what}: ${problem}`);
    }
  }
  assert.deepEqual(problems, []);
  assert.ok(probes > 200, `${probes} probes`);
  // The probes reach the errors they are meant to (so the check above is not vacuous).
  const answered = (name) => [...(seen.get(name) ?? [])].sort();
  for (const status of [400, 401, 403, 409, 413, 415]) assert.ok(answered('POST /api/v1/invites/bulk').includes(status), `bulk ${status}: ${answered('POST /api/v1/invites/bulk')}`);
  assert.ok(answered('POST /api/v1/websites/{id}/restore').includes(400), 'restore: a malformed Idempotency-Key');
  assert.ok(answered('GET /api/v1/websites/{id}').includes(404));
  assert.ok(answered('POST /api/v1/invitations/accept').includes(404));
});
