// Idempotency-Key runs a request exactly once where process memory cannot help (SPEC §6): the
// service is killed with SIGKILL while keyed requests are in flight and every request is retried
// with its key after a restart; and one key is sent at once to two processes serving one
// database file. Counted in the database (batches, invites, users, memberships, retired tokens,
// outbox rows, kept responses) and in the emails written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startService } from '../support/service.mjs';
import {
  GENEROUS_LIMITS, assertError, count, createWebsites, drainedMails, inviteByEmail, mailsFor, q, uniqueEmail,
} from '../support/assertions.mjs';

const KINDS = ['bulk-email', 'bulk-direct', 'single', 'resend'];

const keyed = (service, apiKey, job) =>
  service.api('POST', job.path, { key: apiKey, body: job.body, headers: { 'idempotency-key': job.key } });

// How many times each kind of request has taken effect, read from the rows it writes. A run of
// a bulk or single email invite makes a batch; a direct bulk invite makes the user; a resend
// retires the batch's token.
function effects(service, job) {
  switch (job.kind) {
    case 'bulk-email':
    case 'single':
      return count(service, `SELECT COUNT(*) FROM invite_batches WHERE email = ${q(job.email)}`);
    case 'bulk-direct':
      return count(service, `SELECT COUNT(*) FROM users WHERE email_key = ${q(job.email.toLowerCase())}`);
    case 'resend':
      return count(
        service,
        `SELECT COUNT(*) FROM retired_tokens r JOIN invite_batches b ON b.pk = r.batch_pk WHERE b.email = ${q(job.email)}`,
      );
    default:
      throw new Error(job.kind);
  }
}

const kept = (service, job) => count(service, `SELECT COUNT(*) FROM idempotent_responses WHERE key = ${q(job.key)}`);

// The answer a run of `job` gives when it runs for the first time.
function assertFirstRunAnswer(job, response) {
  const context = `${job.kind} ${job.key}: ${response.status} ${response.text}`;
  assert.equal(response.status, 200, context);
  assert.equal(response.body.success, true, context);
  if (job.kind.startsWith('bulk')) {
    assert.equal(response.body.results.length, 3, context);
    // A second run of a direct invite would say "already a member" here.
    assert.ok(response.body.results.every((r) => r.success), context);
  }
  if (job.kind === 'resend') assert.equal(response.body.invite.status, 'pending', context);
}

