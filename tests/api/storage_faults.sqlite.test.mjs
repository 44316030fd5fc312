// Transient storage failures (SPEC §3): the database locked by another process, a full disk, a
// read-only file. Writes answer 503 `unavailable` with Retry-After and keep nothing of the failed
// request; /readyz follows the store both ways without a restart; reads go on.
//
// The full-disk and read-only cases mount a small tmpfs and set the immutable attribute, which
// needs root. CI runs as root; elsewhere these tests fail and say so instead of being skipped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { closeSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { makeTempDir, startService } from '../support/service.mjs';
import { GENEROUS_LIMITS, assertError, bulk, createWebsites, count, q, uniqueEmail, waitFor } from '../support/assertions.mjs';

const PYTHON = process.env.INVITED_SINK_PYTHON ?? '/usr/bin/python3';

// Another process that holds the database's write lock (BEGIN EXCLUSIVE) until release().
async function holdWriteLock(dbPath) {
  const child = spawn(
    PYTHON,
    [
      '-c',
      `import sqlite3, sys
con = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
con.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.readline()
con.execute("COMMIT")
print("released", flush=True)`,
      dbPath,
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const lines = createInterface({ input: child.stdout });
  const next = () => new Promise((resolve, reject) => {
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`lock holder exited with ${code}`)));
  });
  assert.equal(await next(), 'locked');
  return {
    async release() {
      const released = next();
      child.stdin.write('\n');
      assert.equal(await released, 'released');
      return Date.now();
    },
    kill() {
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

function requireRoot(what) {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    throw new Error(`${what} needs root (it mounts a tmpfs); CI runs the suite as root, run it as root`);
  }
}

// A fresh folder with a tmpfs of `size` mounted on it; returns the folder and its unmount.
function mountTmpfs(size) {
  const dir = makeTempDir('invited-faults-');
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir]);
  return {
    dir,
    unmount() {
      execFileSync('umount', [dir]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// Fills the file system of `path`'s folder: writes `path` until the disk refuses (ENOSPC).
function fillDisk(path) {
  const fd = openSync(path, 'w');
  try {
    for (const size of [1 << 20, 1 << 12]) {
      const chunk = Buffer.alloc(size, 0x5a);
      for (;;) {
        try {
          writeSync(fd, chunk);
        } catch (error) {
          if (error.code !== 'ENOSPC') throw error;
          break;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
}

function assertUnavailable(response, message) {
  const body = assertError(response, 503, 'unavailable');
  assert.equal(response.headers.get('retry-after'), '1', `Retry-After on ${response.status} ${response.text}`);
  if (message) assert.match(body.error, message, response.text);
  return body;
}

async function readyStatus(service) {
  const response = await service.api('GET', '/readyz');
  if (response.status === 503) assertUnavailable(response);
  return response.status;
}

// Rows a request for `email` left behind: its user and that user's memberships.
function rowsOf(service, email) {
  const users = count(service, `SELECT COUNT(*) FROM users WHERE email_key = ${q(email.toLowerCase())}`);
  const members = count(
    service,
    `SELECT COUNT(*) FROM website_members m JOIN users u ON u.pk = m.user_pk WHERE u.email_key = ${q(email.toLowerCase())}`,
  );
  return { users, members };
}

const direct = (websites, email) => ({ invite_method: 'direct', email, website_ids: websites.map((w) => w.id) });

test('sqlite: another process holding the write lock: writes answer 503 with Retry-After after about 5 s, /readyz follows both ways, nothing is half-written', async () => {
  const service = await startService({ args: GENEROUS_LIMITS });
  let lock;
  try {
    const org = service.createOrg('Locked Org');
    const websites = await createWebsites(service, org.api_key, 3, 'locked');
    assert.equal((await bulk(service, org.api_key, direct(websites, uniqueEmail('before')))).status, 200);
    assert.equal(await readyStatus(service), 200);

    lock = await holdWriteLock(join(service.dir, 'invited.db'));
    const lockedAt = Date.now();
    await waitFor(async () => (await readyStatus(service)) === 503, { timeoutMs: 2000, intervalMs: 50, what: '/readyz to answer 503 while the database is locked' });
    const notReadyAfter = Date.now() - lockedAt;

    // Three requests at once: they share the writer's group, and all of it gives up together.
    const emails = [uniqueEmail('locked-a'), uniqueEmail('locked-b'), uniqueEmail('locked-c')];
    const started = Date.now();
    const responses = await Promise.all(emails.map((email) => bulk(service, org.api_key, direct(websites, email))));
    const waited = Date.now() - started;
    for (const response of responses) assertUnavailable(response, /locked/);
    assert.ok(waited >= 4500 && waited <= 6500, `writes gave up after ${waited} ms; the lock timeout is 5 s`);

    // Reads do not need the write lock.
    assert.equal((await service.api('GET', '/api/v1/websites', { key: org.api_key })).status, 200);
    assert.equal(await readyStatus(service), 503);

    const releasedAt = await lock.release();
    await waitFor(async () => (await readyStatus(service)) === 200, { timeoutMs: 2000, intervalMs: 50, what: '/readyz to answer 200 after the lock was released' });
    const readyAfter = Date.now() - releasedAt;

    for (const email of emails) assert.deepEqual(rowsOf(service, email), { users: 0, members: 0 }, `${email} left rows behind`);
    // The same requests now succeed, once each.
    for (const email of emails) {
      const response = await bulk(service, org.api_key, direct(websites, email));
      assert.equal(response.status, 200, response.text);
      assert.ok(response.body.results.every((r) => r.success), response.text);
      assert.deepEqual(rowsOf(service, email), { users: 1, members: 3 });
    }
    assert.ok(notReadyAfter <= 2000 && readyAfter <= 2000, `not ready after ${notReadyAfter} ms, ready again after ${readyAfter} ms`);
  } finally {
    lock?.kill();
    assert.equal(await service.stop(), 0);
  }
});

test('sqlite: a full disk: writes answer 503 with Retry-After and keep nothing, /readyz turns 503, and both recover once space is freed, without a restart', async () => {
  requireRoot('the full-disk test');
  const disk = mountTmpfs('24m');
  let service;
  try {
    service = await startService({ dir: disk.dir, args: GENEROUS_LIMITS });
    const org = service.createOrg('Full Disk Org');
    const websites = await createWebsites(service, org.api_key, 3, 'full');
    const written = [];
    for (let i = 0; i < 5; i++) {
      const email = uniqueEmail('room');
      assert.equal((await bulk(service, org.api_key, direct(websites, email))).status, 200);
      written.push(email);
    }
    assert.equal(await readyStatus(service), 200);

    const filler = join(disk.dir, 'filler');
    fillDisk(filler);

    // Writes go on while they fit in space the database already holds; then they fail.
    let refused;
    for (let i = 0; i < 500 && !refused; i++) {
      const email = uniqueEmail('full');
      const response = await bulk(service, org.api_key, direct(websites, email));
      if (response.status === 200) {
        written.push(email);
      } else {
        assertUnavailable(response, /disk is full/);
        refused = email;
      }
    }
    assert.ok(refused, 'no write failed on a full disk');
    assert.equal(await readyStatus(service), 503);
    assert.equal((await service.api('GET', '/api/v1/websites', { key: org.api_key })).status, 200);

    assert.deepEqual(rowsOf(service, refused), { users: 0, members: 0 }, 'the refused request left rows behind');
    for (const email of written) assert.deepEqual(rowsOf(service, email), { users: 1, members: 3 }, email);

    rmSync(filler);
    const freedAt = Date.now();
    await waitFor(async () => (await readyStatus(service)) === 200, { timeoutMs: 2000, intervalMs: 50, what: '/readyz to answer 200 once space was freed' });
    assert.ok(Date.now() - freedAt <= 2000);
    const retried = await bulk(service, org.api_key, direct(websites, refused));
    assert.equal(retried.status, 200, retried.text);
    assert.deepEqual(rowsOf(service, refused), { users: 1, members: 3 });
  } finally {
    if (service) assert.equal(await service.stop(), 0);
    disk.unmount();
  }
});

test('sqlite: a read-only database file: writes answer 503 with Retry-After, /readyz 503, reads still answer; once writable, both recover without a restart', async () => {
  requireRoot('the read-only test');
  const disk = mountTmpfs('16m');
  const dbPath = join(disk.dir, 'invited.db');
  let service;
  let immutable = false;
  try {
    service = await startService({ dir: disk.dir, args: GENEROUS_LIMITS });
    const org = service.createOrg('Read-only Org');
    const websites = await createWebsites(service, org.api_key, 2, 'readonly');
    assert.equal(await service.stop(), 0);

    // Immutable: even root cannot open it for writing (chmod would not stop root).
    execFileSync('chattr', ['+i', dbPath]);
    immutable = true;
    service = await startService({ dir: disk.dir, args: GENEROUS_LIMITS });
    const email = uniqueEmail('readonly');
    const response = await bulk(service, org.api_key, direct(websites, email));
    assertUnavailable(response, /read-only/);
    assert.equal((await service.api('GET', '/api/v1/websites', { key: org.api_key })).status, 200);
    await waitFor(async () => (await readyStatus(service)) === 503, { timeoutMs: 2000, intervalMs: 50, what: '/readyz to answer 503 on a read-only file' });
    assert.deepEqual(rowsOf(service, email), { users: 0, members: 0 });

    execFileSync('chattr', ['-i', dbPath]);
    immutable = false;
    const writableAt = Date.now();
    await waitFor(async () => (await readyStatus(service)) === 200, { timeoutMs: 2500, intervalMs: 50, what: '/readyz to answer 200 once the file is writable' });
    const readyAfter = Date.now() - writableAt;
    const retried = await bulk(service, org.api_key, direct(websites, email));
    assert.equal(retried.status, 200, retried.text);
    assert.deepEqual(rowsOf(service, email), { users: 1, members: 2 });
    assert.ok(readyAfter <= 2000, `ready again ${readyAfter} ms after the file became writable`);
  } finally {
    if (immutable) execFileSync('chattr', ['-i', dbPath]);
    if (service) assert.equal(await service.stop(), 0);
    disk.unmount();
  }
});
