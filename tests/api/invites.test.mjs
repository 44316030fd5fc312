// invites (SPEC §5): POST /api/v1/invites for organization, website and group targets,
// the list with its filters and pagination, get, revoke (409 unless pending), resend (new token
// and expiry, exactly one new email, the old link answers 410), and expired invites.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startService } from '../support/service.mjs';
import { MAIL_TIMEOUT_MS, GENEROUS_LIMITS, TIMESTAMP_RE, UUID_RE, assertKeys, drainedMails, newId, tableCounts, uniqueEmail, waitFor } from '../support/assertions.mjs';
import {
  addDirect, assertPagination, call, createGroup, expectError, inviteByEmail, latestToken, settledMailsFor, sqlWrite, tokensInMail,
  websitesInOrder,
} from '../support/assertions.mjs';

let service;
let org;
let key;
let sites;
let group;

before(async () => {
  service = await startService({ args: GENEROUS_LIMITS });
  org = service.createOrg('Invites Inc', uniqueEmail('owner'));
  key = org.api_key;
  sites = await websitesInOrder(service, key, 3, 'inv');
  group = await createGroup(service, key, 'Invite group', [sites[2].id]);
});

after(async () => {
  if (service) assert.equal(await service.stop(), 0);
});

const INVITE_KEYS = (idField) => ['id', 'email', 'type', idField, 'role', 'status', 'delivery', 'created_at', 'expires_at'];

const getInvite = async (id, k = key) => (await call(service, 'GET', `/api/v1/invites/${id}`, { key: k })).invite;
const acceptJson = (token) => service.api('POST', '/api/v1/invitations/accept', { body: { token } });
const page = (token) => service.api('GET', `/invites/accept?token=${encodeURIComponent(token)}`);

test('POST /api/v1/invites: website, group and organization targets, direct and email; the shapes of SPEC §5', async () => {
  const cases = [
    [{ type: 'website', website_id: sites[0].id }, 'website', 'website_id', sites[0].id],
    [{ type: 'group', group_id: group.id }, 'group', 'group_id', group.id],
    [{ type: 'organization' }, 'organization', 'organization_id', org.org_id],
  ];
  for (const [target, noun, idField, targetId] of cases) {
    const emailed = uniqueEmail(`single-email-${noun}`);
    const sent = await call(service, 'POST', '/api/v1/invites', { key, body: { ...target, email: emailed, invite_method: 'email', role: 'admin', first_name: 'Ann' } });
    assertKeys(sent, ['success', 'message', 'invite_id']);
    assert.equal(sent.success, true);
    assert.equal(sent.message, 'Invitation sent');
    const invite = await getInvite(sent.invite_id);
    assertKeys(invite, INVITE_KEYS(idField));
    assert.equal(invite.id, sent.invite_id);
    assert.equal(invite.email, emailed);
    assert.equal(invite.type, noun);
    assert.equal(invite[idField], targetId);
    assert.equal(invite.role, 'admin');
    assert.equal(invite.status, 'pending');
    assert.ok(['queued', 'sent'].includes(invite.delivery));
    assert.match(invite.created_at, TIMESTAMP_RE);
    assert.equal(Date.parse(invite.expires_at) - Date.parse(invite.created_at), 7 * 86400 * 1000, 'default expiry 7 days');
    assert.ok(tokensInMail((await settledMailsFor(service, emailed)).at(-1)).length === 1, 'one email with one link');
    assert.equal((await getInvite(sent.invite_id)).delivery, 'sent');

    const direct = uniqueEmail(`single-direct-${noun}`);
    const added = await call(service, 'POST', '/api/v1/invites', { key, body: { ...target, email: direct, invite_method: 'direct' } });
    assertKeys(added, ['success', 'message', 'user_id']);
    assert.equal(added.message, `User added to ${noun}`);
    assert.match(added.user_id, UUID_RE);

    // Already a member: 409 conflict, nothing written.
    const before = tableCounts(service);
    const conflict = await expectError(service, 'POST', '/api/v1/invites', { key, body: { ...target, email: direct.toUpperCase(), invite_method: 'email' } }, 409, 'conflict');
    assert.equal(conflict.error, `User is already a member of this ${noun}`);
    assert.deepEqual(tableCounts(service), before);
  }
  // An organization member is already a member of every website and group.
  const orgMember = uniqueEmail('org-member');
  await call(service, 'POST', '/api/v1/invites', { key, body: { type: 'organization', email: orgMember, invite_method: 'direct' } });
  await expectError(service, 'POST', '/api/v1/invites', { key, body: { type: 'website', website_id: sites[1].id, email: orgMember, invite_method: 'direct' } }, 409, 'conflict');
});

