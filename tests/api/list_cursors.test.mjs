// The cursor form of every list (SPEC §5): `limit` and `starting_after` answer
// {"<items>": [...], "has_more"}; pages of limit 1 cover the list once in the list's order (the
// page form's order too), ids stay stable while items are added during a walk, limit bounds,
// mixing the forms, malformed, unknown and foreign cursors are 400 validation_error naming the
// parameter, and a scoped key sees (and may name as a cursor) only its allowlist.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startService } from '../support/service.mjs';
import { MAIL_TIMEOUT_MS, GENEROUS_LIMITS, assertKeys, newId, uniqueEmail, waitFor } from '../support/assertions.mjs';
import {
  addDirect, assertCursorPagination, call, createGroup, createKeyViaApi, expectError, inviteByEmail, websitesInOrder,
} from '../support/assertions.mjs';

let service;
// Another organization, whose items must never place a cursor in the first one's lists.
let other;

before(async () => {
  service = await startService({ args: GENEROUS_LIMITS });
  const org = service.createOrg('Other Inc', uniqueEmail('other-owner'));
  const [site] = await websitesInOrder(service, org.api_key, 1, 'other');
  const group = await createGroup(service, org.api_key, 'Other group', [site.id]);
  const userId = await addDirect(service, org.api_key, uniqueEmail('other-member'), [site.id]);
  const [inviteId] = await inviteByEmail(service, org.api_key, uniqueEmail('other-invitee'), [site.id]);
  const keyId = (await createKeyViaApi(service, org.api_key, 'other key')).key_id;
  other = { site, group, userId, inviteId, keyId };
});

after(async () => {
  if (service) assert.equal(await service.stop(), 0);
});

function freshOrg(name) {
  const ownerEmail = uniqueEmail('owner');
  const org = service.createOrg(name, ownerEmail);
  return { ...org, key: org.api_key };
}

const idsOf = (items, field) => items.map((item) => item[field]);

// Walks `path` with limit 2 and calls `add()` (which creates one item and returns its id) after
// each of the first two pages. Every item present at the start is seen exactly once, in order;
// items added during the walk come after them (ascending lists) or not at all (newest first).
async function walkWhileAdding(key, path, itemsName, field, expectedIds, add, { newestFirst = false } = {}) {
  const sep = path.includes('?') ? '&' : '?';
  const seen = [];
  const added = [];
  let cursor;
  for (let page = 0; page < 100; page++) {
    const body = await call(service, 'GET', `${path}${sep}limit=2${cursor ? `&starting_after=${cursor}` : ''}`, { key });
    seen.push(...idsOf(body[itemsName], field));
    if (page < 2) added.push(await add());
    if (!body.has_more) break;
    cursor = body[itemsName].at(-1)[field];
  }
  assert.equal(new Set(seen).size, seen.length, `${path}: an item was seen twice: ${seen}`);
  assert.deepEqual(seen, newestFirst ? expectedIds : [...expectedIds, ...added], `${path}: walk while adding`);
}

test('websites: cursor pages in creation order; a deleted website still works as a cursor; other organizations\' ids are refused', async () => {
  const org = freshOrg('Cursor Websites');
  const sites = await websitesInOrder(service, org.key, 5, 'cw');
  const ids = idsOf(sites, 'id');
  const items = await assertCursorPagination(service, org.key, '/api/v1/websites', 'websites', 'id', ids);
  assert.deepEqual(items, sites);

  await expectError(service, 'GET', `/api/v1/websites?starting_after=${other.site.id}`, { key: org.key }, 400, 'validation_error', {
    exactFields: ['starting_after'],
  });
  // The website a client saw last is deleted before it asks for the next page.
  await call(service, 'DELETE', `/api/v1/websites/${sites[1].id}`, { key: org.key });
  const next = await call(service, 'GET', `/api/v1/websites?limit=2&starting_after=${sites[1].id}`, { key: org.key });
  assert.deepEqual(next, { websites: [sites[2], sites[3]], has_more: true });
  await call(service, 'POST', `/api/v1/websites/${sites[1].id}/restore`, { key: org.key });

  await walkWhileAdding(org.key, '/api/v1/websites', 'websites', 'id', ids, async () => (await service.createWebsite(org.key, 'https://added.example.com')).id);
});

