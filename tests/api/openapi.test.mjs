// GET /openapi.json: the document the service serves is docs/openapi.json, a valid
// OpenAPI 3.1 document (checked by an OpenAPI validator package), complete (every route of the
// router, every status's schema, examples that match their schemas), and the response validator
// that every API test runs (tests/support/openapi.mjs) really rejects drift.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { Validator } from '@seriousme/openapi-schema-validator';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { startService } from '../support/service.mjs';
import { OpenApiContract, contractOf } from '../support/openapi.mjs';
import { GENEROUS_LIMITS, uniqueEmail } from '../support/assertions.mjs';
import { call } from '../support/assertions.mjs';

const REPO = new URL('../../', import.meta.url);
const DOC_ON_DISK = readFileSync(new URL('docs/openapi.json', REPO), 'utf8');

let service;
let key;
let contract;
let document;
let site;

before(async () => {
  service = await startService({ args: GENEROUS_LIMITS });
  const org = service.createOrg('Contract Inc', uniqueEmail('owner'));
  key = org.api_key;
  site = await service.createWebsite(key, 'https://contract.example.com', 'Contract');
  contract = await contractOf(service);
  document = contract.document;
});

after(async () => {
  if (service) assert.equal(await service.stop(), 0);
});

test('GET /openapi.json serves docs/openapi.json as it is in the repository (one source of truth)', async () => {
  const response = await service.fetch('/openapi.json');
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
  assert.ok(response.headers.get('x-request-id'));
  const served = await response.text();
  assert.equal(served, DOC_ON_DISK, 'the binary embeds a stale docs/openapi.json: rebuild it');
});

test('the document passes an OpenAPI 3.1 validator', async () => {
  const validator = new Validator();
  const result = await validator.validate(JSON.parse(DOC_ON_DISK));
  assert.equal(validator.version, '3.1');
  assert.deepEqual(result.errors ?? [], []);
  assert.equal(result.valid, true);
});

test('the OpenAPI validator package rejects a broken document (the check above can fail)', async () => {
  const broken = JSON.parse(DOC_ON_DISK);
  broken.paths['/api/v1/websites'].get.responses['200'].content['application/json'].schema = { type: 'no-such-type' };
  delete broken.info;
  const result = await new Validator().validate(broken);
  assert.equal(result.valid, false);
});

test('every schema of every response compiles with Ajv (JSON Schema 2020-12, formats)', () => {
  assert.ok(new OpenApiContract(JSON.parse(DOC_ON_DISK)).compileAll() > 100);
});

// The routes the router registers, read from the handlers' source. /_test/ routes exist only in
// the test build (src/api/test_clock.cpp) and are no part of the API.
function routesInSource() {
  const dir = new URL('src/api/', REPO);
  const routes = new Set();
  for (const name of readdirSync(dir).filter((n) => n.endsWith('.cpp'))) {
    const text = readFileSync(new URL(name, dir), 'utf8');
    for (const m of text.matchAll(/Method::k([A-Za-z]+),\s*"([^"]+)"/g)) {
      // /_test/ routes exist only in test builds (src/api/test_clock.cpp), never in a release:
      // not part of the contract.
      if (!m[2].startsWith('/_test/')) routes.add(`${m[1].toUpperCase()} ${m[2]}`);
    }
  }
  return routes;
}

test('the document has exactly the routes of src/api (no undocumented endpoint, no documented phantom)', () => {
  const documented = new Set(contract.operations().map(({ method, template }) => `${method} ${template}`));
  const registered = routesInSource();
  assert.ok(registered.size >= 37, `found ${registered.size} routes in src/api`);
  assert.deepEqual([...registered].filter((r) => !documented.has(r)).sort(), [], 'registered but not documented');
  assert.deepEqual([...documented].filter((r) => !registered.has(r)).sort(), [], 'documented but not registered');
});

test('every documented operation answers on the running service (no 404 route / 405)', async () => {
  for (const { method, template } of contract.operations()) {
    const path = template.replace(/\{[^}]+\}/g, '00000000-0000-4000-8000-000000000000');
    const response = await service.api(method, path, {}); // no key, no body: validated by the contract hook
    assert.notEqual(response.status, 405, `${method} ${path}`);
    assert.ok(!(response.status === 404 && /no route for/.test(response.text)), `${method} ${path}: ${response.text}`);
  }
});

