// tenancy and scope (SPEC §2): a second organization calls every documented path with
// the ids of the first (websites, groups, users, invites, keys) and gets 404, or 403 where a
// global key is required first; the first organization's data is unchanged. A scoped key sees
// only its allowlist on every path and gets 403 global_key_required where the whole organization
// is needed. The list of operations comes from GET /openapi.json, so a new endpoint without a
// probe fails here.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startService } from '../support/service.mjs';
import { contractOf } from '../support/openapi.mjs';
import { GENEROUS_LIMITS, drainedMails, q, tableCounts, uniqueEmail, uuidSql } from '../support/assertions.mjs';
import { addDirect, call, createGroup, createKeyViaApi, expectError, inviteByEmail, websitesInOrder } from '../support/assertions.mjs';

let service;
let contract;
const A = {}; // the first organization and its ids
const B = {}; // the prober

// Operations that name no resource of an organization (the token is the credential, or they
// are operational); they cannot be probed with another organization's ids.
const NOT_TENANT_SCOPED = new Set([
  'GET /healthz', 'GET /readyz', 'GET /metrics', 'GET /openapi.json',
  'POST /api/v1/invitations/accept', 'GET /invites/accept', 'POST /invites/accept', 'POST /invites/decline',
]);

before(async () => {
  service = await startService({ args: GENEROUS_LIMITS });
  contract = await contractOf(service);

  const a = service.createOrg('Tenant A', uniqueEmail('a-owner'));
  Object.assign(A, { org: a, key: a.api_key, owner: a.owner_user_id });
  A.sites = await websitesInOrder(service, A.key, 3, 'tenant-a');
  await call(service, 'DELETE', `/api/v1/websites/${A.sites[2].id}`, { key: A.key }); // a deleted one too
  A.group = await createGroup(service, A.key, 'A group', [A.sites[0].id]);
  A.memberEmail = uniqueEmail('a-member');
  A.user = await addDirect(service, A.key, A.memberEmail, [A.sites[0].id]);
  await addDirect(service, A.key, A.memberEmail, [A.group.id], { kind: 'group' });
  A.inviteeEmail = uniqueEmail('a-invitee');
  [A.invite] = await inviteByEmail(service, A.key, A.inviteeEmail, [A.sites[0].id, A.sites[1].id]);
  [A.groupInvite] = await inviteByEmail(service, A.key, uniqueEmail('a-group-invitee'), [A.group.id], { kind: 'group' });
  A.scoped = await createKeyViaApi(service, A.key, 'A scoped', [A.sites[0].id]);
  // A webhook endpoint subscribed only to a type B's probes cannot cause, so no delivery is
  // attempted (and no row written) while they run.
  A.webhook = (await call(service, 'POST', '/api/v1/webhook-endpoints', {
    key: A.key, status: 201, body: { url: 'https://hooks.tenant-a.example/invited', event_types: ['webhook_endpoint.secret_rotated'] },
  })).webhook_endpoint.id;
  A.event = (await call(service, 'GET', '/api/v1/events?limit=1', { key: A.key })).events[0].id;

  const b = service.createOrg('Tenant B', uniqueEmail('b-owner'));
  Object.assign(B, { org: b, key: b.api_key });
  B.sites = await websitesInOrder(service, B.key, 1, 'tenant-b');
  B.group = await createGroup(service, B.key, 'B group', [B.sites[0].id]);
  B.scoped = service.createKey(b.org_id, [B.sites[0].id], 'B scoped').api_key;
  // A's invitation emails are sent before anything of A is read: snapshotOfA() compares A's
  // invites, `delivery` included, before and after the probes, and the mail worker would
  // otherwise move it from queued to sent between the two reads.
  await drainedMails(service);
});

after(async () => {
  if (service) assert.equal(await service.stop(), 0);
});

