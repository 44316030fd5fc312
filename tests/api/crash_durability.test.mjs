// A crash under load loses nothing acknowledged and leaves nothing half-done (SPEC §3), on both
// stores: many bulk invites of both methods run at once, without Idempotency-Key, and the service
// is killed with SIGKILL in the middle of them. After a restart on the same database, every
// request answered 2xx is there in full (all its targets), and every other request (unanswered,
// or answered otherwise) is there in full or not at all: a request is one unit of work.
// (Keyed requests across a kill, where a retry must replay rather than run again:
// idempotency_exactly_once.test.mjs.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startService } from '../support/service.mjs';
import { GENEROUS_LIMITS, bulk, createWebsites, q, uniqueEmail } from '../support/assertions.mjs';

const WEBSITES = 6;
const WORKERS = 16;

// What the database holds for each request, in one query: the user of its address and that
// user's website memberships (a direct invite), the batches of its address, their invites and
// their queued emails (an email invite).
function observe(service, jobs) {
  const values = jobs.map((job) => `(${q(job.email)})`).join(', ');
  const rows = service.sql(`WITH j(email) AS (VALUES ${values}) SELECT j.email,
    (SELECT COUNT(*) FROM users WHERE email_key = lower(j.email)),
    (SELECT COUNT(*) FROM website_members m JOIN users u ON u.pk = m.user_pk WHERE u.email_key = lower(j.email)),
    (SELECT COUNT(*) FROM invite_batches WHERE email = j.email),
    (SELECT COUNT(*) FROM invites WHERE batch_pk IN (SELECT pk FROM invite_batches WHERE email = j.email)),
    (SELECT COUNT(*) FROM outbox_emails WHERE batch_pk IN (SELECT pk FROM invite_batches WHERE email = j.email))
    FROM j`);
  const byEmail = new Map(rows.map(([email, ...counts]) => {
    const [users, members, batches, invites, outbox] = counts.map(Number);
    return [email, { users, members, batches, invites, outbox }];
  }));
  return jobs.map((job) => [job, byEmail.get(job.email)]);
}

// The rows of a request that took effect in full, and of one that did not take effect at all.
const FULL = {
  direct: { users: 1, members: WEBSITES, batches: 0, invites: 0, outbox: 0 },
  email: { users: 0, members: 0, batches: 1, invites: WEBSITES, outbox: 1 },
};
const NONE = { users: 0, members: 0, batches: 0, invites: 0, outbox: 0 };

// WORKERS clients each send bulk invites one after another (methods taking turns), each to every
// website for an address of its own, until `killAfter` answers are in; then the service is
// SIGKILLed with the others' requests in flight. Returns every request sent, with its answer
// when one arrived, and how many were in flight at the kill.
async function loadAndKill(service, apiKey, siteIds, killAfter) {
  const jobs = [];
  const inFlight = new Set();
  let answered = 0;
  let killed = false;
  let inFlightAtKill = 0;
  const worker = async (w) => {
    for (let i = 0; !killed; i++) {
      const method = (w + i) % 2 === 0 ? 'direct' : 'email';
      const job = { method, email: uniqueEmail(`crash-${method}`) };
      jobs.push(job);
      inFlight.add(job);
      try {
        job.response = await bulk(service, apiKey, { invite_method: method, email: job.email, website_ids: siteIds });
        answered += 1;
        if (!killed && answered >= killAfter) {
          killed = true;
          inFlightAtKill = inFlight.size - 1;
          service.child.kill('SIGKILL');
        }
      } catch {
        // the connection died with the service: no answer
      } finally {
        inFlight.delete(job);
      }
    }
  };
  await Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));
  await service.exited;
  return { jobs, inFlightAtKill };
}

test('kill -9 under concurrent bulk invites: every acknowledged invite and membership is in the database after a restart, and no request is half-applied', async (t) => {
  let service = await startService({ args: GENEROUS_LIMITS });
  const { dir } = service;
  try {
    const apiKey = service.createOrg('Crash Load Co').api_key;
    const siteIds = (await createWebsites(service, apiKey, WEBSITES, 'crashload')).map((s) => s.id);
    let acknowledged = 0;
    let unansweredAtKills = 0;
    let appliedUnanswered = 0;
    // Three kills at different depths of the load: one kill may land between requests' commits
    // and answers rarely, three rarely all do.
    for (const killAfter of [20, 35, 50]) {
      const { jobs, inFlightAtKill } = await loadAndKill(service, apiKey, siteIds, killAfter);
      assert.equal(service.child.signalCode, 'SIGKILL');
      unansweredAtKills += inFlightAtKill;

      service = await startService({ dir, args: GENEROUS_LIMITS });
      for (const [job, seen] of observe(service, jobs)) {
        const context = `${job.method} invite of ${job.email}: answered ${job.response?.status ?? 'nothing'}: ${JSON.stringify(seen)}`;
        const status = job.response?.status;
        if (status >= 200 && status < 300) {
          assert.equal(status, 200, context);
          assert.ok(job.response.body.results.every((r) => r.success), `${context}: ${job.response.text}`);
          assert.deepEqual(seen, FULL[job.method], `${context}: acknowledged but not in the database in full`);
          acknowledged += 1;
        } else {
          // Unanswered (or refused): all of it or none of it.
          const whole = JSON.stringify(seen) === JSON.stringify(FULL[job.method]);
          assert.ok(whole || JSON.stringify(seen) === JSON.stringify(NONE), `${context}: half-applied`);
          if (whole && status === undefined) appliedUnanswered += 1;
          if (status !== undefined) assert.deepEqual(seen, NONE, `${context}: refused but applied`);
        }
      }
    }
    assert.ok(unansweredAtKills > 0, 'requests were in flight when the service was killed');
    t.diagnostic(`${acknowledged} acknowledged requests all durable; ${unansweredAtKills} in flight at the kills, ${appliedUnanswered} of them committed before the kill`);

    // The restarted service serves writes as before.
    const after = await bulk(service, apiKey, { invite_method: 'direct', email: uniqueEmail('after'), website_ids: siteIds });
    assert.equal(after.status, 200, after.text);
    assert.equal(await service.stop(), 0);
  } finally {
    if (service.child.exitCode === null && service.child.signalCode === null) await service.stop();
  }
});