test('each operation documents its security, errors, headers and an example of its request and success response', () => {
  for (const { method, template, operation } of contract.operations()) {
    const name = `${method} ${template}`;
    assert.ok(operation.operationId && operation.summary && operation.description, `${name}: operationId, summary, description`);
    const isPublic = Array.isArray(operation.security) && operation.security.length === 0;
    const isApi = template.startsWith('/api/v1/');
    assert.equal(isPublic, !isApi || template === '/api/v1/invitations/accept', `${name}: security`);
    const statuses = Object.keys(operation.responses);
    const success = statuses.filter((s) => s.startsWith('2'));
    assert.equal(success.length, 1, `${name}: one success status`);
    const ok = contract.resolve(operation.responses[success[0]]);
    for (const [type, media] of Object.entries(ok.content ?? {})) {
      assert.ok(media.example !== undefined || Object.keys(media.examples ?? {}).length > 0, `${name}: example of ${type}`);
    }
    if (operation.requestBody) {
      for (const [type, media] of Object.entries(operation.requestBody.content)) {
        assert.ok(Object.keys(media.examples ?? {}).length > 0, `${name}: request example of ${type}`);
        if (type === 'application/json') {
          const schema = contract.resolve(media.schema);
          // One object, or a oneOf of complete objects (one per form of the request).
          for (const form of schema.oneOf ? schema.oneOf.map((s) => contract.resolve(s)) : [schema]) {
            assert.equal(form.additionalProperties, false, `${name}: requests refuse unknown fields`);
          }
          for (const code of ['400', '413', '415']) assert.ok(statuses.includes(code), `${name}: ${code}`);
        }
      }
    }
    if (isApi && !isPublic) {
      for (const code of ['401', '429', '500']) assert.ok(statuses.includes(code), `${name}: ${code}`);
    }
    for (const status of statuses) {
      const response = contract.resolve(operation.responses[status]);
      const headers = Object.fromEntries(Object.entries(response.headers ?? {}).map(([k, v]) => [k, contract.resolve(v)]));
      assert.equal(headers['x-request-id']?.required, true, `${name} ${status}: x-request-id`);
      if (isApi && !isPublic && !['401', '500', '503'].includes(status)) {
        for (const h of ['x-rate-limit-limit', 'x-rate-limit-remaining', 'x-rate-limit-reset']) assert.ok(headers[h], `${name} ${status}: ${h}`);
      }
      if (status === '429') assert.equal(headers['retry-after']?.required, true, `${name}: retry-after on 429`);
      if (!status.startsWith('2')) {
        const media = response.content?.['application/json'] ?? response.content?.['text/html'];
        assert.ok(media, `${name} ${status}: error content`);
      }
    }
  }
  const methodNotAllowed = contract.fallback('methodNotAllowed');
  assert.equal(contract.resolve(methodNotAllowed.headers.allow).required, true, 'Allow on 405');
  assert.deepEqual(document.components.securitySchemes.ApiKey, {
    ...document.components.securitySchemes.ApiKey, type: 'apiKey', in: 'header', name: 'x-api-key',
  });
});

// Every example in the document against the schema it illustrates.
test('every example in the document matches its schema', () => {
  const ajv = new Ajv2020({ strict: false, allowUnionTypes: true });
  addFormats(ajv);
  ajv.addFormat('idn-email', /^[^\s@]+@[^\s@]+$/u);
  const defs = JSON.parse(JSON.stringify(document.components.schemas).replaceAll('"#/components/schemas/', '"urn:invited:doc#/$defs/'));
  ajv.addSchema({ $id: 'urn:invited:doc', $defs: defs });
  const fix = (schema) => JSON.parse(JSON.stringify(schema).replaceAll('"#/components/schemas/', '"urn:invited:doc#/$defs/'));
  const failures = [];
  let checked = 0;
  const check = (where, schema, value) => {
    const validate = ajv.compile(fix(schema));
    checked += 1;
    if (!validate(value)) failures.push(`${where}: ${ajv.errorsText(validate.errors)}`);
  };
  const media = (where, m) => {
    if (!m.schema) return;
    if (m.example !== undefined) check(`${where} example`, m.schema, m.example);
    for (const [name, example] of Object.entries(m.examples ?? {})) check(`${where} examples.${name}`, m.schema, example.value);
  };
  for (const [name, schema] of Object.entries(document.components.schemas)) {
    for (const [i, example] of (schema.examples ?? []).entries()) check(`schema ${name} examples[${i}]`, { $ref: `#/components/schemas/${name}` }, example);
  }
  for (const [name, response] of Object.entries(document.components.responses)) {
    for (const [type, m] of Object.entries(response.content ?? {})) media(`response ${name} ${type}`, m);
  }
  for (const [name, p] of Object.entries(document.components.parameters)) {
    if (p.example !== undefined) check(`parameter ${name}`, p.schema, p.example);
  }
  for (const { method, template, operation } of contract.operations()) {
    for (const [type, m] of Object.entries(operation.requestBody?.content ?? {})) media(`${method} ${template} request ${type}`, m);
    for (const [status, response] of Object.entries(operation.responses)) {
      if (response.$ref) continue; // checked with the components
      for (const [type, m] of Object.entries(response.content ?? {})) media(`${method} ${template} ${status} ${type}`, m);
    }
  }
  assert.deepEqual(failures, []);
  assert.ok(checked > 60, `checked ${checked} examples`);
});

