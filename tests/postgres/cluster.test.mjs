// The PostgreSQL test harness itself: scripts/pg-cluster through tests/support/postgres.mjs, as
// every black-box test on PostgreSQL will use it. Real clusters, started and stopped here: one
// for most tests (starting one costs 5-13 s on the shared machine), one more for the non-root run.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PG_CLUSTER, startPostgres } from '../support/postgres.mjs';

const MIGRATION = new URL('../../src/store/postgres/migrations/0001_initial.sql', import.meta.url).pathname;

// psql as the service's role, through the URL a service would be given (TCP, password).
function asService(pg, url, query) {
  return execFileSync(pg.psqlPath, ['-X', '-tA', '-d', url, '-c', query], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  }).trim();
}

let pg;
before(async () => {
  delete process.env.INVITED_TEST_PG_DIR;
  pg = await startPostgres();
});

after(async () => {
  const dir = pg.dir;
  await pg.stop();
  assert.equal(existsSync(dir), false, 'the cluster folder is removed');
  await pg.stop(); // idempotent
  execFileSync(PG_CLUSTER, ['stop', dir]); // the script's stop too, on a folder that is gone
});

test('the cluster runs with durable commits and the settings of the benchmark', () => {
  assert.match(pg.url, /^postgresql:\/\/invited:[0-9a-f]{32}@127\.0\.0\.1:\d+\/invited$/);
  const settings = pg.sql('postgres', "SELECT name, setting FROM pg_settings WHERE name IN "
    + "('fsync', 'synchronous_commit', 'shared_buffers', 'max_connections', 'listen_addresses') ORDER BY name");
  assert.deepEqual(settings, [
    ['fsync', 'on'], ['listen_addresses', '127.0.0.1'], ['max_connections', '400'],
    ['shared_buffers', '32768'], ['synchronous_commit', 'on'],
  ]);
});

test('fresh databases are reachable by the service role and isolated from each other', () => {
  const a = pg.freshDatabase();
  const b = pg.freshDatabase();
  assert.notEqual(a.name, b.name);
  assert.equal(asService(pg, a.url, "SELECT current_user || ' ' || current_database()"), `invited ${a.name}`);
  asService(pg, a.url, 'CREATE TABLE only_in_a (n int)');
  assert.deepEqual(pg.sql(b.name, "SELECT to_regclass('only_in_a') IS NULL"), [['t']]);
  assert.equal(asService(pg, b.socketUrl, 'SELECT current_database()'), b.name);
});

test('a template is built once per cluster, even when callers race, and copied per test file', async () => {
  let builds = 0;
  const setup = (db) => {
    builds++;
    execFileSync(pg.psqlPath, ['-X', '-q', '-1', '-v', 'ON_ERROR_STOP=1', '-d', db.url, '-f', MIGRATION]);
  };
  const names = await Promise.all([pg.templateDatabase('tpl_schema', setup), pg.templateDatabase('tpl_schema', setup)]);
  assert.deepEqual(names, ['tpl_schema', 'tpl_schema']);
  const built = builds;
  assert.ok(built >= 1 && built <= 2);
  assert.equal(await pg.templateDatabase('tpl_schema', setup), 'tpl_schema');
  assert.equal(builds, built, 'an existing template is not rebuilt');
  const copy = pg.freshDatabase({ template: 'tpl_schema' });
  assert.deepEqual(pg.sql(copy.name, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"), [['15']]);
  // A losing builder's database is gone: one template is left.
  const templates = pg.sql('postgres', "SELECT datname FROM pg_database WHERE datname LIKE 'tpl%'").map((r) => r[0]);
  assert.deepEqual(templates, ['tpl_schema']);
});

test('a shared cluster named by INVITED_TEST_PG_DIR is used and never stopped by a test file', async () => {
  process.env.INVITED_TEST_PG_DIR = pg.dir;
  try {
    const shared = await startPostgres();
    assert.equal(shared.dir, pg.dir);
    assert.equal(shared.owned, false);
    const db = shared.freshDatabase();
    await shared.stop();
    assert.equal(asService(pg, db.url, 'SELECT 1'), '1');
  } finally {
    delete process.env.INVITED_TEST_PG_DIR;
  }
});

test('stop and start again keeps the port, so a URL handed out stays valid', () => {
  const db = pg.freshDatabase();
  asService(pg, db.url, 'CREATE TABLE kept (n int); INSERT INTO kept VALUES (7)');
  execFileSync(PG_CLUSTER, ['stop', pg.dir]);
  assert.throws(() => asService(pg, db.url, 'SELECT 1'), /Connection refused/);
  execFileSync(PG_CLUSTER, ['stop', pg.dir]); // idempotent
  const url = execFileSync(PG_CLUSTER, ['start', pg.dir], { encoding: 'utf8' }).trim();
  assert.equal(url, pg.url);
  assert.equal(asService(pg, db.url, 'SELECT n FROM kept'), '7');
});

test('run by a user other than root, the cluster runs as that user', async () => {
  // As root, run the script as the `postgres` user (from a copy it can read); as anyone else,
  // the script runs as that user already.
  const root = process.getuid() === 0;
  const parent = mkdtempSync(join(tmpdir(), 'invited-test-pg-user-'));
  const script = join(parent, 'pg-cluster');
  copyFileSync(PG_CLUSTER, script);
  chmodSync(script, 0o755);
  const dir = join(parent, 'cluster');
  const as = (args) => (root ? ['runuser', ['-u', 'postgres', '--', script, ...args]] : [script, args]);
  if (root) execFileSync('chown', ['postgres:', parent]);
  const url = execFileSync(...as(['start', dir]), { encoding: 'utf8', cwd: '/' }).trim();
  try {
    const owner = execFileSync('stat', ['-c', '%U', join(dir, 'data')], { encoding: 'utf8' }).trim();
    assert.equal(owner, root ? 'postgres' : execFileSync('id', ['-un'], { encoding: 'utf8' }).trim());
    assert.equal(execFileSync(pg.psqlPath, ['-X', '-tA', '-d', url, '-c', 'SELECT current_user'], { encoding: 'utf8' }).trim(), 'invited');
    assert.equal(readFileSync(join(dir, 'url'), 'utf8').trim(), url);
  } finally {
    execFileSync(...as(['stop', dir, '--remove']), { cwd: '/' });
    execFileSync('rm', ['-rf', parent]);
  }
});
