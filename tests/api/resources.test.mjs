// The resources the bulk endpoint needs (SPEC §5): websites (create, list with pagination, get),
// groups, member lists; the operations endpoints; graceful shutdown.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startService } from '../support/service.mjs';
import {
  GENEROUS_LIMITS, UUID_RE, TIMESTAMP_RE, assertError, assertKeys, createWebsites, newId, tableCounts,
} from '../support/assertions.mjs';

let service;
let org;
let key;
let sites; // org's 5 websites
let otherKey;
let otherSites;
let scopedKey;

before(async () => {
  service = await startService({ args: GENEROUS_LIMITS });
  org = service.createOrg('Paged Inc');
  key = org.api_key;
  sites = [];
  // Sequential, so creation order is known.
  for (let i = 0; i < 5; i++) sites.push(await service.createWebsite(key, `https://paged-${i}.example.net`, `Paged ${i}`));
  const other = service.createOrg('Elsewhere');
  otherKey = other.api_key;
  otherSites = await createWebsites(service, otherKey, 2, 'elsewhere');
  scopedKey = service.createKey(org.org_id, [sites[1].id, sites[3].id], 'scoped').api_key;
});

after(async () => {
  if (service) assert.equal(await service.stop(), 0);
});

function assertWebsite(website, expected) {
  assertKeys(website, ['id', 'url', 'name', 'org_id', 'created_at']);
  assert.match(website.id, UUID_RE);
  assert.match(website.created_at, TIMESTAMP_RE);
  if (expected) assert.deepEqual(website, expected);
}

test('POST /api/v1/websites: 201 {website: {id, url, name, org_id, created_at}}', async () => {
  const response = await service.api('POST', '/api/v1/websites', { key, body: { url: 'https://fresh.example.net', name: 'Fresh' } });
  assert.equal(response.status, 201, response.text);
  assertKeys(response.body, ['website']);
  const { website } = response.body;
  assertWebsite(website);
  assert.equal(website.url, 'https://fresh.example.net');
  assert.equal(website.name, 'Fresh');
  assert.equal(website.org_id, org.org_id);
  const fetched = await service.api('GET', `/api/v1/websites/${website.id}`, { key });
  assert.equal(fetched.status, 200, fetched.text);
  assert.deepEqual(fetched.body, { website });
  sites.push(website); // part of the organization from now on
});

test('POST /api/v1/websites: validation errors and a scoped key write nothing', async () => {
  const before = tableCounts(service);
  assertError(await service.api('POST', '/api/v1/websites', { key, body: { name: 'No URL' } }), 400, 'validation_error', { fields: ['url'] });
  assertError(await service.api('POST', '/api/v1/websites', { key, body: { url: 'https://x.example', colour: 'red' } }), 400, 'validation_error', { fields: ['colour'] });
  assertError(await service.api('POST', '/api/v1/websites', { key, body: { url: 42 } }), 400, 'validation_error', { fields: ['url'] });
  assertError(await service.api('POST', '/api/v1/websites', { key: scopedKey, body: { url: 'https://scoped.example' } }), 403, 'global_key_required');
  assert.deepEqual(tableCounts(service), before);
});

test('GET /api/v1/websites: defaults page_num 0 and page_size 40; lists only this organization', async () => {
  const response = await service.api('GET', '/api/v1/websites', { key });
  assert.equal(response.status, 200, response.text);
  assertKeys(response.body, ['websites', 'page_num', 'page_size', 'total']);
  assert.equal(response.body.page_num, 0);
  assert.equal(response.body.page_size, 40);
  assert.equal(response.body.total, sites.length);
  response.body.websites.forEach((w) => assertWebsite(w));
  assert.deepEqual(response.body.websites.map((w) => w.id).sort(), sites.map((s) => s.id).sort());
  for (const foreign of otherSites) assert.ok(!response.body.websites.some((w) => w.id === foreign.id));
});

test('GET /api/v1/websites: pages are disjoint, cover everything once, and report the total', async () => {
  const seen = [];
  const total = sites.length;
  const pages = Math.ceil(total / 2);
  for (let pageNum = 0; pageNum < pages; pageNum++) {
    const response = await service.api('GET', `/api/v1/websites?page_num=${pageNum}&page_size=2`, { key });
    assert.equal(response.status, 200, response.text);
    assert.equal(response.body.page_num, pageNum);
    assert.equal(response.body.page_size, 2);
    assert.equal(response.body.total, total);
    assert.equal(response.body.websites.length, Math.min(2, total - pageNum * 2));
    seen.push(...response.body.websites.map((w) => w.id));
  }
  assert.equal(new Set(seen).size, seen.length, 'no website on two pages');
  assert.deepEqual([...seen].sort(), sites.map((s) => s.id).sort());

  const beyond = await service.api('GET', `/api/v1/websites?page_num=${pages}&page_size=2`, { key });
  assert.equal(beyond.status, 200, beyond.text);
  assert.deepEqual(beyond.body.websites, []);
  assert.equal(beyond.body.total, total);

  for (const size of [1, 100]) {
    const response = await service.api('GET', `/api/v1/websites?page_size=${size}`, { key });
    assert.equal(response.status, 200, response.text);
    assert.equal(response.body.websites.length, Math.min(size, total));
  }
});