// Client generators pick a oneOf branch by the discriminator's mapping; the validators above
// (Ajv) by the oneOf itself. Both must choose the same branch for every value.
test('every discriminator maps each value to the oneOf branch whose property has that const, and names every branch', () => {
  const found = [];
  const visit = (node, where) => {
    if (Array.isArray(node)) return node.forEach((child, i) => visit(child, `${where}/${i}`));
    if (node === null || typeof node !== 'object') return;
    if (node.discriminator) found.push([where, node]);
    for (const [key, child] of Object.entries(node)) visit(child, `${where}/${key}`);
  };
  visit(document, '#');
  assert.ok(found.length >= 1, 'the document has discriminators');
  for (const [where, schema] of found) {
    const { propertyName, mapping } = schema.discriminator;
    assert.ok(Array.isArray(schema.oneOf), `${where}: a discriminator beside a oneOf`);
    const branches = schema.oneOf.map((branch) => branch.$ref);
    assert.ok(branches.every(Boolean), `${where}: every branch is a $ref (generators select named schemas)`);
    assert.deepEqual(Object.values(mapping).sort(), [...branches].sort(), `${where}: the mapping names every branch once`);
    for (const [value, ref] of Object.entries(mapping)) {
      const branch = contract.resolve({ $ref: ref });
      assert.ok(branch.required?.includes(propertyName), `${where}: ${ref} requires ${propertyName}`);
      assert.equal(branch.properties?.[propertyName]?.const, value, `${where}: ${ref}.${propertyName} is the const "${value}"`);
    }
  }
});

// The seed page's example response, verbatim.
const SEED_RESPONSE = {
  success: true,
  results: [
    { website_id: '123e4567-e89b-12d3-a456-426614174000', success: true, message: 'User added to website', user_id: 'abc12345-e89b-12d3-a456-426614174000' },
    { website_id: '987e6543-e21b-12d3-a456-426614174000', success: false, error: 'User is already a member of this website' },
  ],
};

test('the bulk endpoint\'s example response is the seed page\'s', () => {
  const ok = document.paths['/api/v1/invites/bulk'].post.responses['200'];
  const examples = Object.values(ok.content['application/json'].examples).map((e) => e.value);
  assert.deepEqual(examples, [SEED_RESPONSE]);
});

// ---- the response validator rejects drift ---------------------------------------------------

// A contract whose document was changed by `mutate`.
function mutated(mutate) {
  const doc = JSON.parse(DOC_ON_DISK);
  mutate(doc);
  return new OpenApiContract(doc);
}

function withHeaders(response, changes) {
  const headers = new Headers(response.headers);
  for (const [name, value] of Object.entries(changes)) {
    if (value === null) headers.delete(name);
    else headers.set(name, value);
  }
  return { ...response, headers };
}

