// Idempotency-Key runs a request exactly once where process memory cannot help (SPEC §6): one key
// sent at once to two processes serving one database runs once; the database decides. PostgreSQL
// only: SQLite allows one server per database file (one_server_per_database.sqlite.test.mjs),
// while several instances on one PostgreSQL database are how that store is meant to be run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startService } from '../support/service.mjs';
import { testCluster } from '../support/database.mjs';
import { GENEROUS_LIMITS, assertError, count, createWebsites, q, uniqueEmail, waitFor } from '../support/assertions.mjs';

const keyed = (service, apiKey, job) =>
  service.api('POST', job.path, { key: apiKey, body: job.body, headers: { 'idempotency-key': job.key } });

const emailJob = (siteIds, tag) => ({
  key: randomUUID(),
  path: '/api/v1/invites/bulk',
  body: { invite_method: 'email', email: uniqueEmail(tag), website_ids: siteIds },
});

// What one email-mode bulk request for `email` leaves in the database: batches, invites, queued
// emails. Run twice, it would leave two batches (the second revokes the first one's invites)
// and two emails.
function rowsFor(service, email) {
  const [batches, invites, emails] = service.sql(`SELECT
    (SELECT COUNT(*) FROM invite_batches WHERE email = ${q(email)}),
    (SELECT COUNT(*) FROM invites i JOIN invite_batches b ON b.pk = i.batch_pk WHERE b.email = ${q(email)}),
    (SELECT COUNT(*) FROM outbox_emails o JOIN invite_batches b ON b.pk = o.batch_pk WHERE b.email = ${q(email)})`)[0].map(Number);
  return { batches, invites, emails };
}