test('POST /api/v1/invites: unknown targets 404 and every field error in one 400; nothing written', async () => {
  const before = tableCounts(service);
  let body = await expectError(service, 'POST', '/api/v1/invites', { key, body: { type: 'website', website_id: newId(), email: uniqueEmail('x'), invite_method: 'email' } }, 404, 'not_found');
  assert.equal(body.error, 'Website not found');
  body = await expectError(service, 'POST', '/api/v1/invites', { key, body: { type: 'group', group_id: newId(), email: uniqueEmail('x'), invite_method: 'direct' } }, 404, 'not_found');
  assert.equal(body.error, 'Group not found');

  await expectError(service, 'POST', '/api/v1/invites', { key, body: {} }, 400, 'validation_error', { exactFields: ['type', 'email', 'invite_method'] });
  await expectError(service, 'POST', '/api/v1/invites', { key, body: { type: 'team', email: 'a@b.example', invite_method: 'email' } }, 400, 'validation_error', { exactFields: ['type'] });
  await expectError(service, 'POST', '/api/v1/invites', { key, body: { type: 'website', email: 'a@b.example', invite_method: 'email' } }, 400, 'validation_error', { exactFields: ['website_id'] });
  await expectError(service, 'POST', '/api/v1/invites', {
    key, body: { type: 'website', website_id: 'nope', group_id: group.id, email: 'not an email', invite_method: 'post', role: 'owner', first_name: 'x'.repeat(101), last_name: 'a\u0007b', extra: true },
  }, 400, 'validation_error', { exactFields: ['website_id', 'group_id', 'email', 'invite_method', 'role', 'first_name', 'last_name', 'extra'] });
  await expectError(service, 'POST', '/api/v1/invites', { key, body: { type: 'organization', website_id: sites[0].id, email: 'a@b.example', invite_method: 'direct' } }, 400, 'validation_error', { exactFields: ['website_id'] });
  assert.deepEqual(tableCounts(service), before);
});

