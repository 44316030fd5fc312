// docs/openapi.json passes `redocly lint` (@redocly/cli, the recommended rules, redocly.yaml)
// without a warning; the few places a rule cannot read are listed, with their reasons, in
// .redocly.lint-ignore.yaml and nothing else is ignored. And the shapes client generators need,
// which no Redocly rule checks: no `default` in a request body or parameter (openapi-typescript
// makes such a body field required; the description says what absent means) and no if/then/else (generators drop it: a oneOf with a discriminator says it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { OpenApiContract } from '../support/openapi.mjs';

const run = promisify(execFile);
const REPO = fileURLToPath(new URL('../../', import.meta.url));
const REDOCLY = join(REPO, 'tests', 'node_modules', '.bin', 'redocly');
const DOCUMENT_TEXT = readFileSync(join(REPO, 'docs/openapi.json'), 'utf8');

// `redocly lint --format=json` of `file` (default: the APIs of redocly.yaml) → its report.
async function lint(file) {
  const args = ['lint', '--config', join(REPO, 'redocly.yaml'), '--format', 'json'];
  if (file) args.push(file);
  let stdout;
  try {
    ({ stdout } = await run(REDOCLY, args, { cwd: REPO, timeout: 120000, env: { ...process.env, REDOCLY_TELEMETRY: 'off', NO_COLOR: '1' } }));
  } catch (error) {
    if (typeof error.stdout !== 'string' || !error.stdout.includes('"totals"')) throw error;
    stdout = error.stdout; // exit 1 on errors: the report is still printed
  }
  return JSON.parse(stdout.slice(stdout.indexOf('{')));
}

const problemsOf = (report) => report.problems.filter((p) => !p.ignored).map((p) => `${p.ruleId}: ${p.message} at ${p.location?.[0]?.pointer}`);

test('redocly lint passes docs/openapi.json without a warning; only the places listed in .redocly.lint-ignore.yaml are ignored', async () => {
  const report = await lint();
  assert.deepEqual(problemsOf(report), []);
  assert.equal(report.totals.errors, 0);
  assert.equal(report.totals.warnings, 0);
  const listed = readFileSync(join(REPO, '.redocly.lint-ignore.yaml'), 'utf8').split('\n').filter((l) => /^\s+- '#\//.test(l)).length;
  assert.equal(report.totals.ignored, listed, 'each listed place is one ignored problem, and no other');
});

test('the lint check can fail: a tag without a description and an example that does not fit its schema are warnings', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'invited-openapi-lint-'));
  try {
    // A small document (linting a copy of the whole one would double the time) with both faults.
    const document = JSON.parse(DOCUMENT_TEXT);
    const create = document.paths['/api/v1/websites'].post;
    const broken = {
      openapi: document.openapi,
      info: document.info,
      servers: document.servers,
      security: document.security,
      tags: [{ name: 'websites' }],
      paths: {
        '/api/v1/websites': {
          post: {
            ...create,
            parameters: [],
            requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', properties: { url: { type: 'string' } } }, examples: { wrong: { value: { url: 42 } } } } } },
            responses: {
              201: { description: 'Created.' },
              400: { description: 'Refused.' },
            },
          },
        },
      },
      components: { securitySchemes: document.components.securitySchemes },
    };
    const file = join(dir, 'openapi.json');
    writeFileSync(file, JSON.stringify(broken));
    const rules = new Set((await lint(file)).problems.filter((p) => !p.ignored).map((p) => p.ruleId));
    assert.ok(rules.has('tag-description'), [...rules].join(', '));
    assert.ok(rules.has('no-invalid-media-type-examples'), [...rules].join(', '));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// Every schema node reachable from `schema` (following local $refs once each).
function* schemaNodes(contract, schema, seen = new Set()) {
  if (schema === null || typeof schema !== 'object') return;
  if (Array.isArray(schema)) {
    for (const item of schema) yield* schemaNodes(contract, item, seen);
    return;
  }
  if (schema.$ref) {
    if (seen.has(schema.$ref)) return;
    seen.add(schema.$ref);
    yield* schemaNodes(contract, contract.resolve(schema), seen);
    return;
  }
  yield schema;
  for (const [key, value] of Object.entries(schema)) {
    if (key !== 'examples' && key !== 'const' && key !== 'enum') yield* schemaNodes(contract, value, seen);
  }
}

test('no request body field or parameter has a default, and no schema uses if/then/else', () => {
  const document = JSON.parse(DOCUMENT_TEXT);
  const contract = new OpenApiContract(document);
  const withDefault = [];
  for (const { method, template, operation } of contract.operations()) {
    for (const [type, media] of Object.entries(operation.requestBody?.content ?? {})) {
      for (const node of schemaNodes(contract, media.schema)) {
        if ('default' in node) withDefault.push(`${method} ${template} ${type}: ${JSON.stringify(node).slice(0, 120)}`);
      }
    }
    const parameters = [...(document.paths[template].parameters ?? []), ...(operation.parameters ?? [])].map((p) => contract.resolve(p));
    for (const parameter of parameters) {
      for (const node of schemaNodes(contract, parameter.schema)) {
        if ('default' in node) withDefault.push(`${method} ${template} parameter ${parameter.name}: ${JSON.stringify(node).slice(0, 120)}`);
      }
    }
  }
  assert.deepEqual(withDefault, [], 'say the default in the description instead');
  const conditional = [];
  for (const node of schemaNodes(contract, Object.keys(document.components.schemas).map((name) => ({ $ref: `#/components/schemas/${name}` })))) {
    for (const key of ['if', 'then', 'else']) if (key in node) conditional.push(JSON.stringify(node).slice(0, 120));
  }
  assert.deepEqual(conditional, []);
});