test('the response validator accepts real responses and rejects every kind of drift', async () => {
  const fresh = new OpenApiContract(JSON.parse(DOC_ON_DISK));
  const ctx = { rateLimitOn: true };
  const get = await service.api('GET', `/api/v1/websites/${site.id}`, { key });
  const missing = await service.api('GET', '/api/v1/websites/00000000-0000-4000-8000-000000000000', { key });
  const wrongMethod = await service.api('PUT', '/api/v1/websites', { key });
  const unknown = await service.api('GET', '/api/v1/nothing-here', { key });
  assert.deepEqual(fresh.check('GET', `/api/v1/websites/${site.id}`, get, ctx), []);
  assert.deepEqual(fresh.check('GET', '/api/v1/websites/00000000-0000-4000-8000-000000000000', missing, ctx), []);
  assert.deepEqual(fresh.check('PUT', '/api/v1/websites', wrongMethod, ctx), []);
  assert.deepEqual(fresh.check('GET', '/api/v1/nothing-here', unknown, ctx), []);

  const expectProblem = (problems, pattern) => assert.ok(problems.some((p) => pattern.test(p)), `expected ${pattern} in ${JSON.stringify(problems)}`);
  // An undocumented status.
  expectProblem(mutated((d) => delete d.paths['/api/v1/websites/{id}'].get.responses['404']).check('GET', '/api/v1/websites/00000000-0000-4000-8000-000000000000', missing, ctx), /status 404 is not documented/);
  // An undocumented property (additionalProperties: false), a missing one, a wrong format.
  expectProblem(mutated((d) => delete d.components.schemas.Website.properties.name).check('GET', `/api/v1/websites/${site.id}`, get, ctx), /additional properties/);
  expectProblem(mutated((d) => d.components.schemas.Website.required.push('owner')).check('GET', `/api/v1/websites/${site.id}`, get, ctx), /must have required property 'owner'/);
  expectProblem(fresh.check('GET', `/api/v1/websites/${site.id}`, { ...get, body: { website: { ...get.body.website, created_at: 'yesterday' } } }, ctx), /created_at/);
  expectProblem(fresh.check('GET', `/api/v1/websites/${site.id}`, { ...get, body: { website: { ...get.body.website, id: get.body.website.id.toUpperCase() } } }, ctx), /pattern/);
  // Headers: x-request-id missing, a rate-limit header missing or malformed, an undocumented managed header.
  expectProblem(fresh.check('GET', `/api/v1/websites/${site.id}`, withHeaders(get, { 'x-request-id': null }), ctx), /x-request-id is required/);
  expectProblem(fresh.check('GET', `/api/v1/websites/${site.id}`, withHeaders(get, { 'x-rate-limit-reset': null }), ctx), /x-rate-limit-reset is required|all together/);
  expectProblem(fresh.check('GET', `/api/v1/websites/${site.id}`, withHeaders(get, { 'x-rate-limit-limit': 'many' }), ctx), /x-rate-limit-limit/);
  expectProblem(fresh.check('GET', `/api/v1/websites/${site.id}`, withHeaders(get, { 'retry-after': '3' }), ctx), /retry-after is sent but not documented/);
  expectProblem(fresh.check('GET', `/api/v1/websites/${site.id}`, withHeaders(get, { 'idempotent-replayed': 'true' }), ctx), /idempotent-replayed is sent but not documented/);
  expectProblem(fresh.check('PUT', '/api/v1/websites', withHeaders(wrongMethod, { allow: 'GET' }), ctx), /Allow is "GET"/);
  expectProblem(fresh.check('PUT', '/api/v1/websites', withHeaders(wrongMethod, { allow: null }), ctx), /allow is required/);
  // The wrong media type, and statuses the fallbacks do not allow.
  expectProblem(fresh.check('GET', `/api/v1/websites/${site.id}`, withHeaders(get, { 'content-type': 'text/plain' }), ctx), /content-type text\/plain is not documented/);
  expectProblem(fresh.check('GET', '/api/v1/nothing-here', { ...unknown, status: 200 }, ctx), /only 404 is expected/);
  expectProblem(fresh.check('PUT', '/api/v1/websites', { ...wrongMethod, status: 400 }, ctx), /only 405 is expected/);
  // And through the hook: service.api() throws, so the test that received it fails.
  const strict = await startService({ args: GENEROUS_LIMITS });
  try {
    const doc = JSON.parse(DOC_ON_DISK);
    delete doc.paths['/healthz'].get.responses['200'].content['application/json'].schema.$ref;
    doc.paths['/healthz'].get.responses['200'].content['application/json'].schema = { type: 'object', properties: { status: { const: 'down' } } };
    const drifted = new OpenApiContract(doc);
    strict.onResponse = (method, path, response) => drifted.assertResponse(method, path, response, ctx);
    await assert.rejects(strict.api('GET', '/healthz'), /does not match \/openapi\.json[\s\S]*status/);
  } finally {
    assert.equal(await strict.stop(), 0);
  }
});

