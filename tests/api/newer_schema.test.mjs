// A database that a newer invited migrated (a rolling upgrade, or a rollback to the previous
// release): this binary serves it when every migration it does not know is recorded as
// compatible, and refuses it, naming the migration, when one is breaking. The newer binary is
// simulated by SQL: its migration's effect and its row in schema_migrations (with the
// compatibility its first line declared), and on SQLite the version (PRAGMA user_version).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { makeTempDir, runCommand, startService } from '../support/service.mjs';
import { STORE, dialect, execute, query } from '../support/database.mjs';
import { GENEROUS_LIMITS, call, waitFor } from '../support/assertions.mjs';

const LATEST = Math.max(
  ...readdirSync(new URL(`../../src/store/${STORE}/migrations/`, import.meta.url))
    .filter((name) => name.endsWith('.sql'))
    .map((name) => Number(name.slice(0, 4))),
);

// What a newer binary's migration leaves in the database: `effect` (SQL) and its record.
function applyNewerMigration(dir, { version, name, compatibility, effect }) {
  execute(
    dir,
    dialect({
      sqlite: `BEGIN IMMEDIATE; ${effect}; INSERT INTO schema_migrations(version, name, applied_at, compatibility) VALUES (${version}, '${name}', 0, '${compatibility}'); PRAGMA user_version = ${version}; COMMIT;`,
      postgres: `${effect}; INSERT INTO schema_migrations(version, name, compatibility) VALUES (${version}, '${name}', '${compatibility}')`,
    }),
  );
}

// Compatible by the definition the migrations' headers follow: added tables, columns with
// defaults, indexes.
const compatibleMigrations = () => [
  {
    version: LATEST + 1,
    name: `${String(LATEST + 1).padStart(4, '0')}_website_notes`,
    compatibility: 'compatible',
    effect: "ALTER TABLE websites ADD COLUMN notes TEXT NOT NULL DEFAULT ''; CREATE TABLE website_tags (website_pk INTEGER NOT NULL, tag TEXT NOT NULL)",
  },
  {
    version: LATEST + 2,
    name: `${String(LATEST + 2).padStart(4, '0')}_tags_by_website`,
    compatibility: 'compatible',
    effect: 'CREATE INDEX website_tags_by_website ON website_tags(website_pk)',
  },
];
const breakingMigration = () => ({
  version: LATEST + 3,
  name: `${String(LATEST + 3).padStart(4, '0')}_websites_drop_name`,
  compatibility: 'breaking',
  // A breaking change this binary would trip over only later; the record is what refuses it.
  effect: 'CREATE TABLE website_names (website_pk INTEGER NOT NULL, name TEXT NOT NULL)',
});

const recorded = (dir) => query(dir, 'SELECT version, name, compatibility FROM schema_migrations ORDER BY version');

// A database at this binary's version, not served yet.
function migratedFolder() {
  const dir = makeTempDir('newer-schema-');
  runCommand(dir, ['migrate']);
  return dir;
}

// A website created and read back: the binary works on the schema, reads and writes.
async function worksOn(service, tag) {
  const { api_key: key } = service.createOrg(`Newer ${tag}`);
  const site = await service.createWebsite(key, `https://${tag}.newer.example`, `Site ${tag}`);
  const listed = await call(service, 'GET', '/api/v1/websites?limit=10', { key });
  assert.deepEqual(listed.websites.map((w) => w.id), [site.id]);
}

test(`${STORE}: a database whose migrations this binary does not know are all compatible is served`, async () => {
  const dir = migratedFolder();
  for (const migration of compatibleMigrations()) applyNewerMigration(dir, migration);
  const before = recorded(dir);
  const service = await startService({ dir, args: GENEROUS_LIMITS });
  try {
    const ready = await service.fetch('/readyz');
    assert.equal(ready.status, 200, await ready.text());
    await worksOn(service, 'served');
    // It says what it serves, and leaves the newer schema as it found it.
    const note = service.logs.find((line) => line.includes('newer than this binary'));
    assert.ok(note, service.logs.join('\n'));
    for (const { name } of compatibleMigrations()) assert.ok(note.includes(name), note);
    assert.deepEqual(recorded(dir), before);
  } finally {
    assert.equal(await service.stop(), 0);
  }
});

test(`${STORE}: a database with a breaking migration this binary does not know is refused at start, naming it`, async () => {
  const dir = migratedFolder();
  for (const migration of [...compatibleMigrations(), breakingMigration()]) applyNewerMigration(dir, migration);
  const before = recorded(dir);
  const { version, name } = breakingMigration();
  const expected = new RegExp(`newer than this binary \\(${LATEST}\\) and its migration ${version} \\(${name}\\) is breaking.*upgrade invited`);
  await assert.rejects(startService({ dir, args: GENEROUS_LIMITS }), (error) => {
    assert.match(error.message, /exited with 1 before listening/);
    assert.match(error.message, expected);
    return true;
  });
  // `invited migrate` refuses it the same way.
  assert.throws(() => runCommand(dir, ['migrate']), (error) => {
    assert.match(String(error.stderr), expected);
    return true;
  });
  assert.deepEqual(recorded(dir), before, 'nothing recorded or changed');
});

test(`${STORE}: a serving instance stays ready while a newer binary adds compatible migrations, and turns unready on a breaking one`, async () => {
  const dir = migratedFolder();
  const service = await startService({ dir, args: GENEROUS_LIMITS });
  try {
    assert.equal((await service.fetch('/readyz')).status, 200);
    // The newer instance of a rolling upgrade migrates while this one serves.
    for (const migration of compatibleMigrations()) applyNewerMigration(dir, migration);
    // (Waited for, not read once: on SQLite the migrating client's lock may hold the service's
    // write probe for a moment, which readiness reports too.)
    let body;
    await waitFor(async () => {
      const response = await service.fetch('/readyz');
      body = await response.text();
      return response.status === 200;
    }, { what: '/readyz to answer 200 on the newer compatible schema', intervalMs: 50 });
    await worksOn(service, 'rolling');
    // A breaking one: the load balancer must stop sending it requests.
    applyNewerMigration(dir, breakingMigration());
    const { name } = breakingMigration();
    await waitFor(async () => {
      const response = await service.fetch('/readyz');
      body = await response.text();
      return response.status === 503;
    }, { what: '/readyz to answer 503 after the breaking migration', intervalMs: 50 });
    assert.ok(body.includes(`(${name}) is breaking`), body);
    assert.equal((await service.fetch('/healthz')).status, 200, 'alive all the same');
  } finally {
    assert.equal(await service.stop(), 0);
  }
});