test('websites with a scoped key: only the allowlist, and a cursor outside it is refused', async () => {
  const org = freshOrg('Cursor Scoped');
  const sites = await websitesInOrder(service, org.key, 5, 'cs');
  const scoped = service.createKey(org.org_id, [sites[3].id, sites[1].id, sites[4].id], 'scoped').api_key;
  await assertCursorPagination(service, scoped, '/api/v1/websites', 'websites', 'id', [sites[1].id, sites[3].id, sites[4].id]);
  await expectError(service, 'GET', `/api/v1/websites?limit=1&starting_after=${sites[2].id}`, { key: scoped }, 400, 'validation_error', {
    exactFields: ['starting_after'],
  });
  // The scoped key's member lists and invites are cursor-paged within the allowlist too.
  const [inside] = await inviteByEmail(service, org.key, uniqueEmail('in'), [sites[3].id]);
  const [outside] = await inviteByEmail(service, org.key, uniqueEmail('out'), [sites[2].id]);
  const invites = await call(service, 'GET', '/api/v1/invites?limit=100', { key: scoped });
  assert.deepEqual(idsOf(invites.invites, 'id'), [inside]);
  await expectError(service, 'GET', `/api/v1/invites?limit=1&starting_after=${outside}`, { key: scoped }, 400, 'validation_error', {
    exactFields: ['starting_after'],
  });
  await call(service, 'GET', `/api/v1/invites?limit=1&starting_after=${inside}`, { key: scoped });
  await expectError(service, 'GET', `/api/v1/websites/${sites[2].id}/members?limit=1`, { key: scoped }, 404, 'not_found');
});

test('groups: cursor pages in creation order', async () => {
  const org = freshOrg('Cursor Groups');
  const [site] = await websitesInOrder(service, org.key, 1, 'cg');
  const groups = [];
  for (let i = 0; i < 4; i++) groups.push(await createGroup(service, org.key, `Group ${i}`, [site.id]));
  const ids = idsOf(groups, 'id');
  const items = await assertCursorPagination(service, org.key, '/api/v1/groups', 'groups', 'id', ids);
  assert.deepEqual(items, groups);
  await expectError(service, 'GET', `/api/v1/groups?starting_after=${other.group.id}`, { key: org.key }, 400, 'validation_error', {
    exactFields: ['starting_after'],
  });
  const scoped = service.createKey(org.org_id, [site.id]).api_key;
  await expectError(service, 'GET', '/api/v1/groups?limit=1', { key: scoped }, 403, 'global_key_required');
  await walkWhileAdding(org.key, '/api/v1/groups', 'groups', 'id', ids, async () => (await createGroup(service, org.key, 'Added', [])).id);
});

