// The black-box harness's database adapter (tests/support/database.mjs) on PostgreSQL, the store
// whose pass cannot run the service yet: the database of a service folder, SQL through psql, the
// row counts, the foreign-key check, the bytes at rest and the write lock, against a real cluster:
// the run's (INVITED_TEST_PG_DIR, started by scripts/test) or one of this process's own. (On
// SQLite the whole black-box suite exercises it.) The template is built
// from src/store/postgres/migrations/ with psql here; the PostgreSQL pass builds it with
// `invited migrate`.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { makeTempDir } from '../support/service.mjs';

const MIGRATIONS = new URL('../../src/store/postgres/migrations/', import.meta.url).pathname;

let db; // the adapter, loaded with INVITED_TEST_STORE=postgres
let pg;

before(async () => {
  process.env.INVITED_TEST_STORE = 'postgres';
  // A module instance of its own: the one service.mjs loaded reads the store of this process.
  db = await import('../support/database.mjs?store=postgres');
  db.useTemplateSetup((database) => {
    for (const name of readdirSync(MIGRATIONS).filter((n) => n.endsWith('.sql')).sort()) {
      execFileSync(db.testCluster().psqlPath, ['-X', '-q', '-1', '-v', 'ON_ERROR_STOP=1', '-d', database.url, '-f', `${MIGRATIONS}${name}`]);
    }
  }, 'tpl_adapter');
  pg = db.testCluster();
});

after(async () => {
  await pg?.stop(); // only a cluster of this process's own
});

test('a service folder gets a database of its own, copied from the migrated template and kept for the folder', () => {
  const first = makeTempDir();
  const second = makeTempDir();
  const url = db.databaseUrlFor(first);
  assert.match(url, /^postgresql:\/\/invited:[0-9a-f]{32}@127\.0\.0\.1:\d+\/t_\d+_\d+_[0-9a-f]{6}$/);
  assert.equal(db.databaseUrlFor(first), url, 'a restart on the same folder finds the same database');
  assert.notEqual(db.databaseUrlFor(second), url);
  // The service's role reaches it over TCP with the URL's password, and finds the schema there.
  const tables = execFileSync(pg.psqlPath, ['-X', '-tA', '-d', url, '-c', "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"], {
    encoding: 'utf8',
  }).trim();
  assert.equal(tables, String(db.tableNames(first).length));
  assert.ok(db.tableNames(first).includes('invites'));
  // A fresh database holds only what the migrations seed: the write probe's one row (0005).
  const { write_probe: probeRows, ...rest } = db.tableCounts(second);
  assert.equal(probeRows, 1, 'the write probe row');
  assert.deepEqual(Object.entries(rest).filter(([, n]) => n !== 0), [], 'no other rows');
});

test('query reads as strings, refuses to write; execute writes; tableCounts and the dialect helpers agree', () => {
  const dir = makeTempDir();
  const id = '0b7e7dc4-8f55-4d6e-9d37-3f3a4b1c2d5e';
  const before = db.tableCounts(dir);
  db.execute(dir, `INSERT INTO organizations(id, name, created_at) VALUES ('${id}', 'Acme', 1700000000)`);
  assert.deepEqual(db.tableCounts(dir), { ...before, organizations: before.organizations + 1 });
  assert.deepEqual(db.query(dir, `SELECT ${db.uuidText('id')}, name, created_at, deleted FROM organizations, (SELECT NULL AS deleted) d WHERE ${db.uuidEquals('id', id.toUpperCase())}`), [
    [id, 'Acme', '1700000000', ''],
  ]);
  assert.throws(() => db.query(dir, "UPDATE organizations SET name = 'changed'"), /read-only transaction/);
  db.execute(dir, `INSERT INTO api_keys(id, org_pk, name, key_hash, scoped, created_at)
    SELECT gen_random_uuid(), pk, 'k', '\\xab01'::bytea, true, 1 FROM organizations`);
  assert.deepEqual(db.query(dir, `SELECT ${db.hexText('key_hash')}, CAST(scoped AS INTEGER) FROM api_keys`), [['AB01', '1']]);
});

test('danglingReferences finds a row whose foreign key points at nothing, by its foreign key', () => {
  const dir = makeTempDir();
  assert.deepEqual(db.danglingReferences(dir), []);
  // Enforced foreign keys are bypassed (replica mode) to leave what an unenforced schema could.
  db.execute(dir, `SET session_replication_role = replica;
    INSERT INTO websites(id, org_pk, url, name, created_at) VALUES (gen_random_uuid(), 999, 'https://x.example', 'x', 1)`);
  assert.deepEqual(db.danglingReferences(dir), [['websites(org_pk) -> organizations(pk)', '1']]);
});

test('bytesAtRest holds the pages of the tables, a deleted row version included', () => {
  const dir = makeTempDir();
  const secret = `secret-${Date.now()}-${Math.random()}`;
  db.execute(dir, `INSERT INTO organizations(id, name, created_at) VALUES (gen_random_uuid(), '${secret}', 1)`);
  db.execute(dir, `DELETE FROM organizations WHERE name = '${secret}'`);
  const holding = db.bytesAtRest(dir).filter(({ bytes }) => bytes.includes(Buffer.from(secret))).map((r) => r.what);
  assert.ok(holding.includes('relation organizations'), `found in ${JSON.stringify(holding)}`);
});

test('holdWriteLock: writers wait until release, readers do not', async () => {
  const dir = makeTempDir();
  const url = db.databaseUrlFor(dir);
  const asService = (sql) =>
    execFileSync(pg.psqlPath, ['-X', '-tA', '-v', 'ON_ERROR_STOP=1', '-d', url, '-c', sql], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  const lock = await db.holdWriteLock(dir);
  try {
    assert.equal(asService('SELECT count(*) FROM organizations'), '0');
    assert.throws(
      () => asService("SET lock_timeout = '300ms'; INSERT INTO organizations(id, name, created_at) VALUES (gen_random_uuid(), 'blocked', 1)"),
      /lock timeout/,
    );
  } finally {
    await lock.release();
  }
  asService("SET lock_timeout = '5s'; INSERT INTO organizations(id, name, created_at) VALUES (gen_random_uuid(), 'after', 1)");
  assert.equal(asService('SELECT name FROM organizations'), 'after');
});
