// Starts the real `invited` binary for black-box tests: a temporary folder with its own database
// (on the store INVITED_TEST_STORE selects: see tests/support/database.mjs) and mail folder, a free port chosen by the kernel (--listen 127.0.0.1:0, the port is
// read from the "listening" log line), and helpers to call it over HTTP. With `smtpUrl` it
// delivers email over SMTP, on a port chosen beforehand so that its --public-url (which
// --smtp-url requires) is its own address.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { responseValidatorFor } from './openapi.mjs';
import { danglingReferences, databaseUrlFor, query, tableCounts } from './database.mjs';

export const BIN = process.env.INVITED_BIN ?? new URL('../../build/invited', import.meta.url).pathname;

export function makeTempDir(prefix = 'invited-test-') {
  return mkdtempSync(join(tmpdir(), prefix));
}

// Runs a subcommand (admin, migrate) against `dir`'s database and returns its parsed JSON output.
export function runCommand(dir, args, extraEnv = {}) {
  const out = execFileSync(BIN, args, {
    env: { ...process.env, ...envFor(dir), ...extraEnv },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return JSON.parse(out.trim().split('\n').pop());
}

// The settings of a service on the folder `dir`: its database (SQLite: DIR/invited.db;
// PostgreSQL: a database of its own, kept for the folder) and its mail folder.
export function envFor(dir) {
  return {
    INVITED_DATABASE: databaseUrlFor(dir),
    INVITED_MAIL_DIR: join(dir, 'mail'),
    INVITED_LOG_LEVEL: 'info',
  };
}

// A TCP port on 127.0.0.1 that nothing listens on right now: for a service whose address must be
// known before it starts (its --public-url), a dead SMTP server for outage tests, and the port a
// sink takes over later. Picked at random below the kernel's ephemeral range (32768 and up on
// Linux), so no process that binds port 0 meanwhile can be given it.
export async function freePort() {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    const server = createServer();
    const bound = await new Promise((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (!bound) continue;
    server.close();
    await once(server, 'close');
    return port;
  }
  throw new Error('no free port found');
}

// An IPv4 address of this machine outside 127.0.0.0/8, for tests that need a server that is not
// on this machine's loopback: the first non-internal interface's, or (when there is none) one
// added to `lo` for the test and removed by `remove()`; that needs root, as in CI. (The kernel
// may lack the dummy interface type, so the address goes on lo: what counts is the address.)
export function nonLoopbackIPv4() {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const { family, internal, address } of addresses ?? []) {
      if ((family === 'IPv4' || family === 4) && !internal && !address.startsWith('127.')) return { address, remove() {} };
    }
  }
  const address = `10.255.${(process.pid >> 8) & 255}.${process.pid & 255}`;
  execFileSync('ip', ['addr', 'add', `${address}/32`, 'dev', 'lo'], { stdio: ['ignore', 'ignore', 'pipe'] });
  return {
    address,
    remove: () => execFileSync('ip', ['addr', 'del', `${address}/32`, 'dev', 'lo'], { stdio: ['ignore', 'ignore', 'pipe'] }),
  };
}

// The URL that reaches a service whose "listening" log line names `address` (the bound IP
// address) and `port`: a wildcard address is reached over the loopback of its family.
export function urlOfListening({ address, port }) {
  if (address === '0.0.0.0') return `http://127.0.0.1:${port}`;
  if (address === '::') return `http://[::1]:${port}`;
  return address.includes(':') ? `http://[${address}]:${port}` : `http://${address}:${port}`;
}

export class Service {
  constructor(dir, child, listening, logs) {
    this.dir = dir;
    this.child = child;
    this.port = listening.port;
    this.url = urlOfListening(listening);
    this.publicUrl = listening.public_url; // the base of the accept links, as the service logs it
    this.logs = logs;
    this.exited = once(child, 'exit');
  }

  // fetch() relative to the service. A request that meets a connection the service had already
  // closed is sent once more, on a new connection, as HTTP clients do for a reused connection:
  // the service closes a keep-alive connection after 60 s idle, and undici expires its idle
  // sockets after 4 s only while this process's event loop runs. A test that blocks the loop for
  // longer (a synchronous sqlite3 or psql call, a long schema compilation) can find the socket
  // closed by the service just as it sends on it ("other side closed", nothing of an answer
  // read). A service that dies instead fails the retry and its exit status (stop()).
  async fetch(path, init = {}) {
    try {
      return await fetch(this.url + path, init);
    } catch (error) {
      if (error?.cause?.code !== 'UND_ERR_SOCKET' || !/other side closed/.test(error.cause.message)) throw error;
      return fetch(this.url + path, init);
    }
  }

  // JSON API call: returns {status, headers, body} with body parsed when it is JSON.
  async api(method, path, { key, body, headers = {}, raw } = {}) {
    const init = { method, headers: { ...headers } };
    if (key !== undefined) init.headers['x-api-key'] = key;
    if (raw !== undefined) {
      init.body = raw;
    } else if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers['content-type'] ??= 'application/json';
    }
    const response = await this.fetch(path, init);
    const text = await response.text();
    let parsed = text;
    if ((response.headers.get('content-type') ?? '').includes('application/json')) {
      parsed = JSON.parse(text);
    }
    const result = { status: response.status, headers: response.headers, body: parsed, text };
    // Contract check of every response (tests/support/openapi.mjs); throws on drift.
    if (this.onResponse) this.onResponse(method, path, result);
    return result;
  }

  createOrg(name = 'Test Org', ownerEmail) {
    const args = ['admin', 'create-org', '--name', name];
    if (ownerEmail) args.push('--owner-email', ownerEmail);
    return runCommand(this.dir, args, this.extraEnv);
  }

  createKey(orgId, websiteIds = [], name = 'test key') {
    const args = ['admin', 'create-key', '--org', orgId, '--name', name];
    for (const id of websiteIds) args.push('--website', id);
    return runCommand(this.dir, args, this.extraEnv);
  }

  async createWebsite(key, url = 'https://site.example', name) {
    const body = name === undefined ? { url } : { url, name };
    const response = await this.api('POST', '/api/v1/websites', { key, body });
    if (response.status !== 201) throw new Error(`create website: ${response.status} ${response.text}`);
    return response.body.website;
  }

  // Moves the service's clock `ms` forward (test builds only: POST /_test/clock,
  // src/api/test_clock.cpp) and returns the service's new time in Unix ms. The move is in effect
  // for every request sent after this resolves; the database's own clock does not move.
  async advanceClock(ms) {
    const response = await this.fetch('/_test/clock', {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ advance_ms: ms }),
    });
    if (response.status !== 200) throw new Error(`advance clock: ${response.status} ${await response.text()}`);
    return (await response.json()).now_ms;
  }

  // The .eml files written by the folder transport, as strings, oldest first.
  mails() {
    const folder = join(this.dir, 'mail');
    let names = [];
    try {
      names = readdirSync(folder).filter((n) => n.endsWith('.eml')).sort();
    } catch {
      return [];
    }
    return names.map((n) => readFileSync(join(folder, n), 'utf8'));
  }

  // Read-only SQL against the service's database (tests/support/database.mjs), to prove what was
  // (not) written. Returns rows as arrays of strings.
  sql(sql) {
    return query(this, sql);
  }

  // Row counts of every table: a fingerprint of everything the service has written.
  tableCounts() {
    return tableCounts(this);
  }

  // SIGTERM and wait; returns the exit code. Then checks the referential integrity of everything
  // the service wrote (foreign keys are declared but not enforced while serving).
  async stop(signal = 'SIGTERM') {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill(signal);
      await this.exited;
    }
    const orphans = danglingReferences(this);
    if (orphans.length > 0) {
      throw new Error(`rows with dangling references in ${this.dir}: ${JSON.stringify(orphans)}`);
    }
    return this.child.exitCode;
  }
}