test('429 with retry-after, and no rate-limit headers when the limit is off, as documented', async () => {
  const limited = await startService({ args: ['--rate-limit-per-minute', '2', '--invite-limit-per-hour', '0'] });
  try {
    const org = limited.createOrg('Limited');
    assert.equal((await limited.api('GET', '/api/v1/websites', { key: org.api_key })).status, 200);
    assert.equal((await limited.api('GET', '/api/v1/websites', { key: org.api_key })).status, 200);
    const refused = await limited.api('GET', '/api/v1/websites', { key: org.api_key });
    assert.equal(refused.status, 429);
    assert.equal(refused.body.code, 'rate_limited');
    assert.match(refused.headers.get('retry-after') ?? '', /^\d+$/);
    assert.equal(refused.headers.get('x-rate-limit-remaining'), '0');
  } finally {
    assert.equal(await limited.stop(), 0);
  }
  const unlimited = await startService({ args: ['--rate-limit-per-minute', '0'] });
  try {
    const org = unlimited.createOrg('Unlimited');
    const response = await unlimited.api('GET', '/api/v1/websites', { key: org.api_key });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('x-rate-limit-limit'), null);
  } finally {
    assert.equal(await unlimited.stop(), 0);
  }
});

test('Idempotency-Key on POST: a replay is marked idempotent-replayed, misuse is 409, as documented', async () => {
  const headers = { 'Idempotency-Key': `contract-${uniqueEmail('k')}` };
  const first = await service.api('POST', '/api/v1/websites', { key, headers, body: { url: 'https://idem.example.com' } });
  assert.equal(first.status, 201, first.text);
  assert.equal(first.headers.get('idempotent-replayed'), null);
  const replay = await service.api('POST', '/api/v1/websites', { key, headers, body: { url: 'https://idem.example.com' } });
  assert.equal(replay.status, 201);
  assert.equal(replay.headers.get('idempotent-replayed'), 'true');
  assert.deepEqual(replay.body, first.body);
  const reused = await service.api('POST', '/api/v1/websites', { key, headers, body: { url: 'https://other.example.com' } });
  assert.equal(reused.status, 409);
  assert.equal(reused.body.code, 'idempotency_key_reused');
  const malformed = await service.api('POST', '/api/v1/websites', { key, headers: { 'Idempotency-Key': 'has space' }, body: { url: 'https://x.example.com' } });
  assert.equal(malformed.status, 400);
  assert.deepEqual(malformed.body.details.map((d) => d.field), ['Idempotency-Key']);
  await call(service, 'DELETE', `/api/v1/websites/${first.body.website.id}`, { key });
});

test('unknown routes and methods answer the documented fallbacks (JSON under /api, HTML pages under /invites/)', async () => {
  // Each response also goes through the contract hook of service.api().
  const cases = [
    ['GET', '/api/v1/nothing', 404, /^application\/json/],
    ['GET', '/api/v1/websites/', 404, /^application\/json/],
    ['PUT', '/api/v1/websites', 405, /^application\/json/, 'GET, HEAD, POST'],
    ['PUT', '/api/v1/invites/bulk', 405, /^application\/json/, 'POST'],
    ['GET', '/api/v1/invites/bulk', 405, /^application\/json/, 'POST'],
    ['DELETE', '/openapi.json', 405, /^application\/json/, 'GET, HEAD'],
    ['GET', '/invites/nothing', 404, /^text\/html/],
    ['PUT', '/invites/accept', 405, /^text\/html/, 'GET, HEAD, POST'],
    ['GET', '/invites/decline', 405, /^text\/html/, 'POST'],
  ];
  for (const [method, path, status, type, allow] of cases) {
    const response = await service.api(method, path, { key });
    assert.equal(response.status, status, `${method} ${path}`);
    assert.match(response.headers.get('content-type') ?? '', type, `${method} ${path}`);
    if (allow) assert.equal(response.headers.get('allow').split(', ').sort().join(', '), allow, `${method} ${path}`);
    assert.equal(response.headers.get('x-rate-limit-limit'), null, `${method} ${path}: answered before the key is read`);
  }
  // HEAD answers wherever GET does, without a body.
  const head = await service.fetch('/healthz', { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(await head.text(), '');
});