test('GET /api/v1/invites: newest first, filters by status, email (case-insensitive), website_id, group_id; pagination; 400 for bad filters', async () => {
  const svc = await startService({ args: GENEROUS_LIMITS });
  try {
    const o = svc.createOrg('List Org');
    const k = o.api_key;
    const ws = await websitesInOrder(svc, k, 2, 'list');
    const g = (await call(svc, 'POST', '/api/v1/groups', { key: k, status: 201, body: { name: 'G', website_ids: [ws[0].id] } })).group;
    const alice = uniqueEmail('Alice');
    const [a0, a1] = await inviteByEmail(svc, k, alice, [ws[0].id, ws[1].id]);
    const [bg] = await inviteByEmail(svc, k, uniqueEmail('bob'), [g.id], { kind: 'group' });
    const carol = uniqueEmail('carol');
    const [c0] = await inviteByEmail(svc, k, carol, [ws[0].id]);
    await call(svc, 'DELETE', `/api/v1/invites/${c0}`, { key: k });
    // Delivery states settle first, so the pages below are read from one unchanging list.
    await drainedMails(svc);

    const all = await call(svc, 'GET', '/api/v1/invites', { key: k });
    assertKeys(all, ['invites', 'page_num', 'page_size', 'total']);
    assert.equal(all.total, 4);
    // Newest first; the two invites of one request (same created_at) by id, descending.
    const alices = [a0, a1].sort().reverse();
    assert.deepEqual(all.invites.map((i) => i.id), [c0, bg, ...alices]);
    await assertPagination(svc, k, '/api/v1/invites', 'invites', 4);

    const ids = async (query) => (await call(svc, 'GET', `/api/v1/invites?${query}`, { key: k })).invites.map((i) => i.id);
    assert.deepEqual(await ids('status=pending'), [bg, ...alices]);
    assert.deepEqual(await ids('status=revoked'), [c0]);
    assert.deepEqual(await ids('status=accepted'), []);
    assert.deepEqual(await ids(`email=${encodeURIComponent(alice.toUpperCase())}`), alices);
    assert.deepEqual(await ids(`website_id=${ws[0].id}`), [c0, a0]);
    assert.deepEqual(await ids(`website_id=${ws[0].id}&status=pending`), [a0]);
    assert.deepEqual(await ids(`group_id=${g.id}`), [bg]);
    assert.deepEqual(await ids(`website_id=${newId()}`), []);
    assert.deepEqual(await ids(`group_id=${newId()}`), []);
    assert.deepEqual(await ids(`email=${encodeURIComponent(carol)}&status=pending`), []);
    await assertPagination(svc, k, `/api/v1/invites?email=${encodeURIComponent(alice)}`, 'invites', 2);

    // A deleted website still filters its invites (revoked by the deletion); a deleted group, or
    // another organization's website, filters everything out.
    const [gone] = await websitesInOrder(svc, k, 1, 'gone');
    const [d0] = await inviteByEmail(svc, k, uniqueEmail('dave'), [gone.id]);
    await call(svc, 'DELETE', `/api/v1/websites/${gone.id}`, { key: k });
    assert.deepEqual((await call(svc, 'GET', `/api/v1/invites?website_id=${gone.id}`, { key: k })).invites.map((i) => [i.id, i.status]), [[d0, 'revoked']]);
    await call(svc, 'DELETE', `/api/v1/groups/${g.id}`, { key: k });
    assert.deepEqual(await ids(`group_id=${g.id}`), []);
    const other = svc.createOrg('Other List Org');
    const [foreign] = await websitesInOrder(svc, other.api_key, 1, 'foreign');
    await inviteByEmail(svc, other.api_key, alice, [foreign.id]);
    assert.deepEqual(await ids(`website_id=${foreign.id}`), []);

    await expectError(svc, 'GET', '/api/v1/invites?status=open&email=nope&website_id=1&group_id=x&page_size=0', { key: k }, 400, 'validation_error', {
      exactFields: ['status', 'email', 'website_id', 'group_id', 'page_size'],
    });
  } finally {
    assert.equal(await svc.stop(), 0);
  }
});

test('GET /api/v1/invites/{id}: 404 for unknown, malformed and foreign ids', async () => {
  const other = service.createOrg('Invite Elsewhere');
  const [otherSite] = await websitesInOrder(service, other.api_key, 1, 'inv-else');
  const [foreign] = await inviteByEmail(service, other.api_key, uniqueEmail('foreign'), [otherSite.id]);
  for (const id of [newId(), foreign]) {
    const body = await expectError(service, 'GET', `/api/v1/invites/${id}`, { key }, 404, 'not_found');
    assert.equal(body.error, 'Invite not found');
  }
  // A malformed id is no route at all.
  assert.match((await expectError(service, 'GET', '/api/v1/invites/x', { key }, 404, 'not_found')).error, /no route/);
  assert.equal((await getInvite(foreign, other.api_key)).id, foreign);
});

