// Websites (SPEC §5): create, list and get with pagination, soft delete (idempotent) and
// restore; a deleted website is hidden from lists, gets and member lists and cannot be invited
// to, and a restore brings it back with its memberships.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startService } from '../support/service.mjs';
import { GENEROUS_LIMITS, TIMESTAMP_RE, UUID_RE, assertKeys, tableCounts, uniqueEmail, newId } from '../support/assertions.mjs';
import { addDirect, assertPagination, call, createGroup, expectError, inviteByEmail, websitesInOrder } from '../support/assertions.mjs';

let service;
let org;
let key;
let sites;
let foreignSite; // a website of another organization

before(async () => {
  service = await startService({ args: GENEROUS_LIMITS });
  org = service.createOrg('Websites Inc', uniqueEmail('owner'));
  key = org.api_key;
  sites = await websitesInOrder(service, key, 4, 'web');
  const other = service.createOrg('Elsewhere');
  [foreignSite] = await websitesInOrder(service, other.api_key, 1, 'elsewhere');
});

after(async () => {
  if (service) assert.equal(await service.stop(), 0);
});

test('POST /api/v1/websites: 201 with the website; name defaults to the host; validation lists every field', async () => {
  const created = await call(service, 'POST', '/api/v1/websites', { key, status: 201, body: { url: 'HTTPS://Upper.Example.com:8443/path?q=1' } });
  assertKeys(created, ['website']);
  assertKeys(created.website, ['id', 'url', 'name', 'org_id', 'created_at']);
  assert.match(created.website.id, UUID_RE);
  assert.match(created.website.created_at, TIMESTAMP_RE);
  assert.equal(created.website.org_id, org.org_id);
  assert.equal(created.website.url, 'HTTPS://Upper.Example.com:8443/path?q=1');
  assert.equal(created.website.name, 'Upper.Example.com');
  assert.deepEqual(await call(service, 'GET', `/api/v1/websites/${created.website.id}`, { key }), created);
  // Clean up so the list below keeps its known size.
  await call(service, 'DELETE', `/api/v1/websites/${created.website.id}`, { key });

  const before = tableCounts(service);
  const body = await expectError(service, 'POST', '/api/v1/websites', { key, body: { url: 'ftp://x.example', name: '', extra: 1 } }, 400, 'validation_error', {
    exactFields: ['url', 'name', 'extra'],
  });
  // The sentence joins every field message with "; ".
  assert.equal(body.error, body.details.map((d) => `${d.field} ${d.message}`).join('; '));
  await expectError(service, 'POST', '/api/v1/websites', { key, body: { name: 'x' } }, 400, 'validation_error', { exactFields: ['url'] });
  await expectError(service, 'POST', '/api/v1/websites', { key, body: { url: 'https://x.example', name: 'x'.repeat(201) } }, 400, 'validation_error', { exactFields: ['name'] });
  for (const char of ['\u202e', '\u2067', '\u2028']) {
    await expectError(service, 'POST', '/api/v1/websites', { key, body: { url: 'https://x.example', name: `Shop${char}` } }, 400, 'validation_error', { exactFields: ['name'] });
  }
  await expectError(service, 'POST', '/api/v1/websites', { key, body: { url: `https://x.example/${'a'.repeat(2048)}` } }, 400, 'validation_error', { exactFields: ['url'] });
  await expectError(service, 'POST', '/api/v1/websites', { key, body: { url: 42 } }, 400, 'validation_error', { exactFields: ['url'] });
  assert.deepEqual(tableCounts(service), before, 'a rejected create writes nothing');
});

test('GET /api/v1/websites: pagination edges (1, 100, 101, past the end) and oldest first', async () => {
  await assertPagination(service, key, '/api/v1/websites', 'websites', sites.length);
  const list = await call(service, 'GET', '/api/v1/websites', { key });
  assert.deepEqual(list.websites.map((w) => w.id), sites.map((s) => s.id));
  assert.deepEqual(list.websites, sites);
});

