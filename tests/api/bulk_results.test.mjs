// POST /api/v1/invites/bulk: per-target results for valid requests (SPEC §4 and the seed page),
// proven against what the service wrote (SQL, member lists, .eml files).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startService } from '../support/service.mjs';
import {
  GENEROUS_LIMITS, UUID_RE, TIMESTAMP_RE, assertError, assertKeys, bulk, bulkOk, count, createWebsites,
  drainedMails, mailsTo, newId, q, tableCounts, uniqueEmail, usersByEmail, uuidSql, websiteMemberCount,
} from '../support/assertions.mjs';

const ADDED = 'User added to website';
const ALREADY = 'User is already a member of this website';
const NOT_FOUND = 'Website not found';

let service;
let org; // Acme: global key, an owner, 50 websites
let key;
let ws; // Acme's 50 websites
let other; // another organization
let otherKey;
let otherWs;
let mailSites; // Acme websites with distinctive names, for the email checks
let ownerEmail;

before(async () => {
  service = await startService({ args: GENEROUS_LIMITS });
  ownerEmail = uniqueEmail('owner');
  org = service.createOrg('Acme', ownerEmail);
  key = org.api_key;
  ws = await createWebsites(service, key, 50, 'acme');
  other = service.createOrg('Other Corp');
  otherKey = other.api_key;
  otherWs = await createWebsites(service, otherKey, 2, 'other');
  mailSites = [
    await service.createWebsite(key, 'https://kestrel.mail-test.example/app', 'Kestrel Dashboard'),
    await service.createWebsite(key, 'https://osprey.mail-test.example', 'Osprey Analytics'),
    await service.createWebsite(key, 'https://heron.mail-test.example/x?y=1', 'Heron Store'),
    await service.createWebsite(key, 'https://plover.mail-test.example', 'Plover Blog'),
  ];
});

after(async () => {
  if (service) assert.equal(await service.stop(), 0);
});

async function membersOf(websiteId, k = key) {
  const response = await service.api('GET', `/api/v1/websites/${websiteId}/members?page_size=100`, { key: k });
  assert.equal(response.status, 200, response.text);
  return response.body.members;
}

function assertAdded(result, websiteId, userId) {
  assertKeys(result, ['website_id', 'success', 'message', 'user_id']);
  assert.equal(result.website_id, websiteId);
  assert.equal(result.success, true);
  assert.equal(result.message, ADDED);
  assert.match(result.user_id, UUID_RE);
  if (userId !== undefined) assert.equal(result.user_id, userId);
}

function assertFailed(result, websiteId, error) {
  assertKeys(result, ['website_id', 'success', 'error']);
  assert.equal(result.website_id, websiteId);
  assert.equal(result.success, false);
  assert.equal(result.error, error);
}

function assertInvited(result, websiteId) {
  assertKeys(result, ['website_id', 'success', 'message', 'invite_id']);
  assert.equal(result.website_id, websiteId);
  assert.equal(result.success, true);
  assert.equal(result.message, 'Invitation sent');
  assert.match(result.invite_id, UUID_RE);
}

function inviteRows(email) {
  return service
    .sql(`SELECT ${uuidSql('id')}, status, target_kind, batch_pk FROM invites WHERE email_key = lower(${q(email)}) ORDER BY pk`)
    .map(([id, status, kind, batch]) => ({ id, status: Number(status), kind: Number(kind), batch: Number(batch) }));
}

