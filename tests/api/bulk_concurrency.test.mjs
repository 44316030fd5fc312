// POST /api/v1/invites/bulk under concurrency (SPEC §4): two concurrent requests never create two
// users for one email nor two memberships for one (user, target), and exactly one reports success;
// in email mode at most one invite per (email, target) stays pending.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startService } from '../support/service.mjs';
import {
  GENEROUS_LIMITS, UUID_RE, count, createWebsites, drainedMails, q, uniqueEmail, usersByEmail, uuidSql,
} from '../support/assertions.mjs';

const PARALLEL = 20;

let service;
let key;
let websites;

before(async () => {
  service = await startService({ args: GENEROUS_LIMITS });
  key = service.createOrg('Concurrent Co').api_key;
  websites = await createWebsites(service, key, 5, 'busy');
});

after(async () => {
  if (service) assert.equal(await service.stop(), 0);
});

// Fires `bodies` at once and returns the parsed 200 bodies.
async function fireAll(bodies) {
  const responses = await Promise.all(
    bodies.map((body) => service.api('POST', '/api/v1/invites/bulk', { key, body })),
  );
  for (const response of responses) {
    assert.equal(response.status, 200, response.text);
    assert.equal(response.body.results.length, websites.length, response.text);
  }
  return responses.map((r) => r.body);
}

test(`${PARALLEL} concurrent direct invites of one new email: one user, one membership and one success per website`, async () => {
  const email = uniqueEmail('race');
  const ids = websites.map((w) => w.id);
  // Same address in several spellings: still one person.
  const spellings = [email, email.toUpperCase(), ` ${email} `];
  const bodies = Array.from({ length: PARALLEL }, (_, i) => ({
    invite_method: 'direct',
    email: spellings[i % spellings.length],
    // Vary the order so requests collide on different targets first.
    website_ids: i % 2 === 0 ? ids : [...ids].reverse(),
  }));
  const answers = await fireAll(bodies);

  const users = usersByEmail(service, email);
  assert.equal(users.length, 1, `exactly one user row: ${JSON.stringify(users)}`);
  assert.equal(count(service, `SELECT COUNT(*) FROM users WHERE email_key = lower(${q(email)})`), 1);

  for (const id of ids) {
    const rows = count(
      service,
      `SELECT COUNT(*) FROM website_members m JOIN websites w ON w.pk = m.website_pk WHERE ${uuidSql('w.id')} = ${q(id)}`,
    );
    assert.equal(rows, 1, `exactly one membership on ${id}`);
    const outcomes = answers.map((a) => a.results.find((r) => r.website_id === id));
    const successes = outcomes.filter((r) => r.success);
    assert.equal(successes.length, 1, `exactly one success for ${id}: ${JSON.stringify(outcomes)}`);
    assert.equal(successes[0].message, 'User added to website');
    assert.equal(successes[0].user_id, users[0].id);
    for (const r of outcomes.filter((o) => !o.success)) {
      assert.deepEqual(r, { website_id: id, success: false, error: 'User is already a member of this website' });
    }
  }
});

test(`${PARALLEL} concurrent email invites of one email: exactly one pending invite per website, the rest revoked`, async () => {
  const email = uniqueEmail('race-mail');
  const ids = websites.map((w) => w.id);
  const bodies = Array.from({ length: PARALLEL }, (_, i) => ({
    invite_method: 'email',
    email: i % 2 === 0 ? email : email.toUpperCase(),
    website_ids: i % 2 === 0 ? ids : [...ids].reverse(),
  }));
  const answers = await fireAll(bodies);
  for (const answer of answers) {
    for (const r of answer.results) {
      assert.equal(r.success, true, JSON.stringify(r));
      assert.equal(r.message, 'Invitation sent');
      assert.match(r.invite_id, UUID_RE);
    }
  }
  const allInviteIds = answers.flatMap((a) => a.results.map((r) => r.invite_id));
  assert.equal(new Set(allInviteIds).size, PARALLEL * ids.length, 'every invite has its own id');

  const rows = service
    .sql(
      `SELECT ${uuidSql('w.id')}, i.status, COUNT(*) FROM invites i JOIN websites w ON w.pk = i.target_pk
       WHERE i.email_key = lower(${q(email)}) AND i.target_kind = 1 GROUP BY 1, 2 ORDER BY 1, 2`,
    )
    .map(([id, status, n]) => [id, Number(status), Number(n)]);
  const expected = [...ids]
    .sort()
    .flatMap((id) => [[id, 0, 1], [id, 4, PARALLEL - 1]]);
  assert.deepEqual(rows, expected, 'per website: one pending (0), every earlier one revoked (4)');

  // Each request is one transaction, so the last one to commit replaced all five: the pending
  // invites belong to a single batch.
  const pendingBatches = count(
    service,
    `SELECT COUNT(DISTINCT batch_pk) FROM invites WHERE email_key = lower(${q(email)}) AND status = 0`,
  );
  assert.equal(pendingBatches, 1);
  assert.equal(usersByEmail(service, email).length, 0, 'email mode creates no user');
  // One queued email per request; the worker is left to drain before the service stops.
  assert.equal(count(service, `SELECT COUNT(*) FROM outbox_emails WHERE lower(to_address) = lower(${q(email)})`), PARALLEL);
  await drainedMails(service);
});
