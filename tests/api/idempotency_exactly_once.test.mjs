// Idempotency-Key runs a request exactly once where process memory cannot help (SPEC §6): the
// service is killed with SIGKILL while keyed requests are in flight and every request is retried
// with its key after a restart. (One key sent at once to two processes serving one database:
// idempotency_two_processes.postgres.test.mjs; SQLite allows one server per database file.)
// Counted in the database (batches, invites, users, memberships,
// outbox rows, kept responses) and in the emails written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startService } from '../support/service.mjs';
import {
  MAIL_TIMEOUT_MS, GENEROUS_LIMITS, count, createWebsites, drainedMails, inviteByEmail, q, uniqueEmail, waitFor,
} from '../support/assertions.mjs';

const KINDS = ['bulk-email', 'bulk-direct', 'single', 'resend'];

const keyed = (service, apiKey, job) =>
  service.api('POST', job.path, { key: apiKey, body: job.body, headers: { 'idempotency-key': job.key } });

// What the database holds for each job, in one query: `effects` counts how many times the
// job has taken effect, read from the rows a run writes (a bulk or single email invite makes a
// batch, a direct bulk invite makes the user, a resend queues one more email for the batch, whose
// first email is queued before the streams); `kept` counts
// its kept responses; then the invites, pending invites and outbox rows of the batches of its
// email, and the website memberships of its user.
function observe(service, jobs) {
  const values = jobs.map((job) => `(${q(job.kind)}, ${q(job.key)}, ${q(job.email)})`).join(', ');
  const batches = '(SELECT pk FROM invite_batches WHERE email = j.email)';
  const rows = service.sql(`WITH j(kind, k, email) AS (VALUES ${values}) SELECT j.k,
    CASE j.kind
      WHEN 'bulk-direct' THEN (SELECT COUNT(*) FROM users WHERE email_key = lower(j.email))
      WHEN 'resend' THEN (SELECT COUNT(*) - 1 FROM outbox_emails WHERE batch_pk IN ${batches})
      ELSE (SELECT COUNT(*) FROM invite_batches WHERE email = j.email) END,
    (SELECT COUNT(*) FROM idempotent_responses WHERE key = j.k),
    (SELECT COUNT(*) FROM invites WHERE batch_pk IN ${batches}),
    (SELECT COUNT(*) FROM invites WHERE status = 0 AND batch_pk IN ${batches}),
    (SELECT COUNT(*) FROM outbox_emails WHERE batch_pk IN ${batches}),
    (SELECT COUNT(*) FROM website_members m JOIN users u ON u.pk = m.user_pk WHERE u.email_key = lower(j.email))
    FROM j`);
  const byKey = new Map(
    rows.map(([k, ...counts]) => {
      const [effects, kept, invites, pending, outbox, memberships] = counts.map(Number);
      return [k, { effects, kept, invites, pending, outbox, memberships }];
    }),
  );
  return new Map(jobs.map((job) => [job, byKey.get(job.key)]));
}

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

// The i-th request of a round, every one with its own key; kinds take turns. A resend needs a
// batch of its own from `resendees`; when they run out, an email bulk invite takes its turn.
function makeJob(i, siteIds, resendees) {
  let kind = KINDS[i % KINDS.length];
  if (kind === 'resend' && resendees.length === 0) kind = 'bulk-email';
  const job = { kind, key: randomUUID() };
  if (kind === 'resend') {
    const { email, inviteId } = resendees.shift();
    job.email = email;
    job.path = `/api/v1/invites/${inviteId}/resend`;
  } else if (kind === 'single') {
    job.email = uniqueEmail('single');
    job.path = '/api/v1/invites';
    job.body = { type: 'website', website_id: siteIds[i % 3], email: job.email, invite_method: 'email' };
  } else {
    job.email = uniqueEmail(kind);
    job.path = '/api/v1/invites/bulk';
    job.body = { invite_method: kind === 'bulk-email' ? 'email' : 'direct', email: job.email, website_ids: siteIds };
  }
  return job;
}

// A steady stream of keyed requests, one after each GET /healthz round trip, so they reach the
// service at its own pace and are at every stage (queued, running, committed, answered) when it
// dies; the service is SIGKILLed as soon as `killAfter` answers are in. Returns every request
// sent, the answers that arrived, and how many requests were unanswered at the kill.
async function streamAndKill(service, apiKey, nextJob, killAfter) {
  const jobs = [];
  const answers = new Map();
  const inFlight = new Set();
  let killed = false;
  let inFlightAtKill = -1;
  while (!killed) {
    const job = nextJob(jobs.length);
    jobs.push(job);
    const request = keyed(service, apiKey, job).then(
      (response) => {
        answers.set(job, response);
        inFlight.delete(request);
        if (!killed && answers.size >= killAfter) {
          killed = true;
          inFlightAtKill = inFlight.size;
          service.child.kill('SIGKILL');
        }
      },
      () => inFlight.delete(request), // killed mid-request: no answer
    );
    inFlight.add(request);
    await service.fetch('/healthz').catch(() => {});
  }
  await Promise.all(inFlight);
  await service.exited;
  return { jobs, answers, inFlightAtKill };
}

