// members (SPEC §5): lists of website, group and organization members (a website's
// list includes who reaches it through a group or the organization, with access_type), role
// changes, removal, the last owner rule, and GET /api/v1/users/{id}/websites.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startService } from '../support/service.mjs';
import { GENEROUS_LIMITS, TIMESTAMP_RE, assertKeys, newId, tableCounts, uniqueEmail } from '../support/assertions.mjs';
import { addDirect, assertPagination, call, createGroup, expectError, websitesInOrder } from '../support/assertions.mjs';

let service;
let org;
let key;
let sites;
let ownerEmail;

before(async () => {
  service = await startService({ args: GENEROUS_LIMITS });
  ownerEmail = uniqueEmail('owner');
  org = service.createOrg('Members Inc', ownerEmail);
  key = org.api_key;
  sites = await websitesInOrder(service, key, 3, 'mem');
});

after(async () => {
  if (service) assert.equal(await service.stop(), 0);
});

const MEMBER_KEYS = ['user_id', 'email', 'first_name', 'last_name', 'email_verified', 'role', 'access_type', 'created_at'];

async function addToOrganization(email, role = 'viewer') {
  const body = await call(service, 'POST', '/api/v1/invites', { key, body: { type: 'organization', invite_method: 'direct', email, role } });
  assert.equal(body.message, 'User added to organization');
  return body.user_id;
}

test('a website member list: organization, group and website access, each person once with the strongest role', async () => {
  const site = (await websitesInOrder(service, key, 1, 'access'))[0];
  const group = await createGroup(service, key, 'Access group', [site.id]);
  const direct = uniqueEmail('direct');
  const viaGroup = uniqueEmail('viagroup');
  const both = uniqueEmail('both');
  const directId = await addDirect(service, key, direct, [site.id], { role: 'viewer', first_name: 'Dee', last_name: 'Rect' });
  const groupId = await addDirect(service, key, viaGroup, [group.id], { kind: 'group', role: 'admin' });
  // Both: viewer on the website, admin through the group: admin (group) wins.
  const bothId = await addDirect(service, key, both, [site.id], { role: 'viewer' });
  await addDirect(service, key, both, [group.id], { kind: 'group', role: 'admin' });

  const list = await call(service, 'GET', `/api/v1/websites/${site.id}/members`, { key });
  assertKeys(list, ['members', 'page_num', 'page_size', 'total']);
  assert.equal(list.total, 4);
  for (const m of list.members) {
    assertKeys(m, MEMBER_KEYS);
    assert.match(m.created_at, TIMESTAMP_RE);
  }
  const byId = Object.fromEntries(list.members.map((m) => [m.user_id, m]));
  assert.deepEqual(
    { ...byId[org.owner_user_id], created_at: undefined },
    { user_id: org.owner_user_id, email: ownerEmail, first_name: null, last_name: null, email_verified: false, role: 'owner', access_type: 'organization', created_at: undefined },
  );
  assert.deepEqual(
    { ...byId[directId], created_at: undefined },
    { user_id: directId, email: direct, first_name: 'Dee', last_name: 'Rect', email_verified: false, role: 'viewer', access_type: 'website', created_at: undefined },
  );
  assert.equal(byId[groupId].access_type, 'group');
  assert.equal(byId[groupId].role, 'admin');
  assert.equal(byId[bothId].access_type, 'group');
  assert.equal(byId[bothId].role, 'admin');

  await assertPagination(service, key, `/api/v1/websites/${site.id}/members`, 'members', 4);

  // The group's own list has only its direct members.
  const groupList = await call(service, 'GET', `/api/v1/groups/${group.id}/members`, { key });
  assert.deepEqual(new Set(groupList.members.map((m) => m.user_id)), new Set([groupId, bothId]));
  assert.ok(groupList.members.every((m) => m.access_type === 'group'));
  await assertPagination(service, key, `/api/v1/groups/${group.id}/members`, 'members', 2);
});