test("reproduces the seed's example response: first website added, second already a member", async () => {
  const email = uniqueEmail('seed');
  const [first, second] = [ws[0].id, ws[1].id];
  // The user is already a member of the second website.
  const [earlier] = await bulkOk(service, key, { invite_method: 'direct', email, website_ids: [second] });
  assertAdded(earlier, second);

  const response = await bulk(service, key, {
    invite_method: 'direct',
    email,
    role: 'viewer',
    website_ids: [first, second],
    first_name: 'John',
    last_name: 'Doe',
  });
  assert.equal(response.status, 200, response.text);
  assertKeys(response.body, ['success', 'results']);
  assert.equal(response.body.success, true);
  const [r0, r1] = response.body.results;
  assert.equal(response.body.results.length, 2);
  assert.deepEqual(r0, { website_id: first, success: true, message: ADDED, user_id: earlier.user_id });
  assert.deepEqual(r1, { website_id: second, success: false, error: ALREADY });
  assertAdded(r0, first, earlier.user_id);
  assertFailed(r1, second, ALREADY);
  assert.equal(websiteMemberCount(service, second, email), 1, 'still exactly one membership');
});

test('1 website id: 200 with one result', async () => {
  const results = await bulkOk(service, key, { invite_method: 'direct', email: uniqueEmail('one'), website_ids: [ws[2].id] });
  assert.equal(results.length, 1);
  assertAdded(results[0], ws[2].id);
});

test('50 website ids: 200 with 50 results in request order (not creation order)', async () => {
  const email = uniqueEmail('fifty');
  // A fixed shuffle: reversed, then the halves interleaved.
  const reversed = [...ws].reverse().map((w) => w.id);
  const ids = [];
  for (let i = 0; i < 25; i++) ids.push(reversed[i], reversed[49 - i]);
  assert.equal(new Set(ids).size, 50);
  const results = await bulkOk(service, key, { invite_method: 'direct', email, website_ids: ids });
  assert.deepEqual(results.map((r) => r.website_id), ids);
  const userId = results[0].user_id;
  for (let i = 0; i < 50; i++) assertAdded(results[i], ids[i], userId);
  assert.equal(
    count(service, `SELECT COUNT(*) FROM website_members m JOIN users u ON u.pk = m.user_pk WHERE u.email_key = lower(${q(email)})`),
    50,
  );
  assert.deepEqual(usersByEmail(service, email).map((u) => u.id), [userId]);
});

test("another organization's website and an unknown id answer 'Website not found'; nothing is written for them", async () => {
  const email = uniqueEmail('foreign');
  const unknown = newId();
  const ids = [otherWs[0].id, ws[3].id, unknown];
  const results = await bulkOk(service, key, { invite_method: 'direct', email, website_ids: ids });
  assertFailed(results[0], otherWs[0].id, NOT_FOUND);
  assertAdded(results[1], ws[3].id);
  assertFailed(results[2], unknown, NOT_FOUND);
  assert.equal(websiteMemberCount(service, otherWs[0].id, email), 0);
  assert.equal((await membersOf(otherWs[0].id, otherKey)).filter((m) => m.email === email).length, 0);

  // Email mode: no invite row for the foreign website.
  const email2 = uniqueEmail('foreign-mail');
  const mailResults = await bulkOk(service, key, { invite_method: 'email', email: email2, website_ids: [otherWs[1].id, ws[3].id] });
  assertFailed(mailResults[0], otherWs[1].id, NOT_FOUND);
  assertInvited(mailResults[1], ws[3].id);
  assert.deepEqual(inviteRows(email2).map((r) => r.id), [mailResults[1].invite_id]);
});

test('direct mode: no user (and nothing else) is created when every target fails', async () => {
  const email = uniqueEmail('nobody');
  const ids = [newId(), otherWs[0].id, newId()];
  const before = tableCounts(service);
  const results = await bulkOk(service, key, { invite_method: 'direct', email, website_ids: ids, first_name: 'No', last_name: 'Body' });
  results.forEach((r, i) => assertFailed(r, ids[i], NOT_FOUND));
  assert.equal(usersByEmail(service, email).length, 0);
  assert.deepEqual(tableCounts(service), before);
});

