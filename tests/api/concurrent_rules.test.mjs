// Rules that read before they write, under racing requests (docs/architecture.md, "The isolation
// contract"): each unit of work behaves as if it ran alone, so a rule checked inside it still
// holds when another request changes the same rows at the same moment. On SQLite one writer runs
// units one after another; a store with concurrent writers (PostgreSQL, SERIALIZABLE) must abort
// and re-run one of two units that would break the rule together. The tests only use the API, so
// they run unchanged on every store.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startService } from '../support/service.mjs';
import { GENEROUS_LIMITS, call, createWebsites, latestToken, uniqueEmail } from '../support/assertions.mjs';

// Each race runs this many times: one run may happen to serialize by luck, all of them rarely do.
const ROUNDS = 8;

let service;

before(async () => {
  service = await startService({ args: GENEROUS_LIMITS });
});

after(async () => {
  if (service) assert.equal(await service.stop(), 0);
});

// A fresh organization whose owners are its creator and `extraOwners` more people, each added
// directly and promoted. Returns its global key and the owners' user ids.
async function organizationWithOwners(extraOwners) {
  const org = service.createOrg('Owners Race Co', uniqueEmail('owner'));
  const owners = [org.owner_user_id];
  for (let i = 0; i < extraOwners; i += 1) {
    const added = await call(service, 'POST', '/api/v1/invites', {
      key: org.api_key,
      body: { type: 'organization', invite_method: 'direct', email: uniqueEmail('co-owner'), role: 'admin' },
    });
    await call(service, 'PATCH', `/api/v1/organizations/members/${added.user_id}`, { key: org.api_key, body: { role: 'owner' } });
    owners.push(added.user_id);
  }
  return { key: org.api_key, owners };
}

async function ownersOf(key) {
  const list = await call(service, 'GET', '/api/v1/organizations/members?limit=100', { key });
  return list.members.filter((m) => m.role === 'owner').map((m) => m.user_id);
}

// Exactly one of `responses` succeeded (`okStatus`); every other one is the last-owner conflict.
function assertOneWinner(responses, okStatus = 200) {
  const statuses = responses.map((r) => r.status);
  assert.equal(statuses.filter((s) => s === okStatus).length, 1, `exactly one succeeds: ${statuses}`);
  for (const response of responses.filter((r) => r.status !== okStatus)) {
    assert.equal(response.status, 409, response.text);
    assert.equal(response.body.code, 'conflict');
    assert.match(response.body.error, /last owner/);
  }
}

test('two owners removed at once: exactly one removal succeeds and the organization keeps an owner', async () => {
  for (let round = 0; round < ROUNDS; round += 1) {
    const { key, owners } = await organizationWithOwners(1);
    const responses = await Promise.all(
      owners.map((id) => service.api('DELETE', `/api/v1/organizations/members/${id}`, { key })),
    );
    assertOneWinner(responses);
    const left = await ownersOf(key);
    assert.equal(left.length, 1, `round ${round}: one owner left, got ${JSON.stringify(left)}`);
    assert.equal(left[0], owners[responses.findIndex((r) => r.status !== 200)], 'the refused one is the owner left');
  }
});

test('two owners demoted at once, or one demoted while the other is removed: exactly one change succeeds', async () => {
  for (let round = 0; round < ROUNDS; round += 1) {
    const { key, owners } = await organizationWithOwners(1);
    const [first, second] = owners;
    const removeSecond = round % 2 === 1;
    const responses = await Promise.all([
      service.api('PATCH', `/api/v1/organizations/members/${first}`, { key, body: { role: 'viewer' } }),
      removeSecond
        ? service.api('DELETE', `/api/v1/organizations/members/${second}`, { key })
        : service.api('PATCH', `/api/v1/organizations/members/${second}`, { key, body: { role: 'admin' } }),
    ]);
    assertOneWinner(responses);
    assert.equal((await ownersOf(key)).length, 1, `round ${round}: one owner left`);
  }
});

test('three owners, each removed by its own request at once: exactly two succeed and one owner stays', async () => {
  for (let round = 0; round < ROUNDS; round += 1) {
    const { key, owners } = await organizationWithOwners(2);
    const responses = await Promise.all(
      owners.map((id) => service.api('DELETE', `/api/v1/organizations/members/${id}`, { key })),
    );
    const statuses = responses.map((r) => r.status);
    assert.equal(statuses.filter((s) => s === 200).length, 2, `two succeed: ${statuses}`);
    assert.equal(statuses.filter((s) => s === 409).length, 1, `one is refused: ${statuses}`);
    assert.equal((await ownersOf(key)).length, 1, `round ${round}: one owner left`);
  }
});