// Starts `invited serve` in a fresh temporary folder (or `dir`, to restart on the same data).
// `listen`: host:port to serve on (default a free port chosen by the kernel).
// `smtpUrl`: deliver email over SMTP to this URL. The service then serves on a port chosen here
// (127.0.0.1 and a free port, unless `listen` names both) with --public-url set to that address,
// so the accept links in its emails reach it (--smtp-url refuses to start without --public-url).
// `validateResponses`: check every service.api() response against GET /openapi.json (default on).
export async function startService({ dir = makeTempDir(), args = [], env = {}, listen = '127.0.0.1:0', smtpUrl, validateResponses = true } = {}) {
  if (smtpUrl === undefined) return startServiceProcess({ dir, args, env, listen, validateResponses });
  const [host, port] = [listen.slice(0, listen.lastIndexOf(':')), listen.slice(listen.lastIndexOf(':') + 1)];
  if (host !== '127.0.0.1') throw new Error(`smtpUrl needs a service on 127.0.0.1, not ${listen}`);
  // A port chosen before the start can be taken meanwhile by another test file's process: try
  // another one then.
  for (let attempt = 1; ; attempt++) {
    const chosen = port === '0' ? await freePort() : Number(port);
    const smtpArgs = ['--smtp-url', smtpUrl, '--public-url', `http://127.0.0.1:${chosen}`, ...args];
    try {
      return await startServiceProcess({ dir, args: smtpArgs, env, listen: `127.0.0.1:${chosen}`, validateResponses });
    } catch (error) {
      if (port !== '0' || attempt === 3 || !/address already in use/i.test(error.message)) throw error;
    }
  }
}