// Another client holding `table` of `service`'s database IN EXCLUSIVE MODE (writes to it wait;
// reads and other tables go on) until release().
async function holdTable(service, table) {
  const cluster = testCluster();
  const database = readFileSync(join(service.dir, 'postgres_database'), 'utf8').trim();
  const child = spawn(cluster.psqlPath, cluster.psqlArgs(database, ['-tA']), { stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = once(child, 'exit');
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk) => { output += chunk; });
  child.stderr.setEncoding('utf8').on('data', (chunk) => { output += chunk; });
  child.stdin.write(`BEGIN;\nLOCK TABLE ${table} IN EXCLUSIVE MODE;\nSELECT 'locked';\n`);
  await waitFor(() => output.includes('locked') || child.exitCode !== null, { timeoutMs: 15000, what: `a lock on ${table}` });
  if (!output.includes('locked')) throw new Error(`could not lock ${table}: ${output}`);
  return {
    async release() {
      child.stdin.end('COMMIT;\n');
      const [code] = await exited;
      assert.equal(code, 0, output);
    },
    kill() {
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

test('postgres: one key sent at once to two processes on one database runs once: the database decides, not process memory', async () => {
  const first = await startService({ args: GENEROUS_LIMITS });
  const second = await startService({ dir: first.dir, args: GENEROUS_LIMITS });
  try {
    const apiKey = first.createOrg('Two Processes').api_key;
    const siteIds = (await createWebsites(first, apiKey, 3, 'twin')).map((s) => s.id);
    for (let round = 0; round < 8; round++) {
      const email = uniqueEmail('twin');
      const job = {
        key: randomUUID(),
        path: '/api/v1/invites/bulk',
        body: { invite_method: 'email', email, website_ids: siteIds },
      };
      const responses = await Promise.all(
        Array.from({ length: 6 }, () => [first, second].map((service) => keyed(service, apiKey, job))).flat(),
      );
      const context = responses.map((r) => `${r.status} ${r.headers.get('idempotent-replayed')} ${r.text}`).join('\n');
      const fresh = responses.filter((r) => r.status === 200 && r.headers.get('idempotent-replayed') === null);
      const replays = responses.filter((r) => r.headers.get('idempotent-replayed') === 'true');
      const inUse = responses.filter((r) => r.status === 409);
      assert.equal(fresh.length, 1, context);
      assert.equal(fresh.length + replays.length + inUse.length, responses.length, context);
      for (const replay of replays) assert.deepEqual(replay.body, fresh[0].body);
      for (const refusal of inUse) assertError(refusal, 409, 'idempotency_key_in_use');
      // One batch of three pending invites, one queued email: a second run would have revoked
      // the first batch's invites and queued another email.
      assert.equal(count(first, `SELECT COUNT(*) FROM invite_batches WHERE email = ${q(email)}`), 1, context);
      assert.equal(
        count(first, `SELECT COUNT(*) FROM invites i JOIN invite_batches b ON b.pk = i.batch_pk WHERE b.email = ${q(email)}`),
        3,
      );
      assert.equal(
        count(first, `SELECT COUNT(*) FROM outbox_emails o JOIN invite_batches b ON b.pk = o.batch_pk WHERE b.email = ${q(email)}`),
        1,
      );
    }
  } finally {
    assert.equal(await second.stop(), 0);
    assert.equal(await first.stop(), 0);
  }
});

test('postgres: while one instance runs a keyed request, the same key sent to another instance is answered 409 idempotency_key_in_use at once (the database knows it is running), and replayed once it finished', async () => {
  // A long store timeout: the first request waits on the lock below, and an instance that waited
  // for it too would answer only when the lock goes.
  const args = [...GENEROUS_LIMITS, '--db-timeout-ms', '30000'];
  const first = await startService({ args });
  const second = await startService({ dir: first.dir, args });
  let lock;
  try {
    const apiKey = first.createOrg('Key In Use').api_key;
    const siteIds = (await createWebsites(first, apiKey, 2, 'inuse')).map((s) => s.id);
    const job = emailJob(siteIds, 'inuse');
    lock = await holdTable(first, 'invite_batches');
    const running = keyed(first, apiKey, job);
    // The first instance's unit has marked the key and now waits to write its batch. Its first
    // runs give up such a wait after 50 ms and run again (the store's conflict_wait), releasing
    // the mark in between; a wait past 300 ms is a run that waits for good.
    await waitFor(
      () => count(first, "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'invited' AND wait_event_type = 'Lock' AND clock_timestamp() - query_start > interval '300 milliseconds'") === 1,
      { timeoutMs: 15000, what: "the first instance's unit to wait on the lock" },
    );
    const refused = await keyed(second, apiKey, job);
    assertError(refused, 409, 'idempotency_key_in_use');
    assert.equal(rowsFor(first, job.body.email).batches, 0);
    await lock.release();
    lock = undefined;
    const fresh = await running;
    assert.equal(fresh.status, 200, fresh.text);
    assert.equal(fresh.headers.get('idempotent-replayed'), null);
    const replay = await keyed(second, apiKey, job);
    assert.equal(replay.status, 200, replay.text);
    assert.equal(replay.headers.get('idempotent-replayed'), 'true');
    assert.deepEqual(replay.body, fresh.body);
    assert.deepEqual(rowsFor(first, job.body.email), { batches: 1, invites: 2, emails: 1 });
  } finally {
    lock?.kill();
    assert.equal(await second.stop(), 0);
    assert.equal(await first.stop(), 0);
  }
});

test('postgres: kill -9 of the instance running many keyed requests, then every key retried on another instance within 5 s: each request ran exactly once (answers replayed, or run once), never twice', async () => {
  const first = await startService({ args: GENEROUS_LIMITS });
  const second = await startService({ dir: first.dir, args: GENEROUS_LIMITS });
  try {
    const apiKey = first.createOrg('Crash Retry').api_key;
    const siteIds = (await createWebsites(first, apiKey, 3, 'crash')).map((s) => s.id);
    const jobs = Array.from({ length: 48 }, () => emailJob(siteIds, 'crash'));

    // All at once to the first instance; it is killed the moment an eighth of them have been
    // answered, with the rest in flight: some committed and unanswered, some mid-transaction,
    // some queued.
    const answeredByFirst = new Map();
    let killedAt;
    const killed = once(first.child, 'exit');
    const sent = jobs.map((job) =>
      keyed(first, apiKey, job).then(
        (response) => {
          if (killedAt !== undefined) return;
          answeredByFirst.set(job.key, response);
          if (answeredByFirst.size >= jobs.length / 8) {
            first.child.kill('SIGKILL');
            killedAt = Date.now();
          }
        },
        () => {}, // the connection died with the process
      ),
    );
    await Promise.all(sent);
    await killed;
    assert.ok(killedAt !== undefined, 'the first instance was killed');
    const unanswered = jobs.filter((job) => !answeredByFirst.has(job.key));
    assert.ok(unanswered.length > 0, 'the first instance was killed with requests in flight');
    for (const response of answeredByFirst.values()) assert.equal(response.status, 200, response.text);

    // Every key again, on the second instance, as a client that lost its answers would: retried
    // while the key is still in use (the killed instance's transactions are being rolled back).
    const retries = await Promise.all(
      jobs.map(async (job) => {
        const firstSentMs = Date.now() - killedAt;
        const inUse = [];
        const response = await waitFor(
          async () => {
            const answer = await keyed(second, apiKey, job);
            if (answer.status === 409) {
              assertError(answer, 409, 'idempotency_key_in_use');
              inUse.push(answer);
              return null;
            }
            return answer;
          },
          { timeoutMs: 30000, intervalMs: 20, what: `the retry of ${job.key}` },
        );
        return { job, response, firstSentMs, inUse: inUse.length };
      }),
    );
    const context = retries
      .map(({ job, response, inUse }) => `${job.key} first=${answeredByFirst.get(job.key)?.status ?? '-'} retry=${response.status} replayed=${response.headers.get('idempotent-replayed')} in_use=${inUse}`)
      .join('\n');
    for (const { job, response, firstSentMs } of retries) {
      assert.ok(firstSentMs < 5000, `retry sent ${firstSentMs} ms after the kill`);
      assert.equal(response.status, 200, `${response.text}\n${context}`);
      const before = answeredByFirst.get(job.key);
      if (before) {
        // Answered before the kill: the retry is that answer, replayed.
        assert.equal(response.headers.get('idempotent-replayed'), 'true', context);
        assert.deepEqual(response.body, before.body);
      }
      // Exactly one run, whoever ran it: one batch of three invites, one queued email.
      assert.deepEqual(rowsFor(second, job.body.email), { batches: 1, invites: 3, emails: 1 }, `${job.key}\n${context}`);
      // The answer names that batch's invites.
      const inviteIds = response.body.results.map((r) => r.invite_id).sort();
      const stored = second
        .sql(`SELECT CAST(i.id AS text) FROM invites i JOIN invite_batches b ON b.pk = i.batch_pk WHERE b.email = ${q(job.body.email)}`)
        .map(([id]) => id)
        .sort();
      assert.deepEqual(inviteIds, stored);
    }
    assert.equal(count(second, 'SELECT COUNT(*) FROM idempotent_responses'), jobs.length);
  } finally {
    assert.equal(await second.stop(), 0);
    await first.stop();
  }
});