// What A sees of itself: compared before and after the probes.
async function snapshotOfA() {
  const get = (path) => call(service, 'GET', path, { key: A.key });
  return {
    websites: await get('/api/v1/websites?page_size=100'),
    rows: service.sql(`SELECT ${uuidSql('id')}, url, name, created_at, coalesce(CAST(deleted_at AS TEXT), 'live') FROM websites WHERE org_pk = (SELECT pk FROM organizations WHERE ${uuidSql('id')} = ${q(A.org.org_id)}) ORDER BY pk`),
    inviteRows: service.sql(`SELECT ${uuidSql('id')}, status, expires_at, coalesce(CAST(closed_at AS TEXT), '-') FROM invites WHERE org_pk = (SELECT pk FROM organizations WHERE ${uuidSql('id')} = ${q(A.org.org_id)}) ORDER BY pk`),
    website: await get(`/api/v1/websites/${A.sites[0].id}`),
    groups: await get('/api/v1/groups?page_size=100'),
    group: await get(`/api/v1/groups/${A.group.id}`),
    websiteMembers: await get(`/api/v1/websites/${A.sites[0].id}/members?page_size=100`),
    groupMembers: await get(`/api/v1/groups/${A.group.id}/members?page_size=100`),
    orgMembers: await get('/api/v1/organizations/members?page_size=100'),
    userWebsites: await get(`/api/v1/users/${A.user}/websites?page_size=100`),
    invites: await get('/api/v1/invites?page_size=100'),
    invite: await get(`/api/v1/invites/${A.invite}`),
    keys: await get('/api/v1/api-keys?page_size=100'),
  };
}