test("a scoped key reaches only its allowlist: 'Website not found' outside it, success inside", async () => {
  const scoped = service.createKey(org.org_id, [ws[4].id], 'scoped to ws4');
  const email = uniqueEmail('scoped');
  const results = await bulkOk(service, scoped.api_key, { invite_method: 'direct', email, website_ids: [ws[5].id, ws[4].id] });
  assertFailed(results[0], ws[5].id, NOT_FOUND);
  assertAdded(results[1], ws[4].id);
  assert.equal(websiteMemberCount(service, ws[5].id, email), 0);
  assert.equal(websiteMemberCount(service, ws[4].id, email), 1);
});

test('group_ids with a scoped key: 403 global_key_required, nothing written', async () => {
  const scoped = service.createKey(org.org_id, [ws[4].id], 'scoped for groups');
  const created = await service.api('POST', '/api/v1/groups', { key, body: { name: 'Scoped probe', website_ids: [ws[4].id] } });
  assert.equal(created.status, 201, created.text);
  const before = tableCounts(service);
  const email = uniqueEmail('scoped-group');
  for (const method of ['direct', 'email']) {
    const response = await bulk(service, scoped.api_key, { invite_method: method, email, group_ids: [created.body.group.id] });
    assertError(response, 403, 'global_key_required');
  }
  assert.deepEqual(tableCounts(service), before);
});

test('group targets with a global key: added, then already a member, unknown and foreign groups not found', async () => {
  const created = await service.api('POST', '/api/v1/groups', {
    key,
    body: { name: 'Marketing sites', website_ids: [ws[6].id, ws[7].id] },
  });
  assert.equal(created.status, 201, created.text);
  const group = created.body.group;
  assertKeys(group, ['id', 'name', 'org_id', 'website_ids', 'created_at']);
  assert.match(group.id, UUID_RE);
  assert.equal(group.name, 'Marketing sites');
  assert.equal(group.org_id, org.org_id);
  assert.deepEqual([...group.website_ids].sort(), [ws[6].id, ws[7].id].sort());
  assert.match(group.created_at, TIMESTAMP_RE);

  const foreign = await service.api('POST', '/api/v1/groups', { key: otherKey, body: { name: 'Theirs', website_ids: [otherWs[0].id] } });
  assert.equal(foreign.status, 201, foreign.text);

  const email = uniqueEmail('grouped');
  const unknown = newId();
  const first = await bulkOk(service, key, {
    invite_method: 'direct', email, role: 'admin', group_ids: [group.id, unknown, foreign.body.group.id], website_ids: null,
  });
  assertKeys(first[0], ['group_id', 'success', 'message', 'user_id']);
  assert.deepEqual(first[0], { group_id: group.id, success: true, message: 'User added to group', user_id: first[0].user_id });
  assert.match(first[0].user_id, UUID_RE);
  assert.deepEqual(first[1], { group_id: unknown, success: false, error: 'Group not found' });
  assert.deepEqual(first[2], { group_id: foreign.body.group.id, success: false, error: 'Group not found' });

  const again = await bulkOk(service, key, { invite_method: 'direct', email, group_ids: [group.id] });
  assert.deepEqual(again[0], { group_id: group.id, success: false, error: 'User is already a member of this group' });

  const members = await service.api('GET', `/api/v1/groups/${group.id}/members`, { key });
  assert.equal(members.status, 200, members.text);
  const listed = members.body.members.filter((m) => m.email === email);
  assert.equal(listed.length, 1, members.text);
  assert.equal(listed[0].user_id, first[0].user_id);
  assert.equal(listed[0].role, 'admin');
  assert.equal(members.body.total, 1);
  assert.equal(count(service, `SELECT COUNT(*) FROM group_members m JOIN users u ON u.pk = m.user_pk WHERE u.email_key = lower(${q(email)})`), 1);
});

