// Bulk requests for one email and the same websites, racing through 3 instances on one
// PostgreSQL database, end as they would on one instance (SPEC §4): the database's constraints
// and SERIALIZABLE units decide, never an instance's memory. Direct mode: one user, one
// membership per website, and for each website exactly one result "User added to website", every
// other "User is already a member of this website". Email mode: every request succeeds (each
// replaces the pending invites of the one before it), and what is left pending is one batch that
// holds exactly one pending invite per website. (concurrent_rules.test.mjs races requests
// through one instance; this file, through several.)
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startService } from '../support/service.mjs';
import { GENEROUS_LIMITS, count, createWebsites, q, uniqueEmail, usersByEmail } from '../support/assertions.mjs';

const ROUNDS = 4;
const PER_INSTANCE = 3;

let instances = [];
let apiKey;
let siteIds;

before(async () => {
  const first = await startService({ args: GENEROUS_LIMITS });
  instances = [first];
  for (let i = 0; i < 2; i++) instances.push(await startService({ dir: first.dir, args: GENEROUS_LIMITS }));
  apiKey = first.createOrg('Racing Instances').api_key;
  siteIds = (await createWebsites(first, apiKey, 4, 'race')).map((s) => s.id);
});

after(async () => {
  for (const service of instances.reverse()) assert.equal(await service.stop(), 0);
});

// The same request sent PER_INSTANCE times to each instance, all at once (interleaved).
async function race(body) {
  const sends = [];
  for (let i = 0; i < PER_INSTANCE; i++) {
    for (const service of instances) sends.push(service.api('POST', '/api/v1/invites/bulk', { key: apiKey, body }));
  }
  const responses = await Promise.all(sends);
  const context = responses.map((r) => `${r.status} ${r.text}`).join('\n');
  for (const response of responses) assert.equal(response.status, 200, context);
  return { responses, context };
}

test('postgres: direct bulk requests for one email and the same websites racing through 3 instances: one user, one membership per website, exactly one "added" per website and every other result "already a member"', async () => {
  for (let round = 0; round < ROUNDS; round++) {
    const email = uniqueEmail('race-direct');
    const { responses, context } = await race({ invite_method: 'direct', email, website_ids: siteIds });
    const users = usersByEmail(instances[0], email);
    assert.equal(users.length, 1, context);
    for (const [index, websiteId] of siteIds.entries()) {
      const results = responses.map((r) => r.body.results[index]);
      for (const result of results) assert.equal(result.website_id, websiteId);
      const added = results.filter((r) => r.success);
      assert.equal(added.length, 1, `website ${index}:\n${context}`);
      assert.deepEqual(added[0], { website_id: websiteId, success: true, message: 'User added to website', user_id: users[0].id });
      for (const other of results.filter((r) => !r.success)) {
        assert.deepEqual(other, { website_id: websiteId, success: false, error: 'User is already a member of this website' }, context);
      }
      const memberships = count(
        instances[0],
        `SELECT COUNT(*) FROM website_members m JOIN websites w ON w.pk = m.website_pk JOIN users u ON u.pk = m.user_pk WHERE w.id = ${q(websiteId)} AND u.email_key = lower(${q(email)})`,
      );
      assert.equal(memberships, 1, `website ${index}:\n${context}`);
    }
  }
});

test('postgres: email-mode bulk requests for one email and the same websites racing through 3 instances: every one succeeds, and one batch is left pending, with one pending invite per website', async () => {
  for (let round = 0; round < ROUNDS; round++) {
    const email = uniqueEmail('race-email');
    const { responses, context } = await race({ invite_method: 'email', email, website_ids: siteIds });
    for (const response of responses) {
      assert.deepEqual(response.body.results.map((r) => [r.website_id, r.success, r.message]), siteIds.map((id) => [id, true, 'Invitation sent']), context);
    }
    // One batch and one queued email per request (each request is its own invitation) ...
    const [batches, emails] = instances[0]
      .sql(`SELECT (SELECT COUNT(*) FROM invite_batches WHERE email = ${q(email)}),
        (SELECT COUNT(*) FROM outbox_emails o JOIN invite_batches b ON b.pk = o.batch_pk WHERE b.email = ${q(email)})`)[0]
      .map(Number);
    assert.equal(batches, responses.length, context);
    assert.equal(emails, responses.length, context);
    // ... but only the last one committed is still pending: one pending invite per website, all
    // in one batch, and that batch's invites are those one response names.
    // (Stored statuses: 0 pending, 4 revoked; target kind 1 is a website.)
    const pending = instances[0].sql(
      `SELECT CAST(w.id AS text), b.pk, CAST(i.id AS text) FROM invites i JOIN invite_batches b ON b.pk = i.batch_pk JOIN websites w ON i.target_kind = 1 AND w.pk = i.target_pk WHERE b.email = ${q(email)} AND i.status = 0`,
    );
    assert.deepEqual(pending.map(([websiteId]) => websiteId).sort(), [...siteIds].sort(), context);
    assert.equal(new Set(pending.map(([, batch]) => batch)).size, 1, context);
    const pendingIds = pending.map(([, , id]) => id).sort();
    const owners = responses.filter((r) => JSON.stringify(r.body.results.map((x) => x.invite_id).sort()) === JSON.stringify(pendingIds));
    assert.equal(owners.length, 1, context);
    // Every other invite of the race was replaced: revoked (status 4; 0 is pending).
    const others = count(
      instances[0],
      `SELECT COUNT(*) FROM invites i JOIN invite_batches b ON b.pk = i.batch_pk WHERE b.email = ${q(email)} AND i.status NOT IN (0, 4)`,
    );
    assert.equal(others, 0, context);
  }
});