test('GET /api/v1/websites/{id}: 404 for unknown, malformed and foreign ids', async () => {
  assert.deepEqual(await call(service, 'GET', `/api/v1/websites/${sites[0].id}`, { key }), { website: sites[0] });
  assert.deepEqual(await call(service, 'GET', `/api/v1/websites/${sites[0].id.toUpperCase()}`, { key }), { website: sites[0] });
  for (const id of [newId(), foreignSite.id]) {
    const body = await expectError(service, 'GET', `/api/v1/websites/${id}`, { key }, 404, 'not_found');
    assert.equal(body.error, 'Website not found');
  }
  // A malformed id names no resource: no route (before the key is even checked).
  const malformed = ['not-a-uuid', `${sites[0].id}0`, sites[0].id.slice(0, 35), sites[0].id.replaceAll('-', '')];
  for (const id of malformed) {
    const body = await expectError(service, 'GET', `/api/v1/websites/${encodeURIComponent(id)}`, {}, 404, 'not_found');
    assert.match(body.error, /no route/);
  }
});

test('GET /api/v1/websites and /websites/{id}/members see only this organization', async () => {
  const list = await call(service, 'GET', '/api/v1/websites?page_size=100', { key });
  assert.ok(!list.websites.some((w) => w.id === foreignSite.id), 'a foreign website in the list');
  for (const id of [newId(), foreignSite.id, 'nope']) {
    await expectError(service, 'GET', `/api/v1/websites/${id}/members`, { key }, 404, 'not_found');
  }
  await expectError(service, 'GET', `/api/v1/websites/${sites[0].id}/members?page_size=0`, { key }, 400, 'validation_error', { exactFields: ['page_size'] });
});

test('DELETE is a soft, idempotent delete; the website leaves lists, gets, member lists and invites; restore brings it all back', async () => {
  const [site] = await websitesInOrder(service, key, 1, 'doomed');
  const email = uniqueEmail('member');
  const userId = await addDirect(service, key, email, [site.id]);
  const group = await createGroup(service, key, 'Holds the doomed site', [site.id, sites[0].id]);
  const listedBefore = await call(service, 'GET', '/api/v1/websites?page_size=100', { key });
  assert.ok(listedBefore.websites.some((w) => w.id === site.id));

  const deleted = await call(service, 'DELETE', `/api/v1/websites/${site.id}`, { key });
  assertKeys(deleted, ['success', 'website']);
  assert.equal(deleted.success, true);
  assertKeys(deleted.website, ['id', 'url', 'name', 'org_id', 'created_at', 'deleted_at']);
  assert.match(deleted.website.deleted_at, TIMESTAMP_RE);
  assert.deepEqual({ ...deleted.website, deleted_at: undefined }, { ...site, deleted_at: undefined });

  // Idempotent: the second delete answers 200 with the first deleted_at.
  const again = await call(service, 'DELETE', `/api/v1/websites/${site.id}`, { key });
  assert.deepEqual(again, deleted);

  const listed = await call(service, 'GET', '/api/v1/websites?page_size=100', { key });
  assert.equal(listed.total, listedBefore.total - 1);
  assert.ok(!listed.websites.some((w) => w.id === site.id), 'hidden from the list');
  await expectError(service, 'GET', `/api/v1/websites/${site.id}`, { key }, 404, 'not_found');
  await expectError(service, 'GET', `/api/v1/websites/${site.id}/members`, { key }, 404, 'not_found');
  await expectError(service, 'PATCH', `/api/v1/websites/${site.id}/members/${userId}`, { key, body: { role: 'admin' } }, 404, 'not_found');
  assert.deepEqual((await call(service, 'GET', `/api/v1/groups/${group.id}`, { key })).group.website_ids, [sites[0].id]);
  const userSites = await call(service, 'GET', `/api/v1/users/${userId}/websites`, { key });
  assert.deepEqual(userSites.websites, []);

  // Cannot be invited to: bulk (direct and email) says "Website not found" for it, and writes nothing for it.
  const before = tableCounts(service);
  for (const method of ['direct', 'email']) {
    const bulk = await call(service, 'POST', '/api/v1/invites/bulk', { key, body: { invite_method: method, email: uniqueEmail('late'), website_ids: [site.id] } });
    assert.deepEqual(bulk, { success: true, results: [{ website_id: site.id, success: false, error: 'Website not found' }] });
  }
  await expectError(service, 'POST', '/api/v1/invites', { key, body: { type: 'website', website_id: site.id, invite_method: 'email', email: uniqueEmail('late') } }, 404, 'not_found');
  assert.deepEqual(tableCounts(service), before);
  // A group cannot take it either.
  await expectError(service, 'PATCH', `/api/v1/groups/${group.id}`, { key, body: { add_website_ids: [site.id] } }, 400, 'validation_error', { exactFields: ['add_website_ids[0]'] });

  const restored = await call(service, 'POST', `/api/v1/websites/${site.id}/restore`, { key });
  assert.deepEqual(restored, { success: true, website: { ...site, deleted_at: null } });
  assert.deepEqual(await call(service, 'POST', `/api/v1/websites/${site.id}/restore`, { key }), restored, 'restore is idempotent');
  assert.deepEqual(await call(service, 'GET', `/api/v1/websites/${site.id}`, { key }), { website: site });
  const relisted = await call(service, 'GET', '/api/v1/websites?page_size=100', { key });
  assert.equal(relisted.total, listedBefore.total);
  assert.deepEqual(relisted.websites, listedBefore.websites);
  const members = await call(service, 'GET', `/api/v1/websites/${site.id}/members`, { key });
  assert.ok(members.members.some((m) => m.user_id === userId && m.access_type === 'website'), 'memberships come back');
  assert.deepEqual((await call(service, 'GET', `/api/v1/groups/${group.id}`, { key })).group.website_ids, [sites[0].id, site.id], 'back in its group');
  // And it can be invited to again.
  const invited = await inviteByEmail(service, key, uniqueEmail('again'), [site.id]);
  assert.equal(invited.length, 1);
});

