// A throwaway PostgreSQL cluster for black-box tests, started by the project's own script
// (scripts/pg-cluster: initdb in a temporary folder, fsync on, TCP on 127.0.0.1 and a Unix
// socket, run as the `postgres` user when we are root), and a fresh database per test file.
//
//   const pg = await startPostgres();          // the run's cluster, or one of this process's own
//   const db = pg.freshDatabase();             // {name, url, socketUrl}: a new empty database
//   const tpl = await pg.templateDatabase('schema_v1', (db) => migrate(db.url));
//   const db = pg.freshDatabase({ template: tpl });  // a copy of the template: migrated already
//   pg.sql(db.name, 'SELECT count(*) FROM users')    // rows as arrays of strings (psql, superuser)
//   await pg.stop();                           // stops and removes the cluster if this process started it
//
// The run's cluster: when INVITED_TEST_PG_DIR names the folder of a running cluster (a test
// runner started it once with `scripts/pg-cluster start DIR`), every test file uses it and never
// stops it; otherwise startPostgres() starts one for this process in a temporary folder and
// stops it at stop() or, at the latest, when the process exits.
//
// Cost on the shared 2-core test machine (docs/postgres.md): starting a cluster 5-13 s (initdb);
// CREATE DATABASE 0.3-0.5 s, the same from a migrated template, while creating an empty database
// and then applying 0001_initial.sql adds 0.6-1.0 s. So a template pays from the second test file
// on.
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { waitFor } from './assertions.mjs';

const run = promisify(execFile);
export const PG_CLUSTER = new URL('../../scripts/pg-cluster', import.meta.url).pathname;

const NAME_RE = /^[a-z_][a-z0-9_]{0,62}$/;

function readValue(dir, file) {
  return readFileSync(join(dir, file), 'utf8').trim();
}

// psql's error text carries the SQLSTATE when VERBOSITY is verbose: "ERROR:  42P04: ...".
function sqlstateOf(error) {
  const match = /ERROR:\s+([0-9A-Z]{5}):/.exec(String(error.stderr ?? error.message));
  return match ? match[1] : null;
}

export class PostgresCluster {
  constructor(dir, owned) {
    this.dir = dir;
    this.owned = owned;
    this.port = Number(readValue(dir, 'port'));
    this.url = readValue(dir, 'url'); // the service's role and database over TCP
    const parsed = new URL(this.url);
    this.user = decodeURIComponent(parsed.username);
    this.password = decodeURIComponent(parsed.password);
    this.psqlPath = join(execFileSync(PG_CLUSTER, ['bin'], { encoding: 'utf8' }).trim(), 'psql');
    this.counter = 0;
    this.stopped = false;
  }

  // The service's role over TCP to `database` (what `invited serve --database` takes).
  urlFor(database) {
    return `postgresql://${encodeURIComponent(this.user)}:${encodeURIComponent(this.password)}@127.0.0.1:${this.port}/${database}`;
  }

  // The same over the Unix socket in the cluster's folder.
  socketUrlFor(database) {
    return `postgresql://${encodeURIComponent(this.user)}@/${database}?host=${encodeURIComponent(this.dir)}&port=${this.port}`;
  }