// One probe per documented operation: the path with A's ids, a body naming A's ids, and what a
// global key of B must get: 404 not_found, a list with nothing of A ('list'), per-target
// "not found" results ('bulk'), 400 naming the foreign ids ('ids400'), or 400 for a create that
// names nothing of A and is refused for its own fields (400), so that it writes nothing.
function probes() {
  const s0 = A.sites[0].id;
  const s1 = A.sites[1].id;
  const deleted = A.sites[2].id;
  return {
    'POST /api/v1/websites': { path: '/api/v1/websites', body: { url: 'https://tenant-b-probe.example' }, expect: 'create' },
    'GET /api/v1/websites': { path: '/api/v1/websites?page_size=100', expect: 'list' },
    'GET /api/v1/websites/{id}': { path: `/api/v1/websites/${s0}`, expect: 404, also: [`/api/v1/websites/${deleted}`] },
    'DELETE /api/v1/websites/{id}': { path: `/api/v1/websites/${s0}`, expect: 404, global: true },
    'POST /api/v1/websites/{id}/restore': { path: `/api/v1/websites/${deleted}/restore`, expect: 404, global: true },
    'POST /api/v1/groups': { path: '/api/v1/groups', body: { name: 'steal', website_ids: [s0, s1] }, expect: 'ids400', fields: ['website_ids[0]', 'website_ids[1]'], global: true },
    'GET /api/v1/groups': { path: '/api/v1/groups?page_size=100', expect: 'list', global: true },
    'GET /api/v1/groups/{id}': { path: `/api/v1/groups/${A.group.id}`, expect: 404, global: true },
    'PATCH /api/v1/groups/{id}': { path: `/api/v1/groups/${A.group.id}`, body: { name: 'hijacked', remove_website_ids: [s0] }, expect: 404, global: true },
    'DELETE /api/v1/groups/{id}': { path: `/api/v1/groups/${A.group.id}`, expect: 404, global: true },
    'GET /api/v1/websites/{id}/members': { path: `/api/v1/websites/${s0}/members`, expect: 404 },
    'PATCH /api/v1/websites/{id}/members/{user_id}': { path: `/api/v1/websites/${s0}/members/${A.user}`, body: { role: 'admin' }, expect: 404 },
    'DELETE /api/v1/websites/{id}/members/{user_id}': { path: `/api/v1/websites/${s0}/members/${A.user}`, expect: 404 },
    'GET /api/v1/groups/{id}/members': { path: `/api/v1/groups/${A.group.id}/members`, expect: 404, global: true },
    'PATCH /api/v1/groups/{id}/members/{user_id}': { path: `/api/v1/groups/${A.group.id}/members/${A.user}`, body: { role: 'admin' }, expect: 404, global: true },
    'DELETE /api/v1/groups/{id}/members/{user_id}': { path: `/api/v1/groups/${A.group.id}/members/${A.user}`, expect: 404, global: true },
    'GET /api/v1/organizations/members': { path: '/api/v1/organizations/members?page_size=100', expect: 'list', global: true },
    'PATCH /api/v1/organizations/members/{user_id}': { path: `/api/v1/organizations/members/${A.owner}`, body: { role: 'viewer' }, expect: 404, global: true },
    'DELETE /api/v1/organizations/members/{user_id}': { path: `/api/v1/organizations/members/${A.owner}`, expect: 404, global: true, also: [`/api/v1/organizations/members/${A.user}`] },
    'GET /api/v1/users/{user_id}/websites': { path: `/api/v1/users/${A.user}/websites`, expect: 404, global: true, also: [`/api/v1/users/${A.owner}/websites`] },
    'POST /api/v1/invites/bulk': {
      path: '/api/v1/invites/bulk', body: { invite_method: 'email', email: A.memberEmail, website_ids: [s0, s1, deleted] }, expect: 'bulk',
      also: [{ invite_method: 'direct', email: A.memberEmail, website_ids: [s0] }],
      globalBodies: [{ invite_method: 'direct', email: A.memberEmail, group_ids: [A.group.id] }],
    },
    'POST /api/v1/invites': {
      path: '/api/v1/invites', body: { type: 'website', website_id: s0, email: uniqueEmail('probe'), invite_method: 'direct' }, expect: 404,
      globalBodies: [{ type: 'group', group_id: A.group.id, email: uniqueEmail('probe'), invite_method: 'email' }],
    },
    'GET /api/v1/invites': {
      path: '/api/v1/invites?page_size=100', expect: 'list',
      also: [`/api/v1/invites?website_id=${s0}`, `/api/v1/invites?email=${encodeURIComponent(A.inviteeEmail)}`],
      globalPaths: [`/api/v1/invites?group_id=${A.group.id}`],
    },
    'GET /api/v1/invites/{id}': { path: `/api/v1/invites/${A.invite}`, expect: 404, also: [`/api/v1/invites/${A.groupInvite}`] },
    'DELETE /api/v1/invites/{id}': { path: `/api/v1/invites/${A.invite}`, expect: 404, global: true },
    'POST /api/v1/invites/{id}/resend': { path: `/api/v1/invites/${A.invite}/resend`, expect: 404, global: true },
    'POST /api/v1/api-keys': { path: '/api/v1/api-keys', body: { name: 'steal', website_ids: [s0] }, expect: 'ids400', fields: ['website_ids[0]'], global: true },
    'GET /api/v1/api-keys': { path: '/api/v1/api-keys?page_size=100', expect: 'list', global: true },
    'DELETE /api/v1/api-keys/{key_id}': { path: `/api/v1/api-keys/${A.scoped.key_id}`, expect: 404, global: true, also: [`/api/v1/api-keys/${A.org.key_id}`] },
    'GET /api/v1/events': {
      path: '/api/v1/events?limit=100', expect: 'list',
      also: [`/api/v1/events?website_id=${s0}`, `/api/v1/events?group_id=${A.group.id}`, `/api/v1/events?user_id=${A.user}`,
        `/api/v1/events?email=${encodeURIComponent(A.inviteeEmail)}`],
    },
    'GET /api/v1/events/{id}': { path: `/api/v1/events/${A.event}`, expect: 404 },
    'POST /api/v1/webhook-endpoints': { path: '/api/v1/webhook-endpoints', body: { url: 'http://hooks.tenant-b.example/' }, expect: 400 },
    'GET /api/v1/webhook-endpoints': { path: '/api/v1/webhook-endpoints', expect: 'list', global: true },
    'GET /api/v1/webhook-endpoints/{id}': { path: `/api/v1/webhook-endpoints/${A.webhook}`, expect: 404, global: true },
    'PATCH /api/v1/webhook-endpoints/{id}': { path: `/api/v1/webhook-endpoints/${A.webhook}`, body: { description: 'hijacked' }, expect: 404, global: true },
    'DELETE /api/v1/webhook-endpoints/{id}': { path: `/api/v1/webhook-endpoints/${A.webhook}`, expect: 404, global: true },
    'POST /api/v1/webhook-endpoints/{id}/rotate-secret': { path: `/api/v1/webhook-endpoints/${A.webhook}/rotate-secret`, expect: 404, global: true },
    'GET /api/v1/webhook-endpoints/{id}/deliveries': { path: `/api/v1/webhook-endpoints/${A.webhook}/deliveries`, expect: 404, global: true },
    'POST /api/v1/webhook-endpoints/{id}/deliveries/{delivery_id}/retry': {
      path: `/api/v1/webhook-endpoints/${A.webhook}/deliveries/${A.event}/retry`, expect: 404, global: true,
    },
  };
}