test('website members: each person once, by when they gained access, through the website, a group or the organization', async () => {
  const org = freshOrg('Cursor Members');
  const [site, otherSite] = await websitesInOrder(service, org.key, 2, 'cm');
  const group = await createGroup(service, org.key, 'Members group', [site.id]);
  const expected = [org.owner_user_id];
  const emails = [];
  for (let i = 0; i < 6; i++) {
    const email = uniqueEmail(`m${i}`);
    emails.push(email);
    if (i % 3 === 0) expected.push(await addDirect(service, org.key, email, [site.id]));
    else if (i % 3 === 1) expected.push(await addDirect(service, org.key, email, [group.id], { kind: 'group' }));
    else expected.push((await call(service, 'POST', '/api/v1/invites', { key: org.key, body: { type: 'organization', invite_method: 'direct', email } })).user_id);
  }
  // A direct member added later through the group too stays at their first place, with the
  // group's stronger role.
  await addDirect(service, org.key, emails[0], [group.id], { kind: 'group', role: 'admin' });
  await addDirect(service, org.key, uniqueEmail('elsewhere'), [otherSite.id]);

  const path = `/api/v1/websites/${site.id}/members`;
  const page = await call(service, 'GET', `${path}?page_size=100`, { key: org.key });
  const order = page.members.map((m) => [m.created_at, m.user_id]);
  assert.deepEqual(order, [...order].sort(([t1, u1], [t2, u2]) => (t1 < t2 ? -1 : t1 > t2 ? 1 : u1 < u2 ? -1 : u1 > u2 ? 1 : 0)), 'ordered by created_at, then user_id');
  assert.deepEqual(new Set(idsOf(page.members, 'user_id')), new Set(expected));
  const items = await assertCursorPagination(service, org.key, path, 'members', 'user_id', idsOf(page.members, 'user_id'));
  assert.equal(items.find((m) => m.user_id === expected[1]).role, 'admin', 'the strongest role');
  assert.equal(items.find((m) => m.user_id === expected[1]).access_type, 'group');

  for (const stranger of [other.userId, newId()]) {
    await expectError(service, 'GET', `${path}?limit=1&starting_after=${stranger}`, { key: org.key }, 400, 'validation_error', {
      exactFields: ['starting_after'],
    });
  }
  // The scoped key of the website pages its members the same way.
  const scoped = service.createKey(org.org_id, [site.id]).api_key;
  const scopedPage = await call(service, 'GET', `${path}?limit=100`, { key: scoped });
  assert.deepEqual(scopedPage.members, items);

  await walkWhileAdding(org.key, path, 'members', 'user_id', idsOf(page.members, 'user_id'), () => addDirect(service, org.key, uniqueEmail('late'), [site.id]));
});

test('group and organization members: cursor pages by membership time, then user id', async () => {
  const org = freshOrg('Cursor Direct Members');
  const [site] = await websitesInOrder(service, org.key, 1, 'cd');
  const group = await createGroup(service, org.key, 'Direct group', [site.id]);
  const groupIds = [];
  const orgIds = [org.owner_user_id];
  for (let i = 0; i < 4; i++) {
    groupIds.push(await addDirect(service, org.key, uniqueEmail(`g${i}`), [group.id], { kind: 'group' }));
    orgIds.push((await call(service, 'POST', '/api/v1/invites', { key: org.key, body: { type: 'organization', invite_method: 'direct', email: uniqueEmail(`o${i}`) } })).user_id);
  }
  for (const [path, ids] of [[`/api/v1/groups/${group.id}/members`, groupIds], ['/api/v1/organizations/members', orgIds]]) {
    const page = await call(service, 'GET', `${path}?page_size=100`, { key: org.key });
    assert.deepEqual(new Set(idsOf(page.members, 'user_id')), new Set(ids));
    await assertCursorPagination(service, org.key, path, 'members', 'user_id', idsOf(page.members, 'user_id'));
    await expectError(service, 'GET', `${path}?limit=1&starting_after=${other.userId}`, { key: org.key }, 400, 'validation_error', {
      exactFields: ['starting_after'],
    });
  }
  // A member of the organization but not of the group is no cursor for the group's list.
  await expectError(service, 'GET', `/api/v1/groups/${group.id}/members?limit=1&starting_after=${orgIds[1]}`, { key: org.key }, 400, 'validation_error', {
    exactFields: ['starting_after'],
  });
  const groupPage = await call(service, 'GET', `/api/v1/groups/${group.id}/members?page_size=100`, { key: org.key });
  await walkWhileAdding(org.key, `/api/v1/groups/${group.id}/members`, 'members', 'user_id', idsOf(groupPage.members, 'user_id'),
    () => addDirect(service, org.key, uniqueEmail('late'), [group.id], { kind: 'group' }));
  const scoped = service.createKey(org.org_id, [site.id]).api_key;
  await expectError(service, 'GET', '/api/v1/organizations/members?limit=1', { key: scoped }, 403, 'global_key_required');
});