test('PATCH and DELETE website members: direct members only; role admin/viewer; 404s; validation', async () => {
  const site = (await websitesInOrder(service, key, 1, 'patchsite'))[0];
  const email = uniqueEmail('patchee');
  const userId = await addDirect(service, key, email, [site.id]);
  const path = `/api/v1/websites/${site.id}/members/${userId}`;

  const changed = await call(service, 'PATCH', path, { key, body: { role: 'admin' } });
  assertKeys(changed, ['member']);
  assertKeys(changed.member, MEMBER_KEYS);
  assert.equal(changed.member.role, 'admin');
  assert.equal(changed.member.access_type, 'website');
  assert.equal(changed.member.user_id, userId);
  assert.deepEqual(await call(service, 'PATCH', path, { key, body: { role: 'admin' } }), changed, 'same role again: unchanged');

  const before = tableCounts(service);
  await expectError(service, 'PATCH', path, { key, body: { role: 'owner' } }, 400, 'validation_error', { exactFields: ['role'] });
  await expectError(service, 'PATCH', path, { key, body: {} }, 400, 'validation_error', { exactFields: ['role'] });
  await expectError(service, 'PATCH', path, { key, body: { role: null } }, 400, 'validation_error', { exactFields: ['role'] });
  await expectError(service, 'PATCH', path, { key, body: { role: 'admin', note: 'x' } }, 400, 'validation_error', { exactFields: ['note'] });
  await expectError(service, 'PATCH', path, { key, raw: 'role=admin', headers: { 'content-type': 'application/x-www-form-urlencoded' } }, 415, 'unsupported_media_type');
  // The owner reaches the website through the organization only: not a direct member here.
  let body = await expectError(service, 'PATCH', `/api/v1/websites/${site.id}/members/${org.owner_user_id}`, { key, body: { role: 'viewer' } }, 404, 'not_found');
  assert.equal(body.error, 'Member not found');
  await expectError(service, 'PATCH', `/api/v1/websites/${site.id}/members/${newId()}`, { key, body: { role: 'viewer' } }, 404, 'not_found');
  await expectError(service, 'PATCH', `/api/v1/websites/${site.id}/members/not-a-uuid`, { key, body: { role: 'viewer' } }, 404, 'not_found');
  await expectError(service, 'PATCH', `/api/v1/websites/${newId()}/members/${userId}`, { key, body: { role: 'viewer' } }, 404, 'not_found');
  assert.deepEqual(tableCounts(service), before);

  assert.deepEqual(await call(service, 'DELETE', path, { key }), { success: true });
  body = await expectError(service, 'DELETE', path, { key }, 404, 'not_found');
  assert.equal(body.error, 'Member not found');
  const list = await call(service, 'GET', `/api/v1/websites/${site.id}/members`, { key });
  assert.ok(!list.members.some((m) => m.user_id === userId));
  await expectError(service, 'GET', `/api/v1/users/${userId}/websites`, { key }, 404, 'not_found');
});

test('PATCH and DELETE group members', async () => {
  const group = await createGroup(service, key, 'Member ops', [sites[0].id]);
  const userId = await addDirect(service, key, uniqueEmail('gm'), [group.id], { kind: 'group' });
  const path = `/api/v1/groups/${group.id}/members/${userId}`;
  const changed = await call(service, 'PATCH', path, { key, body: { role: 'admin' } });
  assert.equal(changed.member.role, 'admin');
  assert.equal(changed.member.access_type, 'group');
  await expectError(service, 'PATCH', path, { key, body: { role: 'owner' } }, 400, 'validation_error', { exactFields: ['role'] });
  await expectError(service, 'PATCH', `/api/v1/groups/${newId()}/members/${userId}`, { key, body: { role: 'viewer' } }, 404, 'not_found');
  await expectError(service, 'PATCH', `/api/v1/groups/${group.id}/members/${newId()}`, { key, body: { role: 'viewer' } }, 404, 'not_found');
  assert.deepEqual(await call(service, 'DELETE', path, { key }), { success: true });
  await expectError(service, 'DELETE', path, { key }, 404, 'not_found');
  assert.equal((await call(service, 'GET', `/api/v1/groups/${group.id}/members`, { key })).total, 0);
});