// Every id of A that must never show up in an answer to B.
const idsOfA = () => [A.event, A.webhook, A.org.org_id, ...A.sites.map((s) => s.id), A.group.id, A.user, A.owner, A.invite, A.groupInvite, A.scoped.key_id, A.org.key_id];

function assertNothingOfA(response, context) {
  for (const id of idsOfA()) assert.ok(!response.text.includes(id), `${context} leaks ${id}: ${response.text}`);
}

test('every documented operation is either probed here or names no organization resource', () => {
  const table = probes();
  const documented = contract.operations().map(({ method, template }) => `${method} ${template}`);
  for (const op of documented) {
    assert.ok(table[op] || NOT_TENANT_SCOPED.has(op), `no cross-tenant probe for ${op}`);
  }
  for (const op of Object.keys(table)) assert.ok(documented.includes(op), `${op} is probed but not documented`);
});

test('a second organization calling every path with the first one\'s ids gets 404 (or nothing of it), and the first is unchanged', async () => {
  const table = probes();
  const snapshot = await snapshotOfA();
  const countsBefore = tableCounts(service);
  let wrote = 0; // the rows B's own successful create adds

  for (const [op, probe] of Object.entries(table)) {
    const [method] = op.split(' ');
    const paths = [probe.path, ...(probe.also ?? []).filter((p) => typeof p === 'string'), ...(probe.globalPaths ?? [])];
    const bodies = [probe.body, ...(probe.also ?? []).filter((p) => typeof p === 'object'), ...(probe.globalBodies ?? [])];
    for (const path of paths) {
      for (const body of method === 'GET' || method === 'DELETE' || !probe.body ? [undefined] : bodies) {
        const context = `B: ${method} ${path} ${body ? JSON.stringify(body) : ''}`;
        const response = await service.api(method, path, { key: B.key, body });
        if (probe.expect === 404) {
          assert.equal(response.status, 404, `${context}: ${response.status} ${response.text}`);
          assert.equal(response.body.code, 'not_found', context);
        } else if (probe.expect === 'list') {
          assert.equal(response.status, 200, `${context}: ${response.text}`);
        } else if (probe.expect === 400) {
          assert.equal(response.status, 400, `${context}: ${response.status} ${response.text}`);
          assert.equal(response.body.code, 'validation_error', context);
        } else if (probe.expect === 'bulk') {
          assert.equal(response.status, 200, `${context}: ${response.text}`);
          const ids = body.website_ids ?? body.group_ids;
          const noun = body.website_ids ? 'Website' : 'Group';
          assert.deepEqual(response.body.results.map((r) => [r.website_id ?? r.group_id, r.success, r.error]), ids.map((id) => [id, false, `${noun} not found`]), context);
        } else if (probe.expect === 'ids400') {
          assert.equal(response.status, 400, `${context}: ${response.text}`);
          assert.deepEqual(response.body.details.map((d) => d.field), probe.fields, context);
          assert.ok(response.body.details.every((d) => d.message === 'is not a website of this organization'), context);
        } else if (probe.expect === 'create') {
          assert.equal(response.status, 201, `${context}: ${response.text}`);
          assert.equal(response.body.website.org_id, B.org.org_id);
          wrote += 1;
        }
        if (probe.expect !== 'bulk' && probe.expect !== 'ids400') assertNothingOfA(response, context);
      }
    }
  }

  // Nothing of A changed: every table has the same rows, except B's one new website.
  const countsAfter = tableCounts(service);
  // B's own creates: a website each, and its website.created event.
  assert.deepEqual(countsAfter, { ...countsBefore, websites: countsBefore.websites + wrote, events: countsBefore.events + wrote });
  assert.deepEqual(await snapshotOfA(), snapshot);
  assert.equal((await service.api('GET', '/api/v1/websites', { key: A.scoped.api_key })).status, 200, 'A\'s scoped key still works');
});