test('a user\'s websites: cursor pages in website order; any website of the organization places a cursor', async () => {
  const org = freshOrg('Cursor User Websites');
  const sites = await websitesInOrder(service, org.key, 5, 'cu');
  const group = await createGroup(service, org.key, 'Two sites', [sites[1].id, sites[3].id]);
  const email = uniqueEmail('reacher');
  const userId = await addDirect(service, org.key, email, [sites[4].id, sites[0].id]);
  await addDirect(service, org.key, email, [group.id], { kind: 'group' });
  const path = `/api/v1/users/${userId}/websites`;
  const expected = [sites[0].id, sites[1].id, sites[3].id, sites[4].id];
  await assertCursorPagination(service, org.key, path, 'websites', 'website_id', expected);
  // sites[2] is not reached by the user but keeps its place in the order.
  const after2 = await call(service, 'GET', `${path}?limit=10&starting_after=${sites[2].id}`, { key: org.key });
  assert.deepEqual(idsOf(after2.websites, 'website_id'), [sites[3].id, sites[4].id]);
  await expectError(service, 'GET', `${path}?limit=1&starting_after=${other.site.id}`, { key: org.key }, 400, 'validation_error', {
    exactFields: ['starting_after'],
  });
  // The owner reaches every website through the organization.
  await assertCursorPagination(service, org.key, `/api/v1/users/${org.owner_user_id}/websites`, 'websites', 'website_id', idsOf(sites, 'id'));
  await walkWhileAdding(org.key, path, 'websites', 'website_id', expected, async () => {
    const site = await service.createWebsite(org.key, 'https://reached-later.example.com');
    await addDirect(service, org.key, email, [site.id]);
    return site.id;
  });
});

test('invites: cursor pages newest first, with filters; a cursor that no longer matches the filter still works', async () => {
  const org = freshOrg('Cursor Invites');
  const sites = await websitesInOrder(service, org.key, 3, 'ci');
  for (let i = 0; i < 3; i++) await inviteByEmail(service, org.key, uniqueEmail(`inv${i}`), [sites[i % 3].id, sites[(i + 1) % 3].id]);
  // The page and cursor forms are compared item by item, `delivery` included: wait until the mail
  // worker has sent the three emails, so that no delivery changes between the two reads.
  const page = await waitFor(async () => {
    const all = await call(service, 'GET', '/api/v1/invites?page_size=100', { key: org.key });
    return all.invites.every((invite) => invite.delivery !== 'queued') && all;
  }, { timeoutMs: MAIL_TIMEOUT_MS, what: 'the three invitation emails sent' });
  assert.equal(page.total, 6);
  const ids = idsOf(page.invites, 'id');
  await assertCursorPagination(service, org.key, '/api/v1/invites', 'invites', 'id', ids);
  const createdAt = page.invites.map((i) => i.created_at);
  assert.deepEqual(createdAt, [...createdAt].sort().reverse(), 'newest first');

  const filtered = `/api/v1/invites?status=pending&website_id=${sites[1].id}`;
  const filteredIds = idsOf((await call(service, 'GET', `${filtered}&page_size=100`, { key: org.key })).invites, 'id');
  assert.equal(filteredIds.length, 2);
  await assertCursorPagination(service, org.key, filtered, 'invites', 'id', filteredIds);
  // The first pending invite seen is revoked before the next page is asked for.
  await call(service, 'DELETE', `/api/v1/invites/${filteredIds[0]}`, { key: org.key });
  const next = await call(service, 'GET', `${filtered}&limit=5&starting_after=${filteredIds[0]}`, { key: org.key });
  assert.deepEqual(idsOf(next.invites, 'id'), [filteredIds[1]]);
  assert.equal(next.has_more, false);

  await expectError(service, 'GET', `/api/v1/invites?limit=1&starting_after=${other.inviteId}`, { key: org.key }, 400, 'validation_error', {
    exactFields: ['starting_after'],
  });
  // Filters and the cursor form are checked together.
  await expectError(service, 'GET', '/api/v1/invites?status=open&limit=0&starting_after=x', { key: org.key }, 400, 'validation_error', {
    exactFields: ['status', 'limit', 'starting_after'],
  });
  const all = idsOf((await call(service, 'GET', '/api/v1/invites?page_size=100', { key: org.key })).invites, 'id');
  await walkWhileAdding(org.key, '/api/v1/invites', 'invites', 'id', all, async () => (await inviteByEmail(service, org.key, uniqueEmail('late'), [sites[0].id]))[0], { newestFirst: true });
});