test('GET /api/v1/websites: a bad page_size or page_num is 400 validation_error', async () => {
  for (const size of ['0', '101', '-1', 'abc', '1.5', '']) {
    const response = await service.api('GET', `/api/v1/websites?page_size=${encodeURIComponent(size)}`, { key });
    assertError(response, 400, 'validation_error', { fields: ['page_size'] });
  }
  for (const num of ['-1', 'x', '2.0']) {
    const response = await service.api('GET', `/api/v1/websites?page_num=${encodeURIComponent(num)}`, { key });
    assertError(response, 400, 'validation_error', { fields: ['page_num'] });
  }
  const both = await service.api('GET', '/api/v1/websites?page_num=-3&page_size=1000', { key });
  assertError(both, 400, 'validation_error', { fields: ['page_num', 'page_size'] });
});

test('GET /api/v1/websites with a scoped key lists only its allowlist', async () => {
  const response = await service.api('GET', '/api/v1/websites', { key: scopedKey });
  assert.equal(response.status, 200, response.text);
  assert.equal(response.body.total, 2);
  assert.deepEqual(response.body.websites.map((w) => w.id).sort(), [sites[1].id, sites[3].id].sort());
});

test('GET /api/v1/websites/{id}: 200 for own, 404 for unknown, foreign, malformed or out-of-scope ids', async () => {
  const own = await service.api('GET', `/api/v1/websites/${sites[0].id}`, { key });
  assert.equal(own.status, 200, own.text);
  assertKeys(own.body, ['website']);
  assertWebsite(own.body.website, sites[0]);

  const upper = await service.api('GET', `/api/v1/websites/${sites[0].id.toUpperCase()}`, { key });
  assert.equal(upper.status, 200, upper.text);
  assert.equal(upper.body.website.id, sites[0].id);

  for (const id of [newId(), otherSites[0].id, 'nope', `${sites[0].id}x`, sites[0].id.slice(0, 35), '123e4567e89b12d3a456426614174000']) {
    const response = await service.api('GET', `/api/v1/websites/${encodeURIComponent(id)}`, { key });
    assertError(response, 404, 'not_found');
  }
  // A scoped key cannot tell a website outside its allowlist from one that does not exist.
  assertError(await service.api('GET', `/api/v1/websites/${sites[0].id}`, { key: scopedKey }), 404, 'not_found');
  assert.equal((await service.api('GET', `/api/v1/websites/${sites[1].id}`, { key: scopedKey })).status, 200);
  // And the other organization cannot see this one's.
  assertError(await service.api('GET', `/api/v1/websites/${sites[0].id}`, { key: otherKey }), 404, 'not_found');
});

test('GET /api/v1/websites/{id}/members: 404 for unknown, foreign and out-of-scope websites; a page for own', async () => {
  const own = await service.api('GET', `/api/v1/websites/${sites[0].id}/members`, { key });
  assert.equal(own.status, 200, own.text);
  assertKeys(own.body, ['members', 'page_num', 'page_size', 'total']);
  for (const id of [newId(), otherSites[0].id, 'nope']) {
    assertError(await service.api('GET', `/api/v1/websites/${id}/members`, { key }), 404, 'not_found');
  }
  assertError(await service.api('GET', `/api/v1/websites/${sites[0].id}/members`, { key: scopedKey }), 404, 'not_found');
  assertError(await service.api('GET', `/api/v1/websites/${sites[0].id}/members?page_size=0`, { key }), 400, 'validation_error', { fields: ['page_size'] });
});