test('B\'s scoped key probing A\'s ids gets 404, or 403 global_key_required first where a global key is needed', async () => {
  const table = probes();
  const countsBefore = tableCounts(service);
  for (const [op, probe] of Object.entries(table)) {
    const [method] = op.split(' ');
    const paths = [probe.path, ...(probe.also ?? []).filter((p) => typeof p === 'string')];
    for (const path of paths) {
      const context = `B scoped: ${method} ${path}`;
      const response = await service.api(method, path, { key: B.scoped, body: probe.body });
      if (probe.global || probe.expect === 'create') {
        assert.equal(response.status, 403, `${context}: ${response.status} ${response.text}`);
        assert.equal(response.body.code, 'global_key_required', context);
      } else if (probe.expect === 404 || probe.expect === 400) {
        // 400: the body's own fields are refused before the scope (SPEC §3 check order).
        assert.equal(response.status, probe.expect, `${context}: ${response.status} ${response.text}`);
      } else if (probe.expect === 'bulk') {
        assert.equal(response.status, 200, context);
        assert.ok(response.body.results.every((r) => r.success === false && r.error === 'Website not found'), context);
      } else {
        assert.equal(response.status, 200, context);
      }
      if (probe.expect !== 'bulk') assertNothingOfA(response, context);
    }
    for (const path of probe.globalPaths ?? []) {
      await expectError(service, method, path, { key: B.scoped }, 403, 'global_key_required');
    }
    for (const body of probe.globalBodies ?? []) {
      await expectError(service, method, probe.path, { key: B.scoped, body }, 403, 'global_key_required');
    }
  }
  assert.deepEqual(tableCounts(service), countsBefore);
});

test('B\'s own groups cannot take A\'s websites; removing them is a no-op', async () => {
  const before = tableCounts(service);
  await expectError(service, 'PATCH', `/api/v1/groups/${B.group.id}`, { key: B.key, body: { add_website_ids: [A.sites[0].id] } }, 400, 'validation_error', {
    exactFields: ['add_website_ids[0]'],
  });
  const unchanged = await call(service, 'PATCH', `/api/v1/groups/${B.group.id}`, { key: B.key, body: { remove_website_ids: [A.sites[0].id] } });
  assert.deepEqual(unchanged.group.website_ids, [B.sites[0].id]);
  assert.deepEqual(tableCounts(service), before);
  assert.deepEqual((await call(service, 'GET', `/api/v1/groups/${A.group.id}`, { key: A.key })).group.website_ids, [A.sites[0].id]);
});

