// Several instances started at once on one empty PostgreSQL database (a fresh deployment, or
// every replica restarted together): they migrate it once between them, under the migration's
// advisory lock, and every one of them comes up and serves. PostgreSQL only: SQLite has one
// server per database file (one_server_per_database.sqlite.test.mjs covers its concurrent
// `invited migrate`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir, startService } from '../support/service.mjs';
import { testCluster } from '../support/database.mjs';
import { GENEROUS_LIMITS, call, count } from '../support/assertions.mjs';

const MIGRATIONS = readdirSync(new URL('../../src/store/postgres/migrations/', import.meta.url))
  .filter((name) => name.endsWith('.sql'))
  .map((name) => name.slice(0, -'.sql'.length))
  .sort();

// The "database migrated" lines an instance logged: the migrations it applied itself.
const migratedBy = (service) =>
  service.logs
    .map((line) => {
      try {
        return JSON.parse(line);
      } catch {
        return {};
      }
    })
    .filter((entry) => entry.msg === 'database migrated')
    .map((entry) => entry.name);

test('postgres: three instances started at once on an empty database migrate it once between them and all come up', async () => {
  const cluster = testCluster();
  const database = cluster.freshDatabase(); // empty: no schema_migrations, no tables
  assert.deepEqual(cluster.sql(database.name, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"), []);
  // Three service folders on the one database (the harness finds it through the folder's file).
  const dirs = [1, 2, 3].map(() => {
    const dir = makeTempDir('empty-start-');
    writeFileSync(join(dir, 'postgres_database'), `${database.name}\n`);
    return dir;
  });
  const started = await Promise.allSettled(dirs.map((dir) => startService({ dir, args: GENEROUS_LIMITS })));
  const services = started.filter((s) => s.status === 'fulfilled').map((s) => s.value);
  try {
    assert.deepEqual(started.filter((s) => s.status === 'rejected').map((s) => String(s.reason)), [], 'every instance comes up');

    // Each migration applied exactly once: recorded once, and logged by exactly one instance
    // (a second run of any of them would have failed on the objects the first one created).
    const applied = services.flatMap(migratedBy).sort();
    assert.deepEqual(applied, MIGRATIONS, `applied by the instances: ${services.map((s) => migratedBy(s).join(',')).join(' | ')}`);
    const recorded = cluster.sql(database.name, 'SELECT name FROM schema_migrations ORDER BY version').map((r) => r[0]);
    assert.deepEqual(recorded, MIGRATIONS);

    // All serve the one database: ready, and what one writes the others read.
    for (const service of services) {
      const ready = await service.fetch('/readyz');
      assert.equal(ready.status, 200, await ready.text());
    }
    const { api_key: apiKey } = services[0].createOrg('Started Together');
    for (const [i, service] of services.entries()) {
      await service.createWebsite(apiKey, `https://site${i}.together.example`, `Site ${i}`);
    }
    for (const service of services) {
      const listed = await call(service, 'GET', '/api/v1/websites?limit=10', { key: apiKey });
      assert.equal(listed.websites.length, 3);
    }
    assert.equal(count(services[0], 'SELECT COUNT(*) FROM websites'), 3);
  } finally {
    for (const service of services) assert.equal(await service.stop(), 0);
  }
});