test('email mode: one invite per target, one .eml listing every website with its URL and an accept link, no user', async () => {
  const email = uniqueEmail('mailed');
  const targets = mailSites.slice(0, 3);
  const mailsBefore = (await drainedMails(service)).length;
  const results = await bulkOk(service, key, {
    invite_method: 'email', email, role: 'admin', first_name: 'Mara', last_name: 'Quill', website_ids: targets.map((w) => w.id),
  });
  results.forEach((r, i) => assertInvited(r, targets[i].id));
  assert.equal(new Set(results.map((r) => r.invite_id)).size, 3);

  // Pending invites, one batch, no user.
  const rows = inviteRows(email);
  assert.deepEqual(rows.map((r) => r.id).sort(), results.map((r) => r.invite_id).sort());
  assert.ok(rows.every((r) => r.status === 0), JSON.stringify(rows));
  assert.equal(new Set(rows.map((r) => r.batch)).size, 1, 'all invites of one request form one batch');
  assert.equal(usersByEmail(service, email).length, 0, 'email mode does not create the user');

  const mails = await drainedMails(service);
  assert.equal(mails.length, mailsBefore + 1, 'exactly one email for the request');
  const mine = mailsTo(mails, email);
  assert.equal(mine.length, 1);
  const plain = mine[0].parts.find((p) => /^text\/plain/i.test(p.type));
  assert.ok(plain, 'a text/plain part');
  for (const site of targets) {
    assert.ok(plain.text.includes(site.name), `email lists ${site.name}:\n${plain.text}`);
    assert.ok(plain.text.includes(site.url), `email lists ${site.url}:\n${plain.text}`);
  }
  assert.match(plain.text, /\badmin\b/, 'the role is named');
  assert.match(plain.text, /\/invites\/accept\?token=[A-Za-z0-9_\-%.~]{20,}/);
  const html = mine[0].parts.find((p) => /^text\/html/i.test(p.type));
  assert.ok(html, 'a text/html part');
  assert.ok(html.text.includes('/invites/accept?token='));
  for (const site of targets) assert.ok(html.text.includes(site.name), `html lists ${site.name}`);
});

test('email mode: already-member targets fail and are left out of the one email', async () => {
  const email = uniqueEmail('partly');
  const [member, fresh] = [mailSites[3], mailSites[0]];
  await bulkOk(service, key, { invite_method: 'direct', email, website_ids: [member.id] });
  const mailsBefore = (await drainedMails(service)).length;
  const results = await bulkOk(service, key, { invite_method: 'email', email, website_ids: [member.id, fresh.id] });
  assertFailed(results[0], member.id, ALREADY);
  assertInvited(results[1], fresh.id);
  const mails = await drainedMails(service);
  assert.equal(mails.length, mailsBefore + 1);
  const [mail] = mailsTo(mails, email);
  assert.ok(mail.text.includes(fresh.name));
  assert.ok(!mail.text.includes(member.name), 'a failed target is not offered in the email');
});

test('email mode: no email and no rows when every target fails', async () => {
  const email = uniqueEmail('unmailed');
  const mailsBefore = (await drainedMails(service)).length;
  const before = tableCounts(service);
  const ids = [newId(), otherWs[1].id];
  const results = await bulkOk(service, key, { invite_method: 'email', email, website_ids: ids });
  results.forEach((r, i) => assertFailed(r, ids[i], NOT_FOUND));
  assert.deepEqual(tableCounts(service), before, 'no invite, batch or queued email');

  // A later successful request produces exactly one email: none was pending for the failed one.
  const later = uniqueEmail('later');
  await bulkOk(service, key, { invite_method: 'email', email: later, website_ids: [mailSites[1].id] });
  const mails = await drainedMails(service);
  assert.equal(mails.length, mailsBefore + 1);
  assert.equal(mailsTo(mails, email).length, 0);
  assert.equal(mailsTo(mails, later).length, 1);
});