test('a scoped key sees only its allowlist on lists, gets, members and invites', async () => {
  const scoped = A.scoped.api_key;
  const [s0, s1] = A.sites;
  assert.deepEqual((await call(service, 'GET', '/api/v1/websites', { key: scoped })).websites.map((w) => w.id), [s0.id]);
  await call(service, 'GET', `/api/v1/websites/${s0.id}`, { key: scoped });
  await expectError(service, 'GET', `/api/v1/websites/${s1.id}`, { key: scoped }, 404, 'not_found');
  assert.ok((await call(service, 'GET', `/api/v1/websites/${s0.id}/members`, { key: scoped })).members.some((m) => m.user_id === A.user));
  await expectError(service, 'GET', `/api/v1/websites/${s1.id}/members`, { key: scoped }, 404, 'not_found');
  await expectError(service, 'PATCH', `/api/v1/websites/${s1.id}/members/${A.user}`, { key: scoped, body: { role: 'admin' } }, 404, 'not_found');
  await expectError(service, 'DELETE', `/api/v1/websites/${s1.id}/members/${A.user}`, { key: scoped }, 404, 'not_found');
  const invites = await call(service, 'GET', '/api/v1/invites?page_size=100', { key: scoped });
  assert.deepEqual(invites.invites.map((i) => [i.type, i.website_id]), [['website', s0.id]]);
  assert.equal(invites.total, 1);
  // Bulk: each target outside the allowlist is "Website not found", in request order.
  const email = uniqueEmail('scoped-bulk');
  const bulk = await call(service, 'POST', '/api/v1/invites/bulk', { key: scoped, body: { invite_method: 'direct', email, website_ids: [s1.id, s0.id] } });
  assert.deepEqual(bulk.results.map((r) => [r.website_id, r.success, r.error ?? r.message]), [
    [s1.id, false, 'Website not found'], [s0.id, true, 'User added to website'],
  ]);
  // Within the allowlist a scoped key may manage website members.
  const userId = bulk.results[1].user_id;
  assert.equal((await call(service, 'PATCH', `/api/v1/websites/${s0.id}/members/${userId}`, { key: scoped, body: { role: 'admin' } })).member.role, 'admin');
  assert.deepEqual(await call(service, 'DELETE', `/api/v1/websites/${s0.id}/members/${userId}`, { key: scoped }), { success: true });
});

// SPEC §3: "Checks run in this order, and the first that fails answers: ... fields (400
// validation_error), scope (403)." A scoped key sending an invalid field to an operation that
// needs a global key must get 400, as it does on POST /api/v1/websites, POST /api/v1/groups,
// PATCH /api/v1/groups/{id} and POST /api/v1/api-keys.
test('SPEC §3 check order: fields (400) before scope (403) for a scoped key on every global-key operation', async () => {
  const scoped = A.scoped.api_key;
  const cases = [
    ['POST', '/api/v1/websites', { url: 'nope' }, 'url'],
    ['POST', '/api/v1/groups', { name: '' }, 'name'],
    ['PATCH', `/api/v1/groups/${A.group.id}`, { name: '' }, 'name'],
    ['POST', '/api/v1/api-keys', { name: '' }, 'name'],
    ['POST', '/api/v1/invites/bulk', { invite_method: 'direct', email: 'x', group_ids: [A.group.id] }, 'email'],
    ['GET', `/api/v1/invites?group_id=${A.group.id}&page_size=0`, undefined, 'page_size'],
    ['GET', '/api/v1/groups?page_size=101', undefined, 'page_size'],
    ['GET', `/api/v1/groups/${A.group.id}/members?page_size=101`, undefined, 'page_size'],
    ['GET', '/api/v1/organizations/members?page_size=101', undefined, 'page_size'],
    ['GET', '/api/v1/api-keys?page_num=-1', undefined, 'page_num'],
    ['GET', `/api/v1/users/${A.user}/websites?page_size=0`, undefined, 'page_size'],
    ['PATCH', `/api/v1/groups/${A.group.id}/members/${A.user}`, { role: 'boss' }, 'role'],
    ['PATCH', `/api/v1/organizations/members/${A.owner}`, { role: 'boss' }, 'role'],
  ];
  const wrong = [];
  for (const [method, path, body, field] of cases) {
    const response = await service.api(method, path, { key: scoped, body });
    const fields = (response.body.details ?? []).map((d) => d.field);
    if (response.status !== 400 || response.body.code !== 'validation_error' || !fields.includes(field)) {
      wrong.push(`${method} ${path} ${body ? JSON.stringify(body) : ''} → ${response.status} ${response.body.code} (expected 400 validation_error naming ${field})`);
    }
  }
  assert.deepEqual(wrong, []);
});