test('DELETE /api/v1/invites/{id}: revokes a pending invite; 409 when revoked, accepted or declined; the link dies with the last pending invite', async () => {
  const email = uniqueEmail('revokee');
  const [i0, i1] = await inviteByEmail(service, key, email, [sites[0].id, sites[1].id]);
  const token = await latestToken(service, email);

  const revoked = await call(service, 'DELETE', `/api/v1/invites/${i0}`, { key });
  assertKeys(revoked, ['success', 'invite']);
  assert.equal(revoked.success, true);
  assert.equal(revoked.invite.id, i0);
  assert.equal(revoked.invite.status, 'revoked');
  assert.equal((await getInvite(i0)).status, 'revoked');
  const before = tableCounts(service);
  let body = await expectError(service, 'DELETE', `/api/v1/invites/${i0}`, { key }, 409, 'conflict');
  assert.match(body.error, /revoked/);
  assert.deepEqual(tableCounts(service), before);
  assert.equal((await getInvite(i1)).status, 'pending', 'the batch\'s other invite stays pending');

  // The link still works for the other invite.
  assert.equal((await page(token)).status, 200);
  await call(service, 'DELETE', `/api/v1/invites/${i1}`, { key });
  // Nothing pending in the batch: the link is gone.
  assert.equal((await page(token)).status, 410);
  body = (await acceptJson(token)).body;
  assert.equal(body.code, 'gone');

  // Accepted and declined invites cannot be revoked.
  const acceptedEmail = uniqueEmail('accepter');
  const [accepted] = await inviteByEmail(service, key, acceptedEmail, [sites[0].id]);
  assert.equal((await acceptJson(await latestToken(service, acceptedEmail))).status, 200);
  assert.equal((await getInvite(accepted)).status, 'accepted');
  body = await expectError(service, 'DELETE', `/api/v1/invites/${accepted}`, { key }, 409, 'conflict');
  assert.match(body.error, /accepted/);
  const declinedEmail = uniqueEmail('decliner');
  const [declined] = await inviteByEmail(service, key, declinedEmail, [sites[1].id]);
  const form = await service.fetch('/invites/decline', {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${await latestToken(service, declinedEmail)}`,
  });
  assert.equal(form.status, 200);
  assert.equal((await getInvite(declined)).status, 'declined');
  await expectError(service, 'DELETE', `/api/v1/invites/${declined}`, { key }, 409, 'conflict');
  await expectError(service, 'DELETE', `/api/v1/invites/${newId()}`, { key }, 404, 'not_found');
});

test('resend: a new token and expiry for the batch\'s pending invites, exactly one new email; the old link answers 410, the new one works', async () => {
  const email = uniqueEmail('resendee');
  const [i0, i1, i2] = await inviteByEmail(service, key, email, [sites[0].id, sites[1].id, sites[2].id]);
  const oldToken = await latestToken(service, email);
  const mailsBefore = (await settledMailsFor(service, email)).length;
  assert.equal(mailsBefore, 1);
  await call(service, 'DELETE', `/api/v1/invites/${i2}`, { key }); // revoked: not part of the new link
  const original = await getInvite(i0);

  const resent = await call(service, 'POST', `/api/v1/invites/${i1}/resend`, { key });
  assertKeys(resent, ['success', 'invite']);
  assert.equal(resent.success, true);
  assert.equal(resent.invite.id, i1);
  assert.equal(resent.invite.status, 'pending');
  assert.ok(Date.parse(resent.invite.expires_at) >= Date.parse(original.expires_at));

  const mails = await settledMailsFor(service, email);
  assert.equal(mails.length, mailsBefore + 1, 'exactly one new email');
  const newToken = tokensInMail(mails.at(-1))[0];
  assert.ok(newToken && newToken !== oldToken);
  assert.equal((await getInvite(i0)).expires_at, resent.invite.expires_at, 'the whole batch gets the new expiry');

  // The old link answers 410 on the page and in JSON; the new one works.
  const oldPage = await page(oldToken);
  assert.equal(oldPage.status, 410);
  const oldJson = await acceptJson(oldToken);
  assert.equal(oldJson.status, 410);
  assert.equal(oldJson.body.code, 'gone');
  assert.equal((await page(newToken)).status, 200);
  const accepted = await acceptJson(newToken);
  assert.equal(accepted.status, 200, accepted.text);
  assert.deepEqual(accepted.body.results.map((r) => [r.website_id, r.success, r.message ?? r.error]), [
    [sites[0].id, true, 'User added to website'],
    [sites[1].id, true, 'User added to website'],
    [sites[2].id, false, 'Invitation was revoked'],
  ]);
  assert.equal((await getInvite(i0)).status, 'accepted');
  assert.equal((await getInvite(i2)).status, 'revoked');

  // Not pending any more: resend is 409 and sends nothing.
  const before = tableCounts(service);
  const body = await expectError(service, 'POST', `/api/v1/invites/${i0}/resend`, { key }, 409, 'conflict');
  assert.match(body.error, /accepted/);
  await expectError(service, 'POST', `/api/v1/invites/${i2}/resend`, { key }, 409, 'conflict');
  await expectError(service, 'POST', `/api/v1/invites/${newId()}/resend`, { key }, 404, 'not_found');
  assert.deepEqual(tableCounts(service), before);
  assert.equal((await settledMailsFor(service, email)).length, mailsBefore + 1);
});

test('a new email invite revokes the earlier pending one; a direct add closes it as accepted', async () => {
  const email = uniqueEmail('replaced');
  const [first] = await inviteByEmail(service, key, email, [sites[0].id]);
  const [second] = await inviteByEmail(service, key, email.toUpperCase(), [sites[0].id]);
  assert.equal((await getInvite(first)).status, 'revoked');
  assert.equal((await getInvite(second)).status, 'pending');
  await addDirect(service, key, email, [sites[0].id]);
  assert.equal((await getInvite(second)).status, 'accepted');
});

test('expired invites show status expired (get, list, filter), cannot be revoked, and a resend revives them with a working link', async () => {
  // This test owns its database: it moves every expiry into the past.
  const svc = await startService({ args: GENEROUS_LIMITS });
  try {
    const o = svc.createOrg('Expiry Org');
    const k = o.api_key;
    const [site] = await websitesInOrder(svc, k, 1, 'exp');
    const email = uniqueEmail('late');
    const [id] = await inviteByEmail(svc, k, email, [site.id]);
    const oldToken = await latestToken(svc, email);
    sqlWrite(svc, 'UPDATE invites SET expires_at=0; UPDATE invite_batches SET expires_at=0');

    const expired = (await call(svc, 'GET', `/api/v1/invites/${id}`, { key: k })).invite;
    assert.equal(expired.status, 'expired');
    assert.equal(expired.expires_at, '1970-01-01T00:00:00Z');
    assert.deepEqual((await call(svc, 'GET', '/api/v1/invites?status=expired', { key: k })).invites.map((i) => i.id), [id]);
    assert.deepEqual((await call(svc, 'GET', '/api/v1/invites?status=pending', { key: k })).invites, []);
    assert.equal((await call(svc, 'GET', '/api/v1/invites', { key: k })).invites[0].status, 'expired');
    assert.equal((await svc.api('GET', `/invites/accept?token=${oldToken}`)).status, 410);
    assert.equal((await svc.api('POST', '/api/v1/invitations/accept', { body: { token: oldToken } })).status, 410);
    const body = await expectError(svc, 'DELETE', `/api/v1/invites/${id}`, { key: k }, 409, 'conflict');
    assert.match(body.error, /expired/);

    const resent = await call(svc, 'POST', `/api/v1/invites/${id}/resend`, { key: k });
    assert.equal(resent.invite.status, 'pending');
    assert.ok(Date.parse(resent.invite.expires_at) > Date.now() + 6 * 86400 * 1000);
    await waitFor(async () => (await settledMailsFor(svc, email)).length === 2, { timeoutMs: MAIL_TIMEOUT_MS, what: 'the resent email' });
    const newToken = await latestToken(svc, email);
    assert.notEqual(newToken, oldToken);
    assert.equal((await svc.api('GET', `/invites/accept?token=${oldToken}`)).status, 410);
    const accepted = await svc.api('POST', '/api/v1/invitations/accept', { body: { token: newToken } });
    assert.equal(accepted.status, 200, accepted.text);
    assert.equal((await call(svc, 'GET', `/api/v1/invites/${id}`, { key: k })).invite.status, 'accepted');
  } finally {
    assert.equal(await svc.stop(), 0);
  }
});

test('scoped keys: website invites within the allowlist only; group and organization invites, revoke and resend need a global key', async () => {
  const scoped = service.createKey(org.org_id, [sites[0].id], 'invites scoped').api_key;
  const inside = await call(service, 'POST', '/api/v1/invites', { key: scoped, body: { type: 'website', website_id: sites[0].id, email: uniqueEmail('in'), invite_method: 'email' } });
  const [outside] = await inviteByEmail(service, key, uniqueEmail('out'), [sites[1].id]);
  const [groupInvite] = await inviteByEmail(service, key, uniqueEmail('grp'), [group.id], { kind: 'group' });
  const orgInvite = (await call(service, 'POST', '/api/v1/invites', { key, body: { type: 'organization', email: uniqueEmail('org'), invite_method: 'email' } })).invite_id;

  const before = tableCounts(service);
  let body = await expectError(service, 'POST', '/api/v1/invites', { key: scoped, body: { type: 'website', website_id: sites[1].id, email: uniqueEmail('x'), invite_method: 'email' } }, 404, 'not_found');
  assert.equal(body.error, 'Website not found');
  await expectError(service, 'POST', '/api/v1/invites', { key: scoped, body: { type: 'group', group_id: group.id, email: uniqueEmail('x'), invite_method: 'email' } }, 403, 'global_key_required');
  await expectError(service, 'POST', '/api/v1/invites', { key: scoped, body: { type: 'organization', email: uniqueEmail('x'), invite_method: 'direct' } }, 403, 'global_key_required');
  await expectError(service, 'POST', '/api/v1/invites/bulk', { key: scoped, body: { invite_method: 'direct', email: uniqueEmail('x'), group_ids: [group.id] } }, 403, 'global_key_required');
  await expectError(service, 'DELETE', `/api/v1/invites/${inside.invite_id}`, { key: scoped }, 403, 'global_key_required');
  await expectError(service, 'POST', `/api/v1/invites/${inside.invite_id}/resend`, { key: scoped }, 403, 'global_key_required');
  await expectError(service, 'GET', `/api/v1/invites?group_id=${group.id}`, { key: scoped }, 403, 'global_key_required');
  for (const id of [outside, groupInvite, orgInvite]) {
    await expectError(service, 'GET', `/api/v1/invites/${id}`, { key: scoped }, 404, 'not_found');
  }
  assert.deepEqual(tableCounts(service), before);

  assert.equal((await getInvite(inside.invite_id, scoped)).website_id, sites[0].id);
  const listed = await call(service, 'GET', '/api/v1/invites?page_size=100', { key: scoped });
  assert.ok(listed.invites.length >= 1);
  assert.ok(listed.invites.every((i) => i.type === 'website' && i.website_id === sites[0].id), JSON.stringify(listed.invites));
  assert.equal(listed.total, listed.invites.length);
  assert.deepEqual((await call(service, 'GET', `/api/v1/invites?website_id=${sites[1].id}`, { key: scoped })).invites, []);
});

test('deleting a website or a group revokes its pending invites; accepting never reports success for a target that is gone', async () => {
  const [kept, doomed] = await websitesInOrder(service, key, 2, 'gone');
  const email = uniqueEmail('gone');
  const [keptInvite, doomedInvite] = await inviteByEmail(service, key, email, [kept.id, doomed.id]);
  const token = await latestToken(service, email);

  await call(service, 'DELETE', `/api/v1/websites/${doomed.id}`, { key });
  assert.equal((await getInvite(doomedInvite)).status, 'revoked', 'the deleted website\'s invite is revoked');
  assert.equal((await getInvite(keptInvite)).status, 'pending');
  const accepted = await acceptJson(token);
  assert.equal(accepted.status, 200, accepted.text);
  assert.deepEqual(accepted.body.results.map((r) => [r.website_id, r.success, r.message ?? r.error]), [
    [kept.id, true, 'User added to website'],
    [doomed.id, false, 'Invitation was revoked'],
  ]);
  assert.equal((await getInvite(doomedInvite)).status, 'revoked', 'never recorded as accepted');
  // A restore brings the website back, not the revoked invite.
  await call(service, 'POST', `/api/v1/websites/${doomed.id}/restore`, { key });
  assert.equal((await getInvite(doomedInvite)).status, 'revoked');

  const doomedGroup = await createGroup(service, key, 'Doomed group', [kept.id]);
  const groupEmail = uniqueEmail('gone-group');
  const [groupInvite] = await inviteByEmail(service, key, groupEmail, [doomedGroup.id], { kind: 'group' });
  const groupToken = await latestToken(service, groupEmail);
  await call(service, 'DELETE', `/api/v1/groups/${doomedGroup.id}`, { key });
  assert.equal((await getInvite(groupInvite)).status, 'revoked', 'the deleted group\'s invite is revoked');
  // Nothing of the batch is pending any more: its link answers 410, and nothing is added.
  const refused = await acceptJson(groupToken);
  assert.equal(refused.status, 410, refused.text);
  assert.equal(refused.body.code, 'gone');
  assert.equal((await page(groupToken)).status, 410);
  assert.equal((await getInvite(groupInvite)).status, 'revoked');
});