test('groups: POST 201 with the group; unknown or foreign websites 400; a scoped key 403; GET by id', async () => {
  const created = await service.api('POST', '/api/v1/groups', { key, body: { name: 'Pair', website_ids: [sites[0].id, sites[2].id] } });
  assert.equal(created.status, 201, created.text);
  assertKeys(created.body, ['group']);
  const { group } = created.body;
  assertKeys(group, ['id', 'name', 'org_id', 'website_ids', 'created_at']);
  assert.match(group.id, UUID_RE);
  assert.equal(group.name, 'Pair');
  assert.equal(group.org_id, org.org_id);
  assert.deepEqual([...group.website_ids].sort(), [sites[0].id, sites[2].id].sort());
  assert.match(group.created_at, TIMESTAMP_RE);

  const fetched = await service.api('GET', `/api/v1/groups/${group.id}`, { key });
  assert.equal(fetched.status, 200, fetched.text);
  assert.deepEqual(fetched.body, { group });

  const before = tableCounts(service);
  assertError(await service.api('POST', '/api/v1/groups', { key, body: { name: 'Bad', website_ids: [sites[0].id, newId()] } }), 400, 'validation_error', { fields: ['website_ids[1]'] });
  assertError(await service.api('POST', '/api/v1/groups', { key, body: { name: 'Foreign', website_ids: [otherSites[0].id] } }), 400, 'validation_error', { fields: ['website_ids[0]'] });
  assertError(await service.api('POST', '/api/v1/groups', { key: scopedKey, body: { name: 'Scoped', website_ids: [sites[1].id] } }), 403, 'global_key_required');
  assert.deepEqual(tableCounts(service), before);

  assertError(await service.api('GET', `/api/v1/groups/${newId()}`, { key }), 404, 'not_found');
  assertError(await service.api('GET', `/api/v1/groups/${group.id}`, { key: otherKey }), 404, 'not_found');
  assertError(await service.api('GET', `/api/v1/groups/${group.id}/members`, { key: scopedKey }), 403, 'global_key_required');
  const members = await service.api('GET', `/api/v1/groups/${group.id}/members`, { key });
  assert.equal(members.status, 200, members.text);
  assert.deepEqual(members.body, { members: [], page_num: 0, page_size: 40, total: 0 });
});

test('a website member list shows how each person reaches it: organization, group or website', async () => {
  const own = service.createOrg('Layered', 'layer-owner@example.com');
  const [a, b] = await createWebsites(service, own.api_key, 2, 'layered');
  const group = await service.api('POST', '/api/v1/groups', { key: own.api_key, body: { name: 'Only A', website_ids: [a.id] } });
  assert.equal(group.status, 201, group.text);
  const grouped = await service.api('POST', '/api/v1/invites/bulk', {
    key: own.api_key, body: { invite_method: 'direct', email: 'layer-group@example.com', role: 'admin', group_ids: [group.body.group.id] },
  });
  assert.equal(grouped.status, 200, grouped.text);
  const direct = await service.api('POST', '/api/v1/invites/bulk', {
    key: own.api_key, body: { invite_method: 'direct', email: 'layer-site@example.com', website_ids: [b.id] },
  });
  assert.equal(direct.status, 200, direct.text);

  const summary = async (id) => {
    const response = await service.api('GET', `/api/v1/websites/${id}/members`, { key: own.api_key });
    assert.equal(response.status, 200, response.text);
    assert.equal(response.body.total, response.body.members.length);
    return response.body.members.map((m) => [m.email, m.role, m.access_type]).sort();
  };
  assert.deepEqual(await summary(a.id), [
    ['layer-group@example.com', 'admin', 'group'],
    ['layer-owner@example.com', 'owner', 'organization'],
  ]);
  assert.deepEqual(await summary(b.id), [
    ['layer-owner@example.com', 'owner', 'organization'],
    ['layer-site@example.com', 'viewer', 'website'],
  ]);
});

test('405 on a collection lists every allowed method', async () => {
  const response = await service.api('PUT', '/api/v1/websites', { key });
  assertError(response, 405, 'method_not_allowed');
  const allow = (response.headers.get('allow') ?? '').split(',').map((m) => m.trim()).sort();
  assert.deepEqual(allow, ['GET', 'HEAD', 'POST']);
});

test('GET /healthz and GET /readyz answer 200', async () => {
  const health = await service.api('GET', '/healthz');
  assert.equal(health.status, 200, health.text);
  const ready = await service.api('GET', '/readyz');
  assert.equal(ready.status, 200, ready.text);
});

test('SIGTERM stops the service with exit code 0', async () => {
  const own = await startService();
  let code;
  try {
    const o = own.createOrg('Short lived');
    const site = await own.createWebsite(o.api_key, 'https://brief.example');
    const response = await own.api('POST', '/api/v1/invites/bulk', {
      key: o.api_key,
      body: { invite_method: 'email', email: 'brief@example.com', website_ids: [site.id] },
    });
    assert.equal(response.status, 200, response.text);
  } finally {
    code = await own.stop('SIGTERM');
  }
  assert.equal(code, 0);
  await assert.rejects(own.fetch('/healthz'), 'no longer listening');
});

test('SIGINT stops the service with exit code 0', async () => {
  const own = await startService();
  assert.equal((await own.api('GET', '/healthz')).status, 200);
  assert.equal(await own.stop('SIGINT'), 0);
});