test('DELETE and restore of unknown, malformed or foreign websites are 404 and write nothing', async () => {
  const other = service.createOrg('Other');
  const [foreign] = await websitesInOrder(service, other.api_key, 1, 'foreign');
  const before = tableCounts(service);
  for (const id of [newId(), 'nope', foreign.id]) {
    await expectError(service, 'DELETE', `/api/v1/websites/${id}`, { key }, 404, 'not_found');
    await expectError(service, 'POST', `/api/v1/websites/${id}/restore`, { key }, 404, 'not_found');
  }
  assert.deepEqual(tableCounts(service), before);
  assert.deepEqual(await call(service, 'GET', `/api/v1/websites/${foreign.id}`, { key: other.api_key }), { website: foreign });
});

test('a scoped key may list and get its websites but not create, delete or restore (403 global_key_required)', async () => {
  const scoped = service.createKey(org.org_id, [sites[1].id, sites[2].id], 'scoped').api_key;
  const list = await call(service, 'GET', '/api/v1/websites', { key: scoped });
  assert.deepEqual(list.websites, [sites[1], sites[2]]);
  assert.equal(list.total, 2);
  await assertPagination(service, scoped, '/api/v1/websites', 'websites', 2);
  assert.deepEqual(await call(service, 'GET', `/api/v1/websites/${sites[1].id}`, { key: scoped }), { website: sites[1] });
  await expectError(service, 'GET', `/api/v1/websites/${sites[0].id}`, { key: scoped }, 404, 'not_found');
  await expectError(service, 'GET', `/api/v1/websites/${sites[0].id}/members`, { key: scoped }, 404, 'not_found');
  const before = tableCounts(service);
  await expectError(service, 'POST', '/api/v1/websites', { key: scoped, body: { url: 'https://scoped.example' } }, 403, 'global_key_required');
  await expectError(service, 'DELETE', `/api/v1/websites/${sites[1].id}`, { key: scoped }, 403, 'global_key_required');
  await expectError(service, 'POST', `/api/v1/websites/${sites[1].id}/restore`, { key: scoped }, 403, 'global_key_required');
  assert.deepEqual(tableCounts(service), before);
});
