// Groups (SPEC §5): create, list with pagination, get, PATCH (rename, add and remove
// websites; already present ids ignored), delete (a second delete is 404); global keys only.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startService } from '../support/service.mjs';
import { GENEROUS_LIMITS, TIMESTAMP_RE, UUID_RE, assertKeys, newId, tableCounts, uniqueEmail } from '../support/assertions.mjs';
import { addDirect, assertPagination, call, createGroup, expectError, websitesInOrder } from '../support/assertions.mjs';

let service;
let org;
let key;
let sites;

before(async () => {
  service = await startService({ args: GENEROUS_LIMITS });
  org = service.createOrg('Groups Inc');
  key = org.api_key;
  sites = await websitesInOrder(service, key, 5, 'grp');
});

after(async () => {
  if (service) assert.equal(await service.stop(), 0);
});

test('POST /api/v1/groups: 201 with the group; website_ids optional; every field error listed; nothing written on error', async () => {
  const created = await call(service, 'POST', '/api/v1/groups', { key, status: 201, body: { name: 'Storefronts', website_ids: [sites[1].id, sites[0].id] } });
  assertKeys(created, ['group']);
  assertKeys(created.group, ['id', 'name', 'org_id', 'website_ids', 'created_at']);
  assert.match(created.group.id, UUID_RE);
  assert.match(created.group.created_at, TIMESTAMP_RE);
  assert.equal(created.group.org_id, org.org_id);
  assert.equal(created.group.name, 'Storefronts');
  assert.deepEqual(new Set(created.group.website_ids), new Set([sites[0].id, sites[1].id]));
  assert.deepEqual(await call(service, 'GET', `/api/v1/groups/${created.group.id}`, { key }), created);

  const empty = await call(service, 'POST', '/api/v1/groups', { key, status: 201, body: { name: 'Empty' } });
  assert.deepEqual(empty.group.website_ids, []);
  const nulls = await call(service, 'POST', '/api/v1/groups', { key, status: 201, body: { name: 'Nulls', website_ids: null } });
  assert.deepEqual(nulls.group.website_ids, []);

  const other = service.createOrg('Elsewhere');
  const [foreign] = await websitesInOrder(service, other.api_key, 1, 'elsewhere');
  const before = tableCounts(service);
  await expectError(service, 'POST', '/api/v1/groups', { key, body: {} }, 400, 'validation_error', { exactFields: ['name'] });
  await expectError(service, 'POST', '/api/v1/groups', { key, body: { name: 'Left\u202eright' } }, 400, 'validation_error', { exactFields: ['name'] });
  await expectError(service, 'PATCH', `/api/v1/groups/${created.group.id}`, { key, body: { name: 'Para\u2029graph' } }, 400, 'validation_error', { exactFields: ['name'] });
  await expectError(service, 'POST', '/api/v1/groups', { key, body: { name: '', website_ids: 'x', colour: 1 } }, 400, 'validation_error', {
    exactFields: ['name', 'website_ids', 'colour'],
  });
  await expectError(service, 'POST', '/api/v1/groups', { key, body: { name: 'Dup', website_ids: [sites[0].id, sites[0].id, 'bad'] } }, 400, 'validation_error', {
    exactFields: ['website_ids[1]', 'website_ids[2]'],
  });
  await expectError(service, 'POST', '/api/v1/groups', { key, body: { name: 'Unknown', website_ids: [sites[0].id, newId()] } }, 400, 'validation_error', {
    exactFields: ['website_ids[1]'],
  });
  await expectError(service, 'POST', '/api/v1/groups', { key, body: { name: 'Foreign', website_ids: [foreign.id] } }, 400, 'validation_error', {
    exactFields: ['website_ids[0]'],
  });
  await expectError(service, 'GET', `/api/v1/groups/${created.group.id}`, { key: other.api_key }, 404, 'not_found');
  assert.deepEqual(tableCounts(service), before);
});

test('GET /api/v1/groups: pagination edges, oldest first', async () => {
  const list = await call(service, 'GET', '/api/v1/groups?page_size=100', { key });
  assert.ok(list.total >= 1);
  await assertPagination(service, key, '/api/v1/groups', 'groups', list.total);
  const added = await createGroup(service, key, 'Newest');
  const after = await call(service, 'GET', '/api/v1/groups?page_size=100', { key });
  assert.equal(after.total, list.total + 1);
  assert.deepEqual(after.groups.at(-1), added);
});

