// The operator's commands (README, "Admin commands"): `invited admin list-orgs`, `list-keys`,
// `revoke-key` next to `create-org` and `create-key`, run as separate processes against the
// database of a running service. Lists print a table, or one JSON array with --json; every
// refusal names what to fix and exits non-zero. A key revoked through the command stops working
// on the running service: on PostgreSQL at once (the service hears the revocation, so its key
// cache of a minute does not matter), on SQLite once its key cache expires (--key-cache-ms).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { BIN, envFor, startService } from '../support/service.mjs';
import { GENEROUS_LIMITS, TIMESTAMP_RE, assertError, waitFor } from '../support/assertions.mjs';

const STORE = process.env.INVITED_TEST_STORE ?? 'sqlite';
// PostgreSQL: a minute, so only the notification can make the revocation take effect in time.
// SQLite: the cache's expiry is the bound, kept short so the test stays quick.
const KEY_CACHE_MS = STORE === 'postgres' ? 60000 : 1000;

let service;
let acme;
let globex;

before(async () => {
  service = await startService({ args: [...GENEROUS_LIMITS, '--key-cache-ms', String(KEY_CACHE_MS)] });
  acme = service.createOrg('Acme Corp');
  globex = service.createOrg('Globex');
});

after(async () => {
  assert.equal(await service.stop(), 0);
});

