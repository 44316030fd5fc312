// The black-box tests' one way into a service's database, on either store. A test process runs
// on one store, chosen by INVITED_TEST_STORE (`sqlite`, the default, or `postgres`); scripts/test
// runs the suite once per store. Every test that looks at or changes what the service stored goes
// through here, so the same test holds on both:
//
//   databaseUrlFor(dir)        the --database of the service folder `dir` (made on first use)
//   query(target, sql)         read-only SQL; rows as arrays of strings (NULL as '')
//   execute(target, sql)       a write (the service sees it on its next read)
//   tableCounts(target)        {table: rows} of every table: a fingerprint of everything written
//   danglingReferences(target) rows whose foreign key points at nothing (checked after every stop)
//   bytesAtRest(target)        what the store keeps at rest, as bytes (secrets never in clear)
//   holdWriteLock(target)      another client holding the write lock until release()
//   useOwnCluster()            PostgreSQL: a cluster of this process's own (tests that stop it)
//   uuidText(column), hexText(column), dialect({sqlite, postgres}): where the SQL differs
//
// `target` is a Service (tests/support/service.mjs) or its folder.
//
// SQLite: the database is `DIR/invited.db`, read with the sqlite3 tool (`-readonly` for queries).
// PostgreSQL: one throwaway cluster per run (INVITED_TEST_PG_DIR, started once by scripts/test)
// or, when a test file is run alone, one per test process (tests/support/postgres.mjs); one fresh
// database per service folder, copied from a template that `invited migrate` built once per
// cluster, so a service starts on a migrated schema without paying for the migrations. The
// database's name is kept in `DIR/postgres_database`, so a service restarted on the same folder
// (kill -9 and restart tests, `admin` commands beside a running server) finds the same database.
// psql runs as the cluster's superuser over its Unix socket (queries in read-only transactions).
//
// Portable SQL is preferred (CAST(flag AS INTEGER) reads a flag as 0/1 on both, CAST(n AS TEXT)
// before coalescing a number with text); where the engines differ, the helpers here or the test
// state both forms.
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startPostgresSync } from './postgres.mjs';

export const STORES = ['sqlite', 'postgres'];
export const STORE = process.env.INVITED_TEST_STORE || 'sqlite';
if (!STORES.includes(STORE)) throw new Error(`INVITED_TEST_STORE must be one of ${STORES.join(', ')}, not ${STORE}`);

const BIN = () => process.env.INVITED_BIN ?? new URL('../../build/invited', import.meta.url).pathname;
const SQLITE_MIGRATIONS = new URL('../../src/store/sqlite/migrations/', import.meta.url).pathname;
const POSTGRES_MIGRATIONS = new URL('../../src/store/postgres/migrations/', import.meta.url).pathname;

// The SQL of the store under test: `dialect({ sqlite: '...', postgres: '...' })`.
export function dialect(forms) {
  if (!(STORE in forms)) throw new Error(`no ${STORE} form given`);
  return forms[STORE];
}

// A uuid column as canonical text (SQLite keeps uuids as 16-byte blobs, PostgreSQL as uuid).
export function uuidText(column) {
  return dialect({
    sqlite: `lower(substr(hex(${column}),1,8)||'-'||substr(hex(${column}),9,4)||'-'||substr(hex(${column}),13,4)||'-'||substr(hex(${column}),17,4)||'-'||substr(hex(${column}),21,12))`,
    postgres: `CAST(${column} AS text)`,
  });
}

// A uuid column compared with the canonical text `id`.
export function uuidEquals(column, id) {
  return `${uuidText(column)} = '${String(id).toLowerCase().replaceAll("'", "''")}'`;
}

// A blob (bytea) column as upper-case hex.
export function hexText(column) {
  return dialect({ sqlite: `hex(${column})`, postgres: `upper(encode(${column}, 'hex'))` });
}

// --- which database a service folder uses ---------------------------------------------------

let cluster;
function postgresCluster() {
  cluster ??= startPostgresSync();
  return cluster;
}

// The cluster of this process's PostgreSQL databases (started on first use).
export function testCluster() {
  if (STORE !== 'postgres') throw new Error('testCluster() is for INVITED_TEST_STORE=postgres');
  return postgresCluster();
}