test('kill -9 with keyed requests in flight: a retry replays what committed and runs what did not, nothing runs twice', async () => {
  let service = await startService({ args: GENEROUS_LIMITS });
  const { dir } = service;
  try {
    const apiKey = service.createOrg('Crash Co').api_key;
    const siteIds = (await createWebsites(service, apiKey, 3, 'crash')).map((s) => s.id);
    const perKind = 12;
    // Batches to resend, their first email delivered before the storm.
    const resendees = [];
    for (let i = 0; i < perKind; i++) {
      const email = uniqueEmail('resendee');
      const [inviteId] = await inviteByEmail(service, apiKey, email, siteIds);
      resendees.push({ email, inviteId });
    }
    await drainedMails(service);

    const jobs = [];
    for (let i = 0; i < perKind; i++) {
      for (const kind of KINDS) {
        const job = { kind, key: randomUUID() };
        if (kind === 'resend') {
          job.email = resendees[i].email;
          job.path = `/api/v1/invites/${resendees[i].inviteId}/resend`;
        } else if (kind === 'single') {
          job.email = uniqueEmail('single');
          job.path = '/api/v1/invites';
          job.body = { type: 'website', website_id: siteIds[i % 3], email: job.email, invite_method: 'email' };
        } else {
          job.email = uniqueEmail(kind);
          job.path = '/api/v1/invites/bulk';
          job.body = { invite_method: kind === 'bulk-email' ? 'email' : 'direct', email: job.email, website_ids: siteIds };
        }
        jobs.push(job);
      }
    }

    // A sliding window of 16 requests in flight; SIGKILL as soon as 16 answers are in, so at
    // the kill some requests are answered, some are inside the service and some were never sent.
    const window = 16;
    const killAfter = 16;
    const answers = new Map();
    let inFlightAtKill = -1;
    await new Promise((resolve) => {
      let next = 0;
      let running = 0;
      let killed = false;
      const launch = () => {
        while (!killed && running < window && next < jobs.length) {
          const job = jobs[next++];
          running += 1;
          keyed(service, apiKey, job)
            .then((response) => answers.set(job, response), () => {}) // killed mid-request: no answer
            .finally(() => {
              running -= 1;
              if (!killed && answers.size >= killAfter) {
                killed = true;
                inFlightAtKill = running;
                service.child.kill('SIGKILL');
              }
              if (running === 0 && (killed || next >= jobs.length)) resolve();
              else launch();
            });
        }
      };
      launch();
    });
    await service.exited;
    assert.equal(service.child.signalCode, 'SIGKILL');
    assert.ok(inFlightAtKill > 0, 'requests were in flight when the service was killed');
    assert.ok(answers.size < jobs.length, 'some requests were never answered');
    for (const [job, response] of answers) {
      assertFirstRunAnswer(job, response);
      assert.equal(response.headers.get('idempotent-replayed'), null);
    }

    // Restart on the same database (its WAL is recovered) and see what committed before the kill.
    service = await startService({ dir, args: GENEROUS_LIMITS });
    const committed = new Map();
    for (const job of jobs) {
      const ran = effects(service, job);
      assert.ok(ran <= 1, `${job.kind} ${job.key} ran ${ran} times before the kill`);
      // The kept response committed with the request's writes, or neither did.
      assert.equal(kept(service, job), ran, `${job.kind} ${job.key}: effects ${ran}, kept responses ${kept(service, job)}`);
      if (answers.has(job)) assert.equal(ran, 1, `${job.kind} ${job.key} was answered but is not durable`);
      committed.set(job, ran === 1);
    }

    // Every request again, with its key.
    const retries = await Promise.all(jobs.map((job) => keyed(service, apiKey, job)));
    jobs.forEach((job, i) => {
      const retry = retries[i];
      assertFirstRunAnswer(job, retry);
      if (committed.get(job)) {
        assert.equal(retry.headers.get('idempotent-replayed'), 'true', `${job.kind} ${job.key} committed, so it replays`);
        if (answers.has(job)) assert.deepEqual(retry.body, answers.get(job).body);
      } else {
        assert.equal(retry.headers.get('idempotent-replayed'), null, `${job.kind} ${job.key} never committed, so it runs now`);
      }
    });

    // Each request took effect exactly once: rows and emails.
    const mails = await drainedMails(service);
    assert.ok(mails.length > 0);
    for (const job of jobs) {
      const context = `${job.kind} ${job.key}`;
      assert.equal(effects(service, job), 1, context);
      assert.equal(kept(service, job), 1, context);
      const batchOf = `(SELECT pk FROM invite_batches WHERE email = ${q(job.email)})`;
      const invitesOf = (where) => count(service, `SELECT COUNT(*) FROM invites WHERE batch_pk IN ${batchOf} ${where}`);
      const outboxOf = count(service, `SELECT COUNT(*) FROM outbox_emails WHERE batch_pk IN ${batchOf}`);
      switch (job.kind) {
        case 'bulk-email':
          assert.equal(invitesOf(''), 3, context);
          assert.equal(invitesOf('AND status = 0'), 3, `${context}: no invite was revoked by a second run`);
          assert.equal(outboxOf, 1, context);
          assert.equal(mailsFor(service, job.email).length, 1, context);
          break;
        case 'single':
          assert.equal(invitesOf(''), 1, context);
          assert.equal(invitesOf('AND status = 0'), 1, context);
          assert.equal(outboxOf, 1, context);
          assert.equal(mailsFor(service, job.email).length, 1, context);
          break;
        case 'bulk-direct': {
          const memberships = count(
            service,
            `SELECT COUNT(*) FROM website_members m JOIN users u ON u.pk = m.user_pk WHERE u.email_key = ${q(job.email.toLowerCase())}`,
          );
          assert.equal(memberships, 3, context);
          assert.equal(mailsFor(service, job.email).length, 0, context);
          break;
        }
        case 'resend':
          assert.equal(invitesOf('AND status = 0'), 3, context);
          assert.equal(outboxOf, 2, `${context}: the first email and one resend`);
          assert.equal(mailsFor(service, job.email).length, 2, context);
          break;
        default:
          throw new Error(job.kind);
      }
    }
    assert.equal(count(service, 'SELECT COUNT(*) FROM idempotent_responses'), jobs.length);
    assert.equal(await service.stop(), 0);
  } finally {
    if (service.child.exitCode === null && service.child.signalCode === null) await service.stop();
  }
});

test('one key sent at once to two processes on one database runs once: the database decides, not process memory', async () => {
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