  psqlArgs(database, extra) {
    return ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-v', 'VERBOSITY=verbose', '-h', this.dir, '-p', String(this.port),
      '-U', 'postgres', '-d', database, ...extra];
  }

  // Runs `query` as the superuser over the Unix socket; returns the rows as arrays of strings
  // (NULL as ''). Throws with psql's message (and SQLSTATE) when the query fails.
  sql(database, query) {
    const out = execFileSync(this.psqlPath, this.psqlArgs(database, ['-tA', '-F', '\t', '-c', query]), {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const text = out.replace(/\n$/, '');
    return text === '' ? [] : text.split('\n').map((line) => line.split('\t'));
  }

  async sqlAsync(database, query) {
    const { stdout } = await run(this.psqlPath, this.psqlArgs(database, ['-tA', '-F', '\t', '-c', query]), {
      encoding: 'utf8',
    });
    const text = stdout.replace(/\n$/, '');
    return text === '' ? [] : text.split('\n').map((line) => line.split('\t'));
  }

  databaseExists(name) {
    return this.sql('postgres', `SELECT 1 FROM pg_database WHERE datname = '${name}'`).length === 1;
  }

  // A new database for one test file, owned by the service's role: empty, or a copy of
  // `template` (a name from templateDatabase()). Returns {name, url, socketUrl}.
  freshDatabase({ template } = {}) {
    if (template !== undefined && !NAME_RE.test(template)) throw new Error(`bad template name ${template}`);
    const name = `t_${process.pid}_${this.counter++}_${randomBytes(3).toString('hex')}`;
    this.sql('postgres', `CREATE DATABASE ${name} OWNER ${this.user}${template ? ` TEMPLATE ${template}` : ''}`);
    return { name, url: this.urlFor(name), socketUrl: this.socketUrlFor(name) };
  }

  dropDatabase(name) {
    if (!NAME_RE.test(name)) throw new Error(`bad database name ${name}`);
    this.sql('postgres', `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }

  // A template database named `name` (e.g. the schema version plus a hash of the migrations),
  // built once per cluster by `setup({name, url, socketUrl})` (which may be async, e.g. running
  // `invited migrate` on the url). Safe when several test files ask at once: each builder works
  // on a database of its own and renames it into place; ALTER DATABASE ... RENAME decides who
  // wins, and the losers drop theirs. Returns `name`.
  async templateDatabase(name, setup) {
    if (!NAME_RE.test(name)) throw new Error(`bad template name ${name}`);
    if (this.databaseExists(name)) return name;
    const build = this.freshDatabase();
    await setup(build);
    await waitFor(
      async () => {
        try {
          await this.sqlAsync('postgres', `ALTER DATABASE ${build.name} RENAME TO ${name}`);
          return true;
        } catch (error) {
          const code = sqlstateOf(error);
          // 42P04 when the other builder's rename committed first; 23505 (pg_database's unique
          // index) when both renames ran at the same moment.
          if (code === '42P04' || code === '23505') {
            this.dropDatabase(build.name); // another builder won
            return true;
          }
          if (code === '55006') return false; // the setup's connections are still closing
          throw error;
        }
      },
      { timeoutMs: 15000, what: `the template ${name} to be renamed into place` },
    );
    return name;
  }

  // templateDatabase() for callers that cannot wait asynchronously (the black-box harness's
  // database of a service folder is made on first use, inside synchronous helpers): `setup` is
  // synchronous, and a rename that waits for the setup's connections to close retries after a
  // short pause (a blocking one: there is nothing else this process could do meanwhile).
  templateDatabaseSync(name, setup) {
    if (!NAME_RE.test(name)) throw new Error(`bad template name ${name}`);
    if (this.databaseExists(name)) return name;
    const build = this.freshDatabase();
    try {
      setup(build);
    } catch (error) {
      this.dropDatabase(build.name);
      throw error;
    }
    const deadline = Date.now() + 15000;
    for (;;) {
      try {
        this.sql('postgres', `ALTER DATABASE ${build.name} RENAME TO ${name}`);
        return name;
      } catch (error) {
        const code = sqlstateOf(error);
        if (code === '42P04' || code === '23505') {
          this.dropDatabase(build.name); // another builder won
          return name;
        }
        if (code !== '55006' || Date.now() > deadline) throw error;
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
      }
    }
  }

  // Stops and removes the cluster if this process started it; idempotent.
  async stop() {
    if (!this.owned || this.stopped) return;
    this.stopped = true;
    await run(PG_CLUSTER, ['stop', this.dir, '--remove']);
  }
}

const owned = new Set();

// The run's cluster (INVITED_TEST_PG_DIR) or a new one of this process's own.
export async function startPostgres() {
  const shared = process.env.INVITED_TEST_PG_DIR;
  if (shared) {
    if (!existsSync(join(shared, 'url'))) throw new Error(`INVITED_TEST_PG_DIR=${shared} holds no cluster`);
    return new PostgresCluster(shared, false);
  }
  const dir = mkdtempSync(join(tmpdir(), 'invited-test-pg-'));
  try {
    await run(PG_CLUSTER, ['start', dir]);
  } catch (error) {
    throw new Error(`the PostgreSQL test cluster did not start: ${error.stderr ?? error.message}`);
  }
  const cluster = new PostgresCluster(dir, true);
  owned.add(cluster);
  return cluster;
}

// startPostgres() for synchronous callers: the run's cluster, or one this process starts now
// (5-13 s) and removes when it exits. `own`: one of this process's own even when the run has a
// shared one (for tests that stop and start the server).
export function startPostgresSync({ own = false } = {}) {
  const shared = own ? undefined : process.env.INVITED_TEST_PG_DIR;
  if (shared) {
    if (!existsSync(join(shared, 'url'))) throw new Error(`INVITED_TEST_PG_DIR=${shared} holds no cluster`);
    return new PostgresCluster(shared, false);
  }
  const dir = mkdtempSync(join(tmpdir(), 'invited-test-pg-'));
  try {
    execFileSync(PG_CLUSTER, ['start', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (error) {
    throw new Error(`the PostgreSQL test cluster did not start: ${error.stderr ?? error.message}`);
  }
  const cluster = new PostgresCluster(dir, true);
  owned.add(cluster);
  return cluster;
}

// A cluster this process started and did not stop is stopped (and removed) when it exits.
process.on('exit', () => {
  for (const cluster of owned) {
    if (cluster.stopped) continue;
    try {
      execFileSync(PG_CLUSTER, ['stop', cluster.dir, '--remove'], { stdio: 'ignore' });
    } catch {
      // nothing more to do at exit
    }
  }
});