test('email mode to a group: one invite, one email naming the group', async () => {
  const created = await service.api('POST', '/api/v1/groups', { key, body: { name: 'Wading Birds', website_ids: [mailSites[2].id] } });
  assert.equal(created.status, 201, created.text);
  const email = uniqueEmail('group-mail');
  const mailsBefore = (await drainedMails(service)).length;
  const [result] = await bulkOk(service, key, { invite_method: 'email', email, group_ids: [created.body.group.id] });
  assertKeys(result, ['group_id', 'success', 'message', 'invite_id']);
  assert.equal(result.group_id, created.body.group.id);
  assert.equal(result.message, 'Invitation sent');
  const mails = await drainedMails(service);
  assert.equal(mails.length, mailsBefore + 1);
  const [mail] = mailsTo(mails, email);
  assert.ok(mail.text.includes('Wading Birds'));
  assert.ok(mail.text.includes('/invites/accept?token='));
});

test('email mode: a second invitation revokes the earlier pending one for the same target', async () => {
  const email = uniqueEmail('twice');
  const [first] = await bulkOk(service, key, { invite_method: 'email', email, website_ids: [ws[8].id] });
  const [second] = await bulkOk(service, key, { invite_method: 'email', email, website_ids: [ws[8].id] });
  assertInvited(first, ws[8].id);
  assertInvited(second, ws[8].id);
  assert.notEqual(first.invite_id, second.invite_id);
  const rows = inviteRows(email);
  assert.deepEqual(rows.map((r) => [r.id, r.status]), [[first.invite_id, 4], [second.invite_id, 0]]);
});

test('direct mode closes a pending invite of the same email and target as accepted', async () => {
  const email = uniqueEmail('pending-then-direct');
  const [invited] = await bulkOk(service, key, { invite_method: 'email', email, website_ids: [ws[9].id] });
  assertInvited(invited, ws[9].id);
  const [added] = await bulkOk(service, key, { invite_method: 'direct', email, website_ids: [ws[9].id] });
  assertAdded(added, ws[9].id);
  assert.deepEqual(inviteRows(email).map((r) => [r.id, r.status]), [[invited.invite_id, 1]]);
});

test('direct mode creates the user unverified with the given names; the member list shows them', async () => {
  const email = uniqueEmail('created');
  const [result] = await bulkOk(service, key, {
    invite_method: 'direct', email, first_name: 'Ada', last_name: 'Lovelace', website_ids: [ws[10].id],
  });
  assertAdded(result, ws[10].id);
  const users = usersByEmail(service, email);
  assert.equal(users.length, 1);
  assert.equal(users[0].id, result.user_id);
  assert.equal(users[0].email_verified, 0);
  assert.equal(users[0].first_name, 'Ada');
  assert.equal(users[0].last_name, 'Lovelace');

  const member = (await membersOf(ws[10].id)).find((m) => m.user_id === result.user_id);
  assert.ok(member);
  assertKeys(member, ['user_id', 'email', 'first_name', 'last_name', 'email_verified', 'role', 'access_type', 'created_at']);
  assert.deepEqual(
    { ...member, created_at: undefined },
    {
      user_id: result.user_id, email, first_name: 'Ada', last_name: 'Lovelace', email_verified: false,
      role: 'viewer', access_type: 'website', created_at: undefined,
    },
  );
  assert.match(member.created_at, TIMESTAMP_RE);
});

test('role defaults to viewer; role admin is granted as admin', async () => {
  const viewer = uniqueEmail('viewer');
  const admin = uniqueEmail('admin');
  await bulkOk(service, key, { invite_method: 'direct', email: viewer, website_ids: [ws[11].id] });
  await bulkOk(service, key, { invite_method: 'direct', email: admin, role: 'admin', website_ids: [ws[11].id] });
  const members = await membersOf(ws[11].id);
  assert.equal(members.find((m) => m.email === viewer)?.role, 'viewer');
  assert.equal(members.find((m) => m.email === admin)?.role, 'admin');
});