// For tests that stop and start PostgreSQL under a running service
// (storage_faults.postgres.test.mjs): this process's databases go on a cluster of its own,
// started now (5-13 s) and removed when the process exits, never on the run's shared one, whose
// stop would break every test running beside. Call it before any service folder gets its
// database. Returns the cluster (its `dir` is what `scripts/pg-cluster stop`/`start` take; a
// restart keeps its port, so the services' URLs stay valid).
export function useOwnCluster() {
  if (STORE !== 'postgres') throw new Error('useOwnCluster() is for INVITED_TEST_STORE=postgres');
  if (cluster) throw new Error('useOwnCluster() must come before the first database of this process');
  cluster = startPostgresSync({ own: true });
  return cluster;
}

// The template every fresh database is copied from: the schema `invited migrate` makes, named
// after the migrations it holds, built once per cluster.
let template;
let templateSetup = (db) => {
  try {
    execFileSync(BIN(), ['migrate'], {
      env: { ...process.env, INVITED_DATABASE: db.url, INVITED_LOG_LEVEL: 'warn' },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (error) {
    throw new Error(`invited migrate --database ${db.url.replace(/:[^:@/]*@/, ':***@')} failed (the template database of the PostgreSQL test pass): ${error.stderr || error.message}`);
  }
};
let templatePrefix = 'tpl';

// For the harness's own tests (tests/postgres/database_adapter.test.mjs) only: build the template
// with `setup(db)` instead of `invited migrate`, under a name starting with `prefix`.
export function useTemplateSetup(setup, prefix) {
  templateSetup = setup;
  templatePrefix = prefix;
  template = undefined;
}

function migratedTemplate() {
  if (template) return template;
  const hash = createHash('sha256');
  for (const name of readdirSync(POSTGRES_MIGRATIONS).sort()) hash.update(name).update(readFileSync(join(POSTGRES_MIGRATIONS, name)));
  hash.update(BIN());
  const name = `${templatePrefix}_${hash.digest('hex').slice(0, 16)}`;
  template = postgresCluster().templateDatabaseSync(name, templateSetup);
  return template;
}

const postgresNameFile = (dir) => join(dir, 'postgres_database');

// The PostgreSQL database of the service folder `dir`: its name, made on first use.
function postgresDatabaseOf(dir) {
  const file = postgresNameFile(dir);
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const { name } = postgresCluster().freshDatabase({ template: migratedTemplate() });
  writeFileSync(file, `${name}\n`);
  return name;
}

// The --database of the service folder `dir` on the store under test.
export function databaseUrlFor(dir) {
  if (STORE === 'sqlite') return `sqlite://${join(dir, 'invited.db')}`;
  return postgresCluster().urlFor(postgresDatabaseOf(dir));
}

// --- SQL ---------------------------------------------------------------------------------------

const dirOf = (target) => (typeof target === 'string' ? target : target.dir);

function rowsOf(out) {
  const text = out.replace(/\n$/, '');
  return text === '' ? [] : text.split('\n').map((line) => line.split('\t'));
}

function psql(dir, sql, { readOnly, maxBuffer }) {
  const pg = postgresCluster();
  const env = { ...process.env, PGOPTIONS: readOnly ? '-c default_transaction_read_only=on' : '' };
  return rowsOf(
    execFileSync(pg.psqlPath, pg.psqlArgs(postgresDatabaseOf(dir), ['-tA', '-F', '\t', '-c', sql]), {
      env,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      maxBuffer,
    }),
  );
}

function sqlite(dir, sql, { readOnly, maxBuffer }) {
  const args = readOnly ? ['-readonly'] : ['-cmd', '.timeout 5000'];
  return rowsOf(
    execFileSync('sqlite3', [...args, '-separator', '\t', join(dir, 'invited.db'), sql], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      maxBuffer,
    }),
  );
}

// SQL on the SQLite database file `file`, whatever the store under test: for tests that move data
// from one store to the other (tests/api/copy_to.postgres.test.mjs reads its SQLite source with
// it, and with `write` changes its schema the way a forgotten migration twin would). Read-only
// unless `write`. Rows as arrays of strings; NULL reads as ''.
export function querySqliteFile(file, sql, { write = false } = {}) {
  return rowsOf(
    execFileSync('sqlite3', [...(write ? [] : ['-readonly']), '-separator', '\t', file, sql], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
}

// Read-only SQL against the service's database, to prove what was (not) written. Rows as arrays
// of strings; NULL reads as ''.
export function query(target, sql) {
  const run = STORE === 'sqlite' ? sqlite : psql;
  return run(dirOf(target), sql, { readOnly: true });
}

// A write on the service's database (SQLite: waits up to 5 s for the service's writer).
export function execute(target, sql, { maxBuffer } = {}) {
  const run = STORE === 'sqlite' ? sqlite : psql;
  return run(dirOf(target), sql, { readOnly: false, maxBuffer });
}

// The tables of the service's schema, by name.
export function tableNames(target) {
  return query(
    target,
    dialect({
      sqlite: "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
      postgres: "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename",
    }),
  ).map((r) => r[0]);
}

// Tables of the limiter's bookkeeping, not of data: PostgreSQL's shared rate-limit buckets get a
// row the first time an organization draws from a budget, which a request that is then refused
// (a bad body, a target budget too small) does on purpose.
const NOT_DATA = new Set(['rate_budgets']);

// Row counts of every table in one query (fast enough to take before and after every rejected
// request): a fingerprint of everything the service has written.
export function tableCounts(target) {
  const tables = tableNames(target).filter((t) => !NOT_DATA.has(t));
  const sql = tables.map((t) => `SELECT '${t}', COUNT(*) FROM ${t}`).join(' UNION ALL ');
  const counts = {};
  for (const [table, n] of query(target, sql)) counts[table] = Number(n);
  return counts;
}

// The foreign keys of the schema, as SQLite's migrations declare them (the reference schema: the
// PostgreSQL schema means the same, whether or not it enforces them): [{table, columns, parent,
// parentColumns}].
let foreignKeys;
function declaredForeignKeys() {
  if (foreignKeys) return foreignKeys;
  const script = readdirSync(SQLITE_MIGRATIONS)
    .filter((n) => n.endsWith('.sql'))
    .sort()
    .map((n) => readFileSync(join(SQLITE_MIGRATIONS, n), 'utf8'))
    .join('\n;\n');
  const out = execFileSync('sqlite3', ['-separator', '\t', ':memory:'], {
    input: `${script}\n;\nSELECT m.name, f.id, f.seq, f."table", f."from", f."to" FROM sqlite_master m, pragma_foreign_key_list(m.name) f WHERE m.type = 'table' ORDER BY m.name, f.id, f.seq;\n`,
    encoding: 'utf8',
  });
  const byKey = new Map();
  // (Only the rows of the query: a migration's own statements may print something too.)
  for (const [table, id, , parent, from, to] of rowsOf(out).filter((row) => row.length === 6)) {
    const k = `${table}/${id}`;
    if (!byKey.has(k)) byKey.set(k, { table, parent, columns: [], parentColumns: [] });
    byKey.get(k).columns.push(from);
    byKey.get(k).parentColumns.push(to);
  }
  foreignKeys = [...byKey.values()];
  return foreignKeys;
}

// Rows whose foreign key points at no row: SQLite's PRAGMA foreign_key_check (foreign keys are
// declared but not enforced while serving); on PostgreSQL one anti-join per foreign key.
// Returns [] when every reference holds; otherwise descriptions of the dangling rows.
export function danglingReferences(target) {
  if (STORE === 'sqlite') return query(target, 'PRAGMA foreign_key_check');
  // A table the PostgreSQL schema lacks (yet) has nothing to check; the tests that use it fail.
  const present = new Set(tableNames(target));
  const checks = declaredForeignKeys()
    .filter((fk) => present.has(fk.table))
    .map(({ table, columns, parent, parentColumns }) => {
      const notNull = columns.map((c) => `c.${c} IS NOT NULL`).join(' AND ');
      const match = columns.map((c, i) => `p.${parentColumns[i]} = c.${c}`).join(' AND ');
      const what = `${table}(${columns.join(',')}) -> ${parent}(${parentColumns.join(',')})`;
      return `SELECT '${what}', COUNT(*) FROM ${table} c WHERE ${notNull} AND NOT EXISTS (SELECT 1 FROM ${parent} p WHERE ${match})`;
    });
  if (checks.length === 0) return [];
  return query(target, checks.join(' UNION ALL ')).filter(([, n]) => n !== '0');
}

// Everything the store keeps at rest for the service, as bytes, to prove that a secret never
// reaches it in clear: SQLite's database file, write-ahead log and shared-memory index;
// PostgreSQL's pages of the service's own tables, their indexes and TOAST (read through the
// buffer manager with pageinspect, so pages not yet written back count, and dead row versions
// that VACUUM has not removed are included). Not covered on PostgreSQL: the cluster's
// write-ahead log, shared with every other test database of the run. Returns [{what, bytes}].
export function bytesAtRest(target) {
  const dir = dirOf(target);
  if (STORE === 'sqlite') {
    return ['invited.db', 'invited.db-wal', 'invited.db-shm']
      .map((name) => join(dir, name))
      .filter((path) => existsSync(path))
      .map((path) => ({ what: path, bytes: readFileSync(path) }));
  }
  const rows = execute(
    dir,
    `CREATE EXTENSION IF NOT EXISTS pageinspect;
     SELECT c.oid::regclass, b.n, encode(get_raw_page(c.oid::regclass::text, 'main', b.n), 'hex')
       FROM pg_class c
       CROSS JOIN LATERAL generate_series(0, CAST(pg_relation_size(c.oid) / current_setting('block_size')::int AS int) - 1) AS b(n)
      WHERE c.oid IN (
        WITH t AS (SELECT oid FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'i')),
             toast AS (SELECT reltoastrelid AS oid FROM pg_class WHERE oid IN (SELECT oid FROM t) AND reltoastrelid <> 0)
        SELECT oid FROM t UNION SELECT oid FROM toast UNION SELECT indexrelid FROM pg_index WHERE indrelid IN (SELECT oid FROM toast))
      ORDER BY 1, 2`,
    { maxBuffer: 1 << 30 },
  );
  const pages = new Map();
  for (const [relation, , hex] of rows) {
    if (!pages.has(relation)) pages.set(relation, []);
    pages.get(relation).push(Buffer.from(hex, 'hex'));
  }
  return [...pages].map(([relation, list]) => ({ what: `relation ${relation}`, bytes: Buffer.concat(list) }));
}

// Another client holding the database's write lock until release(): every write of the service
// waits meanwhile (and fails once its own timeout passes); reads go on. SQLite: the sqlite3 tool
// in BEGIN EXCLUSIVE. PostgreSQL: psql in a transaction holding every table of the schema in
// EXCLUSIVE mode (which blocks INSERT, UPDATE and DELETE, not SELECT), the rate-limit buckets
// excepted (or, given `tables`, those tables only). Resolves once the lock is
// held; release() resolves once the holder committed and exited.
export async function holdWriteLock(target, { tables: only } = {}) {
  const dir = dirOf(target);
  let child;
  let script;
  if (STORE === 'sqlite') {
    child = spawn('sqlite3', ['-cmd', '.timeout 10000', join(dir, 'invited.db')], { stdio: ['pipe', 'pipe', 'pipe'] });
    script = "BEGIN EXCLUSIVE;\nSELECT 'locked';\n";
  } else {
    const pg = postgresCluster();
    // The data's tables only: the limiter's buckets (NOT_DATA) are drawn by every request, reads
    // included, outside any transaction, and a lock on them would stop reads too.
    const tables = only ?? tableNames(dir).filter((table) => !NOT_DATA.has(table));
    child = spawn(pg.psqlPath, pg.psqlArgs(postgresDatabaseOf(dir), ['-tA']), { stdio: ['pipe', 'pipe', 'pipe'] });
    script = `BEGIN;\nLOCK TABLE ${tables.join(', ')} IN EXCLUSIVE MODE;\nSELECT 'locked';\n`;
  }
  const exited = once(child, 'exit');
  let output = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => {
    output += chunk;
  });
  child.stdin.write(script);
  const deadline = Date.now() + 15000;
  while (!output.includes('locked')) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`could not take the write lock: ${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return {
    async release() {
      child.stdin.end('COMMIT;\n');
      const [code] = await exited;
      if (code !== 0) throw new Error(`the write lock's holder exited with ${code}: ${output}`);
    },
    kill() {
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}
