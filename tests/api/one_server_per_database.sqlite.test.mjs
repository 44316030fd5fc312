// One `invited serve` per SQLite file (docs/architecture.md): a second one refuses at start with
// a message naming the database and what to do, while `invited migrate` and `invited admin` go on
// working beside the one that serves. Concurrent migrations apply each step exactly once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, makeTempDir, runCommand, startService } from '../support/service.mjs';

// The refusal of a second server: it exits 1 before listening and says why and what to do.
function assertRefusedSecondServer(error, dir) {
  const message = String(error?.message ?? error);
  assert.match(message, /exited with 1 before listening/, message);
  assert.ok(message.includes(join(dir, 'invited.db')), `the refusal does not name the database: ${message}`);
  assert.match(message, /already serving/, message);
  assert.match(message, /stop that process first/, message);
}

// Runs `invited migrate` on `dir`'s database as a separate process: {code, output}.
function migrateProcess(dir) {
  return new Promise((resolve) => {
    const child = spawn(BIN, ['migrate'], {
      env: { ...process.env, INVITED_DATABASE: `sqlite://${join(dir, 'invited.db')}`, INVITED_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => { output += chunk; });
    child.stderr.on('data', (chunk) => { output += chunk; });
    child.on('exit', (code) => resolve({ code, output }));
  });
}

test('sqlite: a second serve on the same database refuses, naming the file and what to do; migrate and admin work meanwhile; a killed server leaves no lock behind', async () => {
  const first = await startService();
  let killed = false;
  try {
    await assert.rejects(startService({ dir: first.dir }), (error) => {
      assertRefusedSecondServer(error, first.dir);
      return true;
    });

    const migrated = runCommand(first.dir, ['migrate']);
    assert.equal(migrated.applied, 0);
    assert.ok(migrated.schema_version >= 1);
    // An organization created by a command while the service runs is served at once.
    const org = runCommand(first.dir, ['admin', 'create-org', '--name', 'Made beside the server']);
    const website = await first.createWebsite(org.api_key, 'https://beside.example');
    assert.equal((await first.api('GET', `/api/v1/websites/${website.id}`, { key: org.api_key })).status, 200);
    assert.equal((await first.api('GET', '/readyz')).status, 200);

    // However the server ends (here SIGKILL, no clean-up at all), the file is free again.
    await first.stop('SIGKILL');
    killed = true;
  } finally {
    if (!killed) await first.stop();
  }
  const next = await startService({ dir: first.dir });
  try {
    assert.equal((await next.api('GET', '/readyz')).status, 200);
    await assert.rejects(startService({ dir: first.dir }), (error) => {
      assertRefusedSecondServer(error, first.dir);
      return true;
    });
  } finally {
    assert.equal(await next.stop(), 0);
  }
});

test('sqlite: two servers started together on a fresh database: one serves, the other refuses', async () => {
  const dir = makeTempDir();
  const outcomes = await Promise.allSettled([startService({ dir }), startService({ dir })]);
  const served = outcomes.filter((o) => o.status === 'fulfilled').map((o) => o.value);
  const refused = outcomes.filter((o) => o.status === 'rejected').map((o) => o.reason);
  try {
    assert.equal(served.length, 1, `servers that started: ${served.length}; refusals: ${refused.map(String).join('\n')}`);
    assertRefusedSecondServer(refused[0], dir);
    const org = served[0].createOrg();
    assert.equal((await served[0].api('GET', '/api/v1/websites', { key: org.api_key })).status, 200);
  } finally {
    for (const service of served) assert.equal(await service.stop(), 0);
  }
});

test('sqlite: migrations started at once by several processes apply each step exactly once', async () => {
  const dir = makeTempDir();
  const results = await Promise.all([1, 2, 3, 4].map(() => migrateProcess(dir)));
  for (const { code, output } of results) assert.equal(code, 0, output);
  const reports = results.map(({ output }) => JSON.parse(output.trim().split('\n').pop()));
  const steps = readdirSync(new URL('../../src/store/sqlite/migrations/', import.meta.url)).filter((n) => n.endsWith('.sql'));
  const latest = Math.max(...steps.map((n) => Number(n.slice(0, 4))));
  for (const report of reports) assert.equal(report.schema_version, latest);
  assert.equal(reports.reduce((sum, report) => sum + report.applied, 0), steps.length, JSON.stringify(reports));
});