test('API keys: cursor pages in creation order, revoked keys included and usable as cursors', async () => {
  const org = freshOrg('Cursor Keys');
  const created = [];
  for (let i = 0; i < 3; i++) created.push(await createKeyViaApi(service, org.key, `key ${i}`));
  const page = await call(service, 'GET', '/api/v1/api-keys?page_size=100', { key: org.key });
  assert.equal(page.total, 4);
  const ids = idsOf(page.api_keys, 'key_id');
  assert.deepEqual(ids.slice(1), idsOf(created, 'key_id'));
  await assertCursorPagination(service, org.key, '/api/v1/api-keys', 'api_keys', 'key_id', ids);
  await call(service, 'DELETE', `/api/v1/api-keys/${created[0].key_id}`, { key: org.key });
  const next = await call(service, 'GET', `/api/v1/api-keys?limit=1&starting_after=${created[0].key_id}`, { key: org.key });
  assert.deepEqual(idsOf(next.api_keys, 'key_id'), [created[1].key_id]);
  assert.equal(next.has_more, true);
  await expectError(service, 'GET', `/api/v1/api-keys?limit=1&starting_after=${other.keyId}`, { key: org.key }, 400, 'validation_error', {
    exactFields: ['starting_after'],
  });
  await walkWhileAdding(org.key, '/api/v1/api-keys', 'api_keys', 'key_id', ids, async () => (await createKeyViaApi(service, org.key, 'late')).key_id);
});

test('removing the members one walks: the next page starts after the last one removed', async () => {
  const org = freshOrg('Cursor Removals');
  const [site] = await websitesInOrder(service, org.key, 1, 'cr');
  const group = await createGroup(service, org.key, 'Removal group', [site.id]);
  const addAll = async (tag) => {
    for (let i = 0; i < 3; i++) {
      await addDirect(service, org.key, uniqueEmail(`${tag}d${i}`), [site.id]);
      await addDirect(service, org.key, uniqueEmail(`${tag}g${i}`), [group.id], { kind: 'group' });
    }
  };
  // Removes the membership that gives the access listed (the owner's, through the
  // organization, stays).
  const remove = async (member) => {
    if (member.access_type === 'website') await call(service, 'DELETE', `/api/v1/websites/${site.id}/members/${member.user_id}`, { key: org.key });
    if (member.access_type === 'group') await call(service, 'DELETE', `/api/v1/groups/${group.id}/members/${member.user_id}`, { key: org.key });
  };
  const walkRemoving = async (path) => {
    const before = idsOf((await call(service, 'GET', `${path}?limit=100`, { key: org.key })).members, 'user_id');
    const seen = [];
    let cursor;
    for (let page = 0; page < 20; page++) {
      const body = await call(service, 'GET', `${path}?limit=1${cursor ? `&starting_after=${cursor}` : ''}`, { key: org.key });
      if (body.members.length === 0) break;
      const [member] = body.members;
      seen.push(member.user_id);
      await remove(member);
      cursor = member.user_id;
      if (!body.has_more) break;
    }
    assert.deepEqual(seen, before, `${path}: every member once while removing them`);
  };
  await addAll('a');
  await walkRemoving(`/api/v1/websites/${site.id}/members`);
  await addAll('b');
  await walkRemoving(`/api/v1/groups/${group.id}/members`);
});

test('the cursor form answers exactly {items, has_more}; an empty list is an empty page', async () => {
  const org = freshOrg('Cursor Empty');
  const empty = await call(service, 'GET', '/api/v1/websites?limit=10', { key: org.key });
  assertKeys(empty, ['websites', 'has_more']);
  assert.deepEqual(empty, { websites: [], has_more: false });
  assert.deepEqual(await call(service, 'GET', '/api/v1/groups?limit=1', { key: org.key }), { groups: [], has_more: false });
  assert.deepEqual(await call(service, 'GET', '/api/v1/invites?limit=100', { key: org.key }), { invites: [], has_more: false });
});