// Services whose process has not exited. A test file whose tests are over while one still runs
// (a test failed before stopping it, or forgot to) would keep its process alive, and the whole
// suite with it: scripts/test runs node --test with --test-force-exit, and here, at exit, such
// services are killed and the file fails, naming them.
const running = new Set();
process.on('exit', () => {
  if (running.size === 0) return;
  for (const child of running) child.kill('SIGKILL');
  process.stderr.write(`invited still running when the test file ended (now killed): ${[...running].map((c) => c.spawnargs.join(' ')).join('; ')}\n`);
  process.exitCode = 1;
});

async function startServiceProcess({ dir, args, env, listen, validateResponses }) {
  const child = spawn(BIN, ['serve', '--listen', listen, ...args], {
    env: { ...process.env, ...envFor(dir), ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  running.add(child);
  child.on('exit', () => running.delete(child));
  const logs = [];
  let buffered = '';
  const listening = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`invited did not start:\n${logs.join('\n')}`)), 15000);
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk) => {
      buffered += chunk;
      let newline;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        logs.push(line);
        if (process.env.INVITED_TEST_LOGS) process.stderr.write(line + '\n');
        try {
          const entry = JSON.parse(line);
          if (entry.msg === 'listening') {
            clearTimeout(timer);
            resolve(entry);
          }
        } catch {
          // sanitizer reports and other non-JSON lines stay in `logs`
        }
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`invited exited with ${code} before listening:\n${logs.join('\n')}`));
    });
  });
  const service = new Service(dir, child, listening, logs);
  service.extraEnv = env;
  if (validateResponses) {
    try {
      service.onResponse = await responseValidatorFor(service, { args, env });
    } catch (error) {
      await service.stop();
      throw error;
    }
  }
  return service;
}

// A started service with one organization, its global key and `websiteCount` websites.
export async function startWithOrg({ websiteCount = 3, ...options } = {}) {
  const service = await startService(options);
  const org = service.createOrg('Acme');
  const websites = [];
  for (let i = 0; i < websiteCount; i++) {
    websites.push(await service.createWebsite(org.api_key, `https://site${i}.acme.example`, `Site ${i}`));
  }
  return { service, org, key: org.api_key, websites };
}