test('email is compared case-insensitively: JANE@x and jane@x are one user', async () => {
  const local = `jane.${Date.now().toString(36)}`;
  const [added] = await bulkOk(service, key, { invite_method: 'direct', email: `${local.toUpperCase()}@EXAMPLE.COM`, website_ids: [ws[12].id] });
  assertAdded(added, ws[12].id);
  const results = await bulkOk(service, key, { invite_method: 'direct', email: `${local}@example.com`, website_ids: [ws[12].id, ws[13].id] });
  assertFailed(results[0], ws[12].id, ALREADY);
  assertAdded(results[1], ws[13].id, added.user_id);
  assert.equal(count(service, `SELECT COUNT(*) FROM users WHERE email_key = ${q(`${local}@example.com`)}`), 1);
  assert.equal(usersByEmail(service, `${local}@example.com`).length, 1);
});

test('surrounding whitespace of the email is trimmed', async () => {
  const email = uniqueEmail('padded');
  const [added] = await bulkOk(service, key, { invite_method: 'direct', email: `  ${email}\t `, website_ids: [ws[14].id] });
  assertAdded(added, ws[14].id);
  const users = usersByEmail(service, email);
  assert.equal(users.length, 1);
  assert.equal(users[0].email, email);
  const member = (await membersOf(ws[14].id)).find((m) => m.user_id === added.user_id);
  assert.equal(member.email, email);
  const [again] = await bulkOk(service, key, { invite_method: 'direct', email, website_ids: [ws[14].id] });
  assertFailed(again, ws[14].id, ALREADY);
});

test('an organization member is already a member of every website, in both modes', async () => {
  const before = tableCounts(service);
  for (const method of ['direct', 'email']) {
    const results = await bulkOk(service, key, { invite_method: method, email: ownerEmail, website_ids: [ws[15].id, ws[16].id] });
    assertFailed(results[0], ws[15].id, ALREADY);
    assertFailed(results[1], ws[16].id, ALREADY);
  }
  assert.deepEqual(tableCounts(service), before);
});

test('UUIDs in upper case are accepted and answered in lower case', async () => {
  const email = uniqueEmail('upper');
  const [result] = await bulkOk(service, key, { invite_method: 'direct', email, website_ids: [ws[17].id.toUpperCase()] });
  assertAdded(result, ws[17].id);
});

test('email mode: supplied values are escaped in the HTML part; the link expires after the default 7 days', async () => {
  const site = await service.createWebsite(key, 'https://esc.mail-test.example/?a=1&b=2', 'Tom & Jerry <b>Shop</b>');
  const email = uniqueEmail('escape');
  const mailsBefore = (await drainedMails(service)).length;
  const [result] = await bulkOk(service, key, {
    invite_method: 'email', email, first_name: '<script>alert(1)</script>', last_name: 'O"Neil', website_ids: [site.id],
  });
  assertInvited(result, site.id);
  const [[created, expires]] = service.sql(`SELECT created_at, expires_at FROM invites WHERE ${uuidSql('id')} = ${q(result.invite_id)}`);
  assert.equal(Number(expires) - Number(created), 7 * 86400);

  const mails = await drainedMails(service);
  assert.equal(mails.length, mailsBefore + 1);
  const [mail] = mailsTo(mails, email);
  const html = mail.parts.find((p) => /^text\/html/i.test(p.type)).text;
  assert.ok(!html.includes('<script>alert(1)</script>'), 'no raw script from a name');
  assert.ok(html.includes('&lt;script&gt;'), 'the name is shown escaped');
  assert.ok(!html.includes('<b>Shop</b>'), 'no raw markup from a website name');
  assert.ok(html.includes('Tom &amp; Jerry'), 'the website name is shown escaped');
  for (const [name, value] of Object.entries(mail.headers)) {
    assert.ok(!/script/i.test(name), `no header from a supplied value: ${name}: ${value}`);
  }
});

test('a query string on the bulk path does not change the route', async () => {
  const response = await service.api('POST', '/api/v1/invites/bulk?dry_run=1', {
    key, body: { invite_method: 'direct', email: uniqueEmail('query'), website_ids: [ws[18].id] },
  });
  assert.equal(response.status, 200, response.text);
  assert.equal(response.body.results[0].message, ADDED);
});
