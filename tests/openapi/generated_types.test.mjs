// Clients generated from the contract: openapi-typescript generates TypeScript types from
// docs/openapi.json with the command docs/api.md gives, and every request body of docs/api.md's
// curl examples type-checks against its operation's request body type under tsc --strict (an
// object literal assigned to a type: a missing, unknown or mistyped field fails). Examples
// documented to answer 400 show bodies the service refuses, so they are left out; a deliberately
// wrong set of bodies proves that a body which does not fit fails. One tsc run checks both.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { requestExamples, typeScriptOf } from './request_examples.mjs';

const run = promisify(execFile);
const REPO = fileURLToPath(new URL('../../', import.meta.url));
const BIN = (name) => join(REPO, 'tests', 'node_modules', '.bin', name);
const DOCUMENT = JSON.parse(readFileSync(join(REPO, 'docs/openapi.json'), 'utf8'));
const API_MD = readFileSync(join(REPO, 'docs/api.md'), 'utf8');

const UUID = '123e4567-e89b-12d3-a456-426614174000';

// Bodies that must not type-check, one reason each (none of them is in the docs).
const WRONG = [
  ['bulk: both website_ids and group_ids', 'POST', '/api/v1/invites/bulk',
    { invite_method: 'email', email: 'a@example.com', website_ids: [UUID], group_ids: [UUID] }],
  ['bulk: neither website_ids nor group_ids', 'POST', '/api/v1/invites/bulk', { invite_method: 'email', email: 'a@example.com' }],
  ['bulk: role owner', 'POST', '/api/v1/invites/bulk', { invite_method: 'direct', email: 'a@example.com', role: 'owner', website_ids: [UUID] }],
  ['bulk: no email', 'POST', '/api/v1/invites/bulk', { invite_method: 'direct', website_ids: [UUID] }],
  ['invite: type website without website_id', 'POST', '/api/v1/invites', { type: 'website', email: 'a@example.com', invite_method: 'email' }],
  ['invite: type organization with a group_id', 'POST', '/api/v1/invites',
    { type: 'organization', group_id: UUID, email: 'a@example.com', invite_method: 'email' }],
  ['invite: unknown type', 'POST', '/api/v1/invites', { type: 'team', email: 'a@example.com', invite_method: 'email' }],
  ['website: unknown field', 'POST', '/api/v1/websites', { url: 'https://a.example', owner: 'me' }],
  ['group patch: ids as one string', 'PATCH', `/api/v1/groups/${UUID}`, { add_website_ids: UUID }],
  ['accept: token as a number', 'POST', '/api/v1/invitations/accept', { token: 42 }],
].map(([where, method, path, body]) => ({
  where: `deliberately wrong: ${where}`, method, path, mediaType: 'application/json', text: JSON.stringify(body), status: 400,
}));

let dir;
let documented; // the examples of api.md that must type-check
let generated; // {docs: {source, spans}, wrong: {source, spans}}
let errors; // file name → [{line, text}] of tsc's errors

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'invited-openapi-types-'));
  // The command of docs/api.md ("Generating a client"), run from a folder of its own as in a
  // client's project (in the repository root it would follow redocly.yaml instead).
  await run(BIN('openapi-typescript'), [join(REPO, 'docs/openapi.json'), '--output', 'api.ts'], { cwd: dir, timeout: 120000 });
  documented = requestExamples(API_MD).filter((example) => example.status !== 400);
  generated = { docs: typeScriptOf(DOCUMENT, documented), wrong: typeScriptOf(DOCUMENT, WRONG) };
  writeFileSync(join(dir, 'docs_examples.ts'), generated.docs.source);
  writeFileSync(join(dir, 'wrong_examples.ts'), generated.wrong.source);
  let output = '';
  try {
    await run(BIN('tsc'), [
      '--strict', '--noEmit', '--pretty', 'false', '--skipLibCheck',
      '--target', 'es2022', '--module', 'esnext', '--moduleResolution', 'bundler',
      'api.ts', 'docs_examples.ts', 'wrong_examples.ts',
    ], { cwd: dir, timeout: 120000 });
  } catch (error) {
    if (typeof error.stdout !== 'string') throw error;
    output = error.stdout + error.stderr;
  }
  errors = {};
  for (const match of output.matchAll(/^(\S+?)\((\d+),\d+\): error (TS\d+: .*)$/gm)) {
    (errors[match[1]] ??= []).push({ line: Number(match[2]), text: match[3] });
  }
  const unexplained = output.split('\n').filter((l) => l.trim() !== '' && !/^\S+?\(\d+,\d+\): error /.test(l) && !/^\s/.test(l));
  assert.deepEqual(unexplained, [], 'tsc printed something other than errors at a place');
});

test('openapi-typescript generates types from docs/openapi.json, and they compile under tsc --strict', () => {
  assert.deepEqual(errors['api.ts'] ?? [], []);
  const types = readFileSync(join(dir, 'api.ts'), 'utf8');
  assert.match(types, /export interface paths/);
  assert.match(types, /SingleInviteRequest: components\["schemas"\]\["SingleInviteToOrganization"\] \| /, 'the discriminated union of one invite');
});

test('every request body of docs/api.md (but those answered 400) fits its operation\'s generated request body type', () => {
  assert.ok(documented.length >= 15, `only ${documented.length} examples with a body`);
  const operations = new Set(documented.map((e) => `${e.method} ${e.path.split('?')[0]}`));
  for (const needed of ['POST /api/v1/invites/bulk', 'POST /api/v1/invites', 'POST /api/v1/websites', 'POST /api/v1/invitations/accept']) {
    assert.ok(operations.has(needed), `an example of ${needed}`);
  }
  const failures = (errors['docs_examples.ts'] ?? []).map(({ line, text }) => {
    const i = generated.docs.spans.findIndex(([first, last]) => line >= first && line <= last);
    return `${i < 0 ? `line ${line}` : `api.md line ${documented[i].line}`}: ${text}`;
  });
  assert.deepEqual(failures, []);
});

test('a body that does not fit fails: each deliberately wrong body gets its own tsc error', () => {
  const wrongErrors = errors['wrong_examples.ts'] ?? [];
  const failing = new Set(wrongErrors.map(({ line }) => generated.wrong.spans.findIndex(([first, last]) => line >= first && line <= last)));
  assert.ok(!failing.has(-1), `an error outside the examples: ${JSON.stringify(wrongErrors)}`);
  const passed = WRONG.filter((_, i) => !failing.has(i)).map((e) => e.where);
  assert.deepEqual(passed, [], 'these wrong bodies type-check');
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});