test('PATCH /api/v1/groups/{id}: rename, add (present ids ignored), remove (absent ids ignored), empty patch', async () => {
  const group = await createGroup(service, key, 'Patch me', [sites[0].id, sites[1].id]);
  const renamed = await call(service, 'PATCH', `/api/v1/groups/${group.id}`, { key, body: { name: 'Patched' } });
  assert.deepEqual(renamed, { group: { ...group, name: 'Patched' } });

  // sites[0] is already in the group: ignored, no error, no duplicate.
  const added = await call(service, 'PATCH', `/api/v1/groups/${group.id}`, { key, body: { add_website_ids: [sites[0].id, sites[2].id] } });
  assert.deepEqual(added.group.website_ids, [sites[0].id, sites[1].id, sites[2].id]);
  const addedAgain = await call(service, 'PATCH', `/api/v1/groups/${group.id}`, { key, body: { add_website_ids: [sites[2].id, sites[1].id] } });
  assert.deepEqual(addedAgain, added);

  const removed = await call(service, 'PATCH', `/api/v1/groups/${group.id}`, { key, body: { remove_website_ids: [sites[1].id, sites[4].id] } });
  assert.deepEqual(removed.group.website_ids, [sites[0].id, sites[2].id]);
  const both = await call(service, 'PATCH', `/api/v1/groups/${group.id}`, { key, body: { name: 'Both', add_website_ids: [sites[3].id], remove_website_ids: [sites[0].id] } });
  assert.deepEqual(both.group, { ...group, name: 'Both', website_ids: [sites[2].id, sites[3].id] });
  assert.deepEqual(await call(service, 'PATCH', `/api/v1/groups/${group.id}`, { key, body: {} }), both);
  assert.deepEqual(await call(service, 'GET', `/api/v1/groups/${group.id}`, { key }), both);

  const before = tableCounts(service);
  await expectError(service, 'PATCH', `/api/v1/groups/${group.id}`, { key, body: { add_website_ids: [sites[0].id], remove_website_ids: [sites[0].id] } }, 400, 'validation_error', {
    exactFields: ['remove_website_ids[0]'],
  });
  await expectError(service, 'PATCH', `/api/v1/groups/${group.id}`, { key, body: { name: 7, website_ids: [] } }, 400, 'validation_error', {
    exactFields: ['name', 'website_ids'],
  });
  await expectError(service, 'PATCH', `/api/v1/groups/${group.id}`, { key, body: { name: 'Renamed', add_website_ids: [newId()] } }, 400, 'validation_error', {
    exactFields: ['add_website_ids[0]'],
  });
  assert.deepEqual(await call(service, 'GET', `/api/v1/groups/${group.id}`, { key }), both, 'a rejected patch changes nothing, not even the name');
  await expectError(service, 'PATCH', `/api/v1/groups/${newId()}`, { key, body: { name: 'x' } }, 404, 'not_found');
  await expectError(service, 'PATCH', '/api/v1/groups/nope', { key, body: { name: 'x' } }, 404, 'not_found');
  assert.deepEqual(tableCounts(service), before);
});

test('DELETE /api/v1/groups/{id}: {success: true}; then 404 everywhere, a second delete too; members lose the access', async () => {
  const group = await createGroup(service, key, 'Short-lived', [sites[4].id]);
  const email = uniqueEmail('grouped');
  const userId = await addDirect(service, key, email, [group.id], { kind: 'group' });
  const reach = await call(service, 'GET', `/api/v1/users/${userId}/websites`, { key });
  assert.deepEqual(reach.websites.map((w) => [w.website_id, w.access_type]), [[sites[4].id, 'group']]);
  const listed = await call(service, 'GET', '/api/v1/groups?page_size=100', { key });

  assert.deepEqual(await call(service, 'DELETE', `/api/v1/groups/${group.id}`, { key }), { success: true });
  const body = await expectError(service, 'DELETE', `/api/v1/groups/${group.id}`, { key }, 404, 'not_found');
  assert.equal(body.error, 'Group not found');
  await expectError(service, 'GET', `/api/v1/groups/${group.id}`, { key }, 404, 'not_found');
  await expectError(service, 'PATCH', `/api/v1/groups/${group.id}`, { key, body: { name: 'zombie' } }, 404, 'not_found');
  await expectError(service, 'GET', `/api/v1/groups/${group.id}/members`, { key }, 404, 'not_found');
  const after = await call(service, 'GET', '/api/v1/groups?page_size=100', { key });
  assert.equal(after.total, listed.total - 1);
  assert.ok(!after.groups.some((g) => g.id === group.id));
  const websiteMembers = await call(service, 'GET', `/api/v1/websites/${sites[4].id}/members?page_size=100`, { key });
  assert.ok(!websiteMembers.members.some((m) => m.user_id === userId), 'the group no longer gives access');
  const bulk = await call(service, 'POST', '/api/v1/invites/bulk', { key, body: { invite_method: 'direct', email: uniqueEmail('x'), group_ids: [group.id] } });
  assert.deepEqual(bulk.results, [{ group_id: group.id, success: false, error: 'Group not found' }]);
});

test('groups need a global key: a scoped key gets 403 global_key_required on every group route and writes nothing', async () => {
  const group = await createGroup(service, key, 'Not for scoped keys', [sites[0].id]);
  const scoped = service.createKey(org.org_id, [sites[0].id], 'scoped').api_key;
  const before = tableCounts(service);
  await expectError(service, 'POST', '/api/v1/groups', { key: scoped, body: { name: 'x' } }, 403, 'global_key_required');
  await expectError(service, 'GET', '/api/v1/groups', { key: scoped }, 403, 'global_key_required');
  await expectError(service, 'GET', `/api/v1/groups/${group.id}`, { key: scoped }, 403, 'global_key_required');
  await expectError(service, 'PATCH', `/api/v1/groups/${group.id}`, { key: scoped, body: { name: 'x' } }, 403, 'global_key_required');
  await expectError(service, 'DELETE', `/api/v1/groups/${group.id}`, { key: scoped }, 403, 'global_key_required');
  await expectError(service, 'GET', `/api/v1/groups/${group.id}/members`, { key: scoped }, 403, 'global_key_required');
  await expectError(service, 'PATCH', `/api/v1/groups/${group.id}/members/${newId()}`, { key: scoped, body: { role: 'admin' } }, 403, 'global_key_required');
  await expectError(service, 'DELETE', `/api/v1/groups/${group.id}/members/${newId()}`, { key: scoped }, 403, 'global_key_required');
  assert.deepEqual(tableCounts(service), before);
  assert.deepEqual(await call(service, 'GET', `/api/v1/groups/${group.id}`, { key }), { group });
});