test('organization members: list, promote, demote; the last owner can be neither demoted nor removed (409)', async () => {
  // A fresh organization, so the member count is known.
  const ownerOfB = uniqueEmail('solo-owner');
  const b = service.createOrg('Owners Ltd', ownerOfB);
  const bKey = b.api_key;
  const ownerPath = `/api/v1/organizations/members/${b.owner_user_id}`;
  const before = tableCounts(service);
  let body = await expectError(service, 'PATCH', ownerPath, { key: bKey, body: { role: 'admin' } }, 409, 'conflict');
  assert.match(body.error, /last owner/);
  await expectError(service, 'PATCH', ownerPath, { key: bKey, body: { role: 'viewer' } }, 409, 'conflict');
  body = await expectError(service, 'DELETE', ownerPath, { key: bKey }, 409, 'conflict');
  assert.match(body.error, /last owner/);
  assert.deepEqual(tableCounts(service), before, 'refused changes write nothing');
  assert.equal((await call(service, 'PATCH', ownerPath, { key: bKey, body: { role: 'owner' } })).member.role, 'owner', 'an owner may stay owner');

  const secondEmail = uniqueEmail('second');
  const second = await call(service, 'POST', '/api/v1/invites', { key: bKey, body: { type: 'organization', invite_method: 'direct', email: secondEmail, role: 'admin' } });
  const list = await call(service, 'GET', '/api/v1/organizations/members', { key: bKey });
  assert.equal(list.total, 2);
  assert.deepEqual(list.members.map((m) => [m.user_id, m.role, m.access_type]), [
    [b.owner_user_id, 'owner', 'organization'], [second.user_id, 'admin', 'organization'],
  ]);
  await assertPagination(service, bKey, '/api/v1/organizations/members', 'members', 2);

  // Promote the second to owner: now the first may step down, and the second is the last owner.
  const promoted = await call(service, 'PATCH', `/api/v1/organizations/members/${second.user_id}`, { key: bKey, body: { role: 'owner' } });
  assert.deepEqual({ ...promoted.member, created_at: undefined }, {
    user_id: second.user_id, email: secondEmail, first_name: null, last_name: null, email_verified: false, role: 'owner', access_type: 'organization', created_at: undefined,
  });
  assert.equal((await call(service, 'PATCH', ownerPath, { key: bKey, body: { role: 'viewer' } })).member.role, 'viewer');
  await expectError(service, 'PATCH', `/api/v1/organizations/members/${second.user_id}`, { key: bKey, body: { role: 'admin' } }, 409, 'conflict');
  await expectError(service, 'DELETE', `/api/v1/organizations/members/${second.user_id}`, { key: bKey }, 409, 'conflict');
  assert.deepEqual(await call(service, 'DELETE', ownerPath, { key: bKey }), { success: true }, 'a non-owner can be removed');
  await expectError(service, 'DELETE', ownerPath, { key: bKey }, 404, 'not_found');
  const after = await call(service, 'GET', '/api/v1/organizations/members', { key: bKey });
  assert.deepEqual(after.members.map((m) => [m.user_id, m.role]), [[second.user_id, 'owner']]);

  await expectError(service, 'PATCH', `/api/v1/organizations/members/${second.user_id}`, { key: bKey, body: { role: 'boss' } }, 400, 'validation_error', { exactFields: ['role'] });
  await expectError(service, 'PATCH', `/api/v1/organizations/members/${newId()}`, { key: bKey, body: { role: 'admin' } }, 404, 'not_found');
  await expectError(service, 'DELETE', `/api/v1/organizations/members/${newId()}`, { key: bKey }, 404, 'not_found');
});

test('organization members need a global key (403 global_key_required)', async () => {
  const scoped = service.createKey(org.org_id, [sites[0].id], 'scoped').api_key;
  const before = tableCounts(service);
  await expectError(service, 'GET', '/api/v1/organizations/members', { key: scoped }, 403, 'global_key_required');
  await expectError(service, 'PATCH', `/api/v1/organizations/members/${org.owner_user_id}`, { key: scoped, body: { role: 'owner' } }, 403, 'global_key_required');
  await expectError(service, 'DELETE', `/api/v1/organizations/members/${org.owner_user_id}`, { key: scoped }, 403, 'global_key_required');
  await expectError(service, 'GET', `/api/v1/users/${org.owner_user_id}/websites`, { key: scoped }, 403, 'global_key_required');
  assert.deepEqual(tableCounts(service), before);
});

test('GET /api/v1/users/{id}/websites: what the user reaches here, strongest role and how; 404 without access', async () => {
  const email = uniqueEmail('reach');
  const group = await createGroup(service, key, 'Reach group', [sites[1].id, sites[2].id]);
  const userId = await addDirect(service, key, email, [sites[0].id, sites[1].id], { role: 'viewer' });
  await addDirect(service, key, email, [group.id], { kind: 'group', role: 'admin' });
  const reach = await call(service, 'GET', `/api/v1/users/${userId}/websites`, { key });
  assertKeys(reach, ['websites', 'page_num', 'page_size', 'total']);
  assert.deepEqual(reach.websites, [
    { website_id: sites[0].id, url: sites[0].url, name: sites[0].name, role: 'viewer', access_type: 'website' },
    { website_id: sites[1].id, url: sites[1].url, name: sites[1].name, role: 'admin', access_type: 'group' },
    { website_id: sites[2].id, url: sites[2].url, name: sites[2].name, role: 'admin', access_type: 'group' },
  ]);
  await assertPagination(service, key, `/api/v1/users/${userId}/websites`, 'websites', 3);

  // The owner reaches every live website of the organization as owner.
  const owner = await call(service, 'GET', `/api/v1/users/${org.owner_user_id}/websites?page_size=100`, { key });
  const live = await call(service, 'GET', '/api/v1/websites?page_size=100', { key });
  assert.equal(owner.total, live.total);
  assert.ok(owner.websites.every((w) => w.role === 'owner' && w.access_type === 'organization'));

  // Unknown, malformed, and a real user with nothing in this organization all answer 404.
  const other = service.createOrg('Elsewhere', uniqueEmail('elsewhere-owner'));
  for (const id of [newId(), other.owner_user_id]) {
    const body = await expectError(service, 'GET', `/api/v1/users/${id}/websites`, { key }, 404, 'not_found');
    assert.equal(body.error, 'User not found');
  }
  // A malformed id is no route at all.
  assert.match((await expectError(service, 'GET', '/api/v1/users/nope/websites', { key }, 404, 'not_found')).error, /no route/);
});