test('kill -9 with keyed requests in flight: a retry replays what committed and runs what did not, nothing runs twice', async () => {
  let service = await startService({ args: GENEROUS_LIMITS });
  const { dir } = service;
  try {
    const apiKey = service.createOrg('Crash Co').api_key;
    const siteIds = (await createWebsites(service, apiKey, 3, 'crash')).map((s) => s.id);
    // Three rounds, each killed after 12 answers. The moment between a request's commit and its
    // answer is short: one kill may miss it, three rarely all do.
    const rounds = 3;
    const killAfter = 12;
    // Batches to resend, their first email delivered before the streams.
    const resendees = await Promise.all(
      Array.from({ length: rounds * 8 }, async () => {
        const email = uniqueEmail('resendee');
        const [inviteId] = await inviteByEmail(service, apiKey, email, siteIds);
        return { email, inviteId };
      }),
    );
    await drainedMails(service);

    const allJobs = [];
    let unansweredAtKills = 0;
    for (let round = 0; round < rounds; round++) {
      const pool = resendees.slice(round * 8, (round + 1) * 8);
      const { jobs, answers, inFlightAtKill } = await streamAndKill(
        service, apiKey, (i) => makeJob(i, siteIds, pool), killAfter,
      );
      allJobs.push(...jobs);
      assert.equal(service.child.signalCode, 'SIGKILL');
      unansweredAtKills += inFlightAtKill;
      for (const [job, response] of answers) {
        assertFirstRunAnswer(job, response);
        assert.equal(response.headers.get('idempotent-replayed'), null);
      }

      // Restart on the same database (its WAL is recovered); what committed before the kill?
      service = await startService({ dir, args: GENEROUS_LIMITS });
      const committed = new Map();
      for (const [job, seen] of observe(service, jobs)) {
        const context = `round ${round}, ${job.kind} ${job.key}`;
        assert.ok(seen.effects <= 1, `${context} ran ${seen.effects} times before the kill`);
        // The kept response committed with the request's writes, or neither did.
        assert.equal(seen.kept, seen.effects, `${context}: effects ${seen.effects}, kept responses ${seen.kept}`);
        if (answers.has(job)) assert.equal(seen.effects, 1, `${context} was answered but is not durable`);
        committed.set(job, seen.effects === 1);
      }

      // Every request again, with its key.
      const retries = await Promise.all(jobs.map((job) => keyed(service, apiKey, job)));
      jobs.forEach((job, i) => {
        const retry = retries[i];
        const context = `round ${round}, ${job.kind} ${job.key}`;
        assertFirstRunAnswer(job, retry);
        if (committed.get(job)) {
          assert.equal(retry.headers.get('idempotent-replayed'), 'true', `${context} committed, so it replays`);
          if (answers.has(job)) assert.deepEqual(retry.body, answers.get(job).body, context);
        } else {
          assert.equal(retry.headers.get('idempotent-replayed'), null, `${context} never committed, so it runs now`);
        }
      });
    }
    assert.ok(unansweredAtKills > 0, 'requests were in flight when the service was killed');

    // Each request took effect exactly once: rows and emails (one .eml file per Message-ID).
    // (Dozens of emails to write on a shared, sanitizer-slowed machine: a generous deadline.)
    await waitFor(() => count(service, 'SELECT COUNT(*) FROM outbox_emails WHERE status = 0') === 0, {
      timeoutMs: MAIL_TIMEOUT_MS,
      what: 'the outbox to drain',
    });
    const mails = service.mails();
    const mailsTo = (email) => mails.filter((raw) => (/^To:(.*)$/im.exec(raw)?.[1] ?? '').includes(email));
    const expected = {
      'bulk-email': { invites: 3, pending: 3, outbox: 1, memberships: 0, mails: 1 },
      single: { invites: 1, pending: 1, outbox: 1, memberships: 0, mails: 1 },
      'bulk-direct': { invites: 0, pending: 0, outbox: 0, memberships: 3, mails: 0 },
      // The batch's first email and one resend; a second run would retire the new token too
      // (the link of the email just sent stops working) and queue a third email.
      resend: { invites: 3, pending: 3, outbox: 2, memberships: 0, mails: 2 },
    };
    for (const [job, seen] of observe(service, allJobs)) {
      const { effects, kept: keptRows, ...rows } = seen;
      assert.deepEqual(
        { effects, kept: keptRows, ...rows, mails: mailsTo(job.email).length },
        { effects: 1, kept: 1, ...expected[job.kind] },
        `${job.kind} ${job.key} (${job.email})`,
      );
    }
    assert.equal(count(service, 'SELECT COUNT(*) FROM idempotent_responses'), allJobs.length);
    assert.equal(await service.stop(), 0);
  } finally {
    if (service.child.exitCode === null && service.child.signalCode === null) await service.stop();
  }
});