// Runs `invited ARGS` against the service's database: { status, stdout, stderr }.
function admin(...args) {
  const result = spawnSync(BIN, args, { env: { ...process.env, ...envFor(service.dir) }, encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

// The rows of a printed table, each split into its columns (two or more spaces apart).
function tableRows(stdout) {
  return stdout.trimEnd().split('\n').map((line) => line.split(/ {2,}/));
}

test('admin list-orgs prints every organization as a table, or as JSON with --json', () => {
  const table = admin('admin', 'list-orgs');
  assert.equal(table.status, 0, table.stderr);
  const rows = tableRows(table.stdout);
  assert.deepEqual(rows[0], ['ORG_ID', 'CREATED_AT', 'NAME']);
  assert.deepEqual(rows.slice(1).map((r) => [r[0], r[2]]), [[acme.org_id, 'Acme Corp'], [globex.org_id, 'Globex']]);
  for (const row of rows.slice(1)) assert.match(row[1], TIMESTAMP_RE);

  const json = admin('admin', 'list-orgs', '--json');
  assert.equal(json.status, 0, json.stderr);
  const orgs = JSON.parse(json.stdout);
  assert.deepEqual(orgs.map((o) => [o.org_id, o.name]), [[acme.org_id, 'Acme Corp'], [globex.org_id, 'Globex']]);
  for (const org of orgs) assert.match(org.created_at, TIMESTAMP_RE);
});

test("admin list-keys --org lists that organization's keys only, scope and revocation included", async () => {
  const site = await service.createWebsite(acme.api_key, 'https://shop.acme.example', 'Shop');
  const scoped = service.createKey(acme.org_id, [site.id], 'shop only');
  const table = admin('admin', 'list-keys', '--org', acme.org_id);
  assert.equal(table.status, 0, table.stderr);
  const rows = tableRows(table.stdout);
  assert.deepEqual(rows[0], ['KEY_ID', 'CREATED_AT', 'REVOKED_AT', 'SCOPE', 'NAME']);
  const byId = new Map(rows.slice(1).map((r) => [r[0], r]));
  assert.equal(byId.size, 2, table.stdout);
  assert.equal(byId.get(acme.key_id)[3], 'global');
  assert.equal(byId.get(scoped.key_id)[3], site.id);
  assert.equal(byId.get(scoped.key_id)[4], 'shop only');
  assert.ok(!table.stdout.includes(globex.key_id), "another organization's key is not listed");
  assert.ok(!table.stdout.includes(acme.api_key) && !table.stdout.includes(scoped.api_key), 'no secret is shown');

  const json = admin('admin', 'list-keys', '--org', acme.org_id, '--json');
  assert.equal(json.status, 0, json.stderr);
  const keys = JSON.parse(json.stdout);
  const scopedJson = keys.find((k) => k.key_id === scoped.key_id);
  assert.deepEqual(
    { ...scopedJson, created_at: 'T' },
    { key_id: scoped.key_id, org_id: acme.org_id, name: 'shop only', scoped: true, website_ids: [site.id], created_at: 'T', revoked_at: null },
  );
  assert.match(scopedJson.created_at, TIMESTAMP_RE);
});

test('admin revoke-key takes effect on the running service, is idempotent, and list-keys shows it', async () => {
  const key = service.createKey(globex.org_id, [], 'to revoke');
  // The service has the key in its cache before the revocation.
  assert.equal((await service.api('GET', '/api/v1/websites', { key: key.api_key })).status, 200);

  const revoked = admin('admin', 'revoke-key', '--key', key.key_id);
  assert.equal(revoked.status, 0, revoked.stderr);
  const body = JSON.parse(revoked.stdout);
  assert.equal(body.key_id, key.key_id);
  assert.equal(body.org_id, globex.org_id);
  assert.match(body.revoked_at, TIMESTAMP_RE);

  const refused = await waitFor(
    async () => {
      const answer = await service.api('GET', '/api/v1/websites', { key: key.api_key });
      return answer.status === 200 ? null : answer;
    },
    // Far past SQLite's cache expiry, and well below PostgreSQL's cache of a minute: there only
    // the service hearing the revocation can meet it.
    { timeoutMs: 20000, intervalMs: 20, what: 'the running service to refuse the revoked key' },
  );
  assertError(refused, 401, 'unauthorized');
  // The organization's other key still works.
  assert.equal((await service.api('GET', '/api/v1/websites', { key: globex.api_key })).status, 200);

  const again = admin('admin', 'revoke-key', '--key', key.key_id);
  assert.equal(again.status, 0, again.stderr);
  assert.equal(JSON.parse(again.stdout).revoked_at, body.revoked_at, 'revoking again keeps the first revocation');

  const listed = JSON.parse(admin('admin', 'list-keys', '--org', globex.org_id, '--json').stdout);
  assert.equal(listed.find((k) => k.key_id === key.key_id).revoked_at, body.revoked_at);
  assert.equal(listed.find((k) => k.key_id === globex.key_id).revoked_at, null);
});

test('every refusal of the admin commands names what to fix and changes nothing', () => {
  const missingOrg = admin('admin', 'list-keys');
  assert.notEqual(missingOrg.status, 0);
  assert.match(missingOrg.stderr, /--org is required/);

  const malformedOrg = admin('admin', 'list-keys', '--org', 'acme');
  assert.equal(malformedOrg.status, 2);
  assert.match(malformedOrg.stderr, /--org must be an organization id \(a UUID.*\), not 'acme'/);

  const unknownOrg = admin('admin', 'list-keys', '--org', '00000000-0000-7000-8000-000000000000');
  assert.equal(unknownOrg.status, 1);
  assert.match(unknownOrg.stderr, /no organization has the id 00000000-0000-7000-8000-000000000000 \(`invited admin list-orgs` lists them\)/);
  assert.equal(unknownOrg.stdout, '');

  const missingKey = admin('admin', 'revoke-key');
  assert.notEqual(missingKey.status, 0);
  assert.match(missingKey.stderr, /--key is required/);

  const malformedKey = admin('admin', 'revoke-key', '--key', 'not-a-key');
  assert.equal(malformedKey.status, 2);
  assert.match(malformedKey.stderr, /--key must be an API key id \(a UUID.*\), not 'not-a-key'/);

  const before = JSON.parse(admin('admin', 'list-keys', '--org', acme.org_id, '--json').stdout);
  const unknownKey = admin('admin', 'revoke-key', '--key', '00000000-0000-7000-8000-000000000001');
  assert.equal(unknownKey.status, 1);
  assert.match(unknownKey.stderr, /no API key has the id 00000000-0000-7000-8000-000000000001 \(`invited admin list-keys --org ID`/);
  assert.deepEqual(JSON.parse(admin('admin', 'list-keys', '--org', acme.org_id, '--json').stdout), before);

  const unknownCommand = admin('admin', 'delete-org');
  assert.notEqual(unknownCommand.status, 0);
  assert.match(unknownCommand.stderr, /admin needs one of: create-org, create-key, list-orgs, list-keys, revoke-key, copy-to \(not 'delete-org'\)/);
});