test('one invitation link accepted by several requests at once: one acceptance, one membership per website', async () => {
  const org = service.createOrg('Accept Race Co');
  const key = org.api_key;
  const websites = await createWebsites(service, key, 2, 'race');
  const ids = websites.map((w) => w.id);
  for (let round = 0; round < ROUNDS / 2; round += 1) {
    const email = uniqueEmail('accept-race');
    await call(service, 'POST', '/api/v1/invites/bulk', { key, body: { invite_method: 'email', email, role: 'viewer', website_ids: ids } });
    const token = await latestToken(service, email);
    const responses = await Promise.all(
      Array.from({ length: 6 }, () => service.api('POST', '/api/v1/invitations/accept', { body: { token } })),
    );
    const statuses = responses.map((r) => r.status);
    assert.equal(statuses.filter((s) => s === 200).length, 1, `exactly one acceptance: ${statuses}`);
    for (const response of responses.filter((r) => r.status !== 200)) {
      assert.equal(response.status, 410, response.text);
      assert.equal(response.body.code, 'gone');
    }
    const userId = responses.find((r) => r.status === 200).body.user_id;
    for (const id of ids) {
      const members = await call(service, 'GET', `/api/v1/websites/${id}/members?limit=100`, { key });
      assert.equal(members.members.filter((m) => m.user_id === userId).length, 1, 'one membership');
    }
    const invites = await call(service, 'GET', `/api/v1/invites?email=${encodeURIComponent(email)}`, { key });
    assert.deepEqual(invites.invites.map((i) => i.status), ['accepted', 'accepted']);
  }
});

test('one invitation link accepted and declined at once: exactly one answer counts', async () => {
  const org = service.createOrg('Answer Race Co');
  const key = org.api_key;
  const [website] = await createWebsites(service, key, 1, 'answer');
  for (let round = 0; round < ROUNDS / 2; round += 1) {
    const email = uniqueEmail('answer-race');
    await call(service, 'POST', '/api/v1/invites', { key, body: { type: 'website', invite_method: 'email', email, role: 'viewer', website_id: website.id } });
    const token = await latestToken(service, email);
    const [accepted, declined] = await Promise.all([
      service.api('POST', '/api/v1/invitations/accept', { body: { token } }),
      service.fetch('/invites/decline', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `token=${encodeURIComponent(token)}`,
      }),
    ]);
    assert.deepEqual([accepted.status, declined.status].sort(), [200, 410], `one answer wins: ${accepted.status}, ${declined.status}`);
    const members = await call(service, 'GET', `/api/v1/websites/${website.id}/members?limit=100`, { key });
    const invites = await call(service, 'GET', `/api/v1/invites?email=${encodeURIComponent(email)}`, { key });
    if (accepted.status === 200) {
      assert.deepEqual(invites.invites.map((i) => i.status), ['accepted']);
      assert.equal(members.members.filter((m) => m.email === email).length, 1);
    } else {
      assert.deepEqual(invites.invites.map((i) => i.status), ['declined']);
      assert.equal(members.members.filter((m) => m.email === email).length, 0);
    }
  }
});

test('one email invited to one website by several requests at once: exactly one invite stays pending', async () => {
  const org = service.createOrg('Invite Race Co');
  const key = org.api_key;
  const [website] = await createWebsites(service, key, 1, 'invite');
  for (let round = 0; round < ROUNDS / 2; round += 1) {
    const email = uniqueEmail('invite-race');
    const responses = await Promise.all(
      Array.from({ length: 6 }, () => service.api('POST', '/api/v1/invites', {
        key, body: { type: 'website', invite_method: 'email', email, role: 'viewer', website_id: website.id },
      })),
    );
    for (const response of responses) assert.equal(response.status, 200, response.text);
    const invites = await call(service, 'GET', `/api/v1/invites?email=${encodeURIComponent(email)}&limit=100`, { key });
    const statuses = invites.invites.map((i) => i.status);
    assert.equal(statuses.length, 6, JSON.stringify(statuses));
    assert.equal(statuses.filter((s) => s === 'pending').length, 1, `one pending: ${statuses}`);
    assert.equal(statuses.filter((s) => s === 'revoked').length, 5, `the rest replaced: ${statuses}`);
  }
});
