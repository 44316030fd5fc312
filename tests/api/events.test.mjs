// The event log (SPEC §9): every change records its event in the same unit, with its actor and
// data; rejected, rolled-back and replayed requests record nothing; GET /api/v1/events pages by
// cursor (newest first, starting_after / ending_before) without gaps or repeats while events are
// being added, filters, and hides from a scoped key what it may not see. One service for the file.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startService } from '../support/service.mjs';
import { dialect, query, uuidEquals, uuidText } from '../support/database.mjs';
import {
  GENEROUS_LIMITS, TIMESTAMP_RE, UUID_RE, addDirect, call, createGroup, createKeyViaApi, expectError,
  inviteByEmail, latestToken, newId, uniqueEmail, waitFor, websitesInOrder,
} from '../support/assertions.mjs';

let service;
let org;
let key;
let sites;

before(async () => {
  service = await startService({ args: GENEROUS_LIMITS });
  org = service.createOrg('Events Inc', 'owner@events.example');
  key = org.api_key;
  sites = await websitesInOrder(service, key, 4, 'events');
});

after(async () => {
  if (service) assert.equal(await service.stop(), 0);
});

const keyActor = () => ({ type: 'api_key', id: org.key_id });

// Every event of the organization, newest first (pages of 100 through starting_after).
async function allEvents(query = '', apiKey = key) {
  const events = [];
  let cursor;
  for (;;) {
    const sep = query ? '&' : '';
    const page = await call(service, 'GET', `/api/v1/events?limit=100${cursor ? `&starting_after=${cursor}` : ''}${sep}${query}`, { key: apiKey });
    events.push(...page.events);
    if (!page.has_more) return events;
    cursor = page.events.at(-1).id;
  }
}

// The newest event id of the organization once every committed event is listed. On PostgreSQL a
// list shows an event only once every transaction older than it has ended (docs/api.md,
// "Events"), so under load an event just committed can lag a moment behind, and other test files
// write to the same cluster. A test settles before it takes a mark or compares lists.
async function settled() {
  const newestCommitted = () => query(service, `SELECT ${uuidText('id')} FROM events
    WHERE org_pk = (SELECT pk FROM organizations WHERE ${uuidEquals('id', org.org_id)})
    ORDER BY ${dialect({ sqlite: 'pk DESC', postgres: 'xact DESC, pk DESC' })} LIMIT 1`)[0]?.[0];
  let listed;
  await waitFor(async () => {
    listed = (await call(service, 'GET', '/api/v1/events?limit=1', { key })).events[0]?.id;
    return listed === newestCommitted();
  }, { timeoutMs: 60000, what: 'every committed event to be listed' });
  return listed;
}

// The events recorded after `since` (an event id, or undefined for all), oldest first.
async function eventsAfter(since) {
  await settled();
  const all = await allEvents();
  const index = since ? all.findIndex((e) => e.id === since) : all.length;
  assert.ok(index >= 0, 'the marker event is listed');
  return all.slice(0, index).reverse();
}

function assertEvent(event, type, actor) {
  assert.match(event.id, UUID_RE);
  assert.equal(event.type, type);
  assert.match(event.occurred_at, TIMESTAMP_RE);
  assert.deepEqual(event.actor, actor, `${type} actor`);
}

test('the admin CLI records api_key.created and the owner membership.created with actor admin; website.created with the key', async () => {
  await settled();
  const all = await allEvents('type=api_key.created&type=membership.*&type=website.created');
  const oldestFirst = all.reverse();
  assertEvent(oldestFirst[0], 'api_key.created', { type: 'admin' });
  assert.equal(oldestFirst[0].data.key_id, org.key_id);
  assert.deepEqual(Object.keys(oldestFirst[0].data), ['key_id', 'name', 'scoped', 'website_ids', 'created_at', 'revoked_at']);
  assert.equal(oldestFirst[0].data.revoked_at, null);
  assertEvent(oldestFirst[1], 'membership.created', { type: 'admin' });
  assert.deepEqual(oldestFirst[1].data, {
    user_id: org.owner_user_id, email: 'owner@events.example', role: 'owner', target_type: 'organization', target_id: org.org_id,
  });
  const created = oldestFirst.slice(2);
  assert.deepEqual(created.map((e) => e.type), ['website.created', 'website.created', 'website.created', 'website.created']);
  for (const [i, event] of created.entries()) {
    assertEvent(event, 'website.created', keyActor());
    assert.deepEqual(event.data, sites[i]);
  }
  // GET /api/v1/events/{id} answers the same event.
  assert.deepEqual((await call(service, 'GET', `/api/v1/events/${created[0].id}`, { key })).event, created[0]);
});

test('email invites: invitation.created per invite (the invite as GET shows it); a re-invite revokes the old one; revoke and resend', async () => {
  const email = uniqueEmail('evt');
  const mark = await settled();
  const [first, second] = await inviteByEmail(service, key, email, [sites[0].id, sites[1].id]);
  let events = await eventsAfter(mark);
  assert.deepEqual(events.map((e) => e.type), ['invitation.created', 'invitation.created']);
  for (const [event, id] of [[events[0], first], [events[1], second]]) {
    assertEvent(event, 'invitation.created', keyActor());
    const shown = (await call(service, 'GET', `/api/v1/invites/${id}`, { key })).invite;
    assert.deepEqual(event.data, { ...shown, delivery: 'queued' }, 'the invite as it was created');
  }

  // A re-invite to the first website replaces the pending invite: revoked, then created.
  const mark2 = await settled();
  const [replacement] = await inviteByEmail(service, key, email, [sites[0].id]);
  events = await eventsAfter(mark2);
  assert.deepEqual(events.map((e) => [e.type, e.data.id]), [['invitation.revoked', first], ['invitation.created', replacement]]);
  assert.equal(events[0].data.status, 'revoked');

  const mark3 = await settled();
  await call(service, 'DELETE', `/api/v1/invites/${second}`, { key });
  await call(service, 'POST', `/api/v1/invites/${replacement}/resend`, { key });
  events = await eventsAfter(mark3);
  assert.deepEqual(events.map((e) => [e.type, e.data.id, e.data.status]), [
    ['invitation.revoked', second, 'revoked'], ['invitation.resent', replacement, 'pending'],
  ]);
  assert.deepEqual(events[1].actor, keyActor());
});

test('direct adds: membership.created per membership; a direct add closing a pending invite records invitation.accepted', async () => {
  const email = uniqueEmail('direct');
  const [pending] = await inviteByEmail(service, key, email, [sites[2].id]);
  const mark = await settled();
  const userId = await addDirect(service, key, email, [sites[2].id, sites[3].id], { role: 'admin' });
  const events = await eventsAfter(mark);
  assert.deepEqual(events.map((e) => e.type), ['invitation.accepted', 'membership.created', 'membership.created']);
  assert.equal(events[0].data.id, pending);
  assert.equal(events[0].data.status, 'accepted');
  for (const [i, site] of [sites[2], sites[3]].entries()) {
    assertEvent(events[i + 1], 'membership.created', keyActor());
    assert.deepEqual(events[i + 1].data, { user_id: userId, email, role: 'admin', target_type: 'website', target_id: site.id });
  }

  // Role change and removal: membership.updated (after), membership.deleted (as it was).
  const mark2 = await settled();
  await call(service, 'PATCH', `/api/v1/websites/${sites[2].id}/members/${userId}`, { key, body: { role: 'viewer' } });
  await call(service, 'PATCH', `/api/v1/websites/${sites[2].id}/members/${userId}`, { key, body: { role: 'viewer' } });
  await call(service, 'DELETE', `/api/v1/websites/${sites[3].id}/members/${userId}`, { key });
  const changes = await eventsAfter(mark2);
  assert.deepEqual(changes.map((e) => [e.type, e.data.role, e.data.target_id]), [
    ['membership.updated', 'viewer', sites[2].id], ['membership.deleted', 'admin', sites[3].id],
  ], 'the same role again changes nothing and records nothing');
});

test('accepting (JSON) and declining (page) record the invitee as actor', async () => {
  const email = uniqueEmail('Accepts');
  const ids = await inviteByEmail(service, key, email, [sites[0].id, sites[1].id]);
  const token = await latestToken(service, email);
  const mark = await settled();
  const accepted = await call(service, 'POST', '/api/v1/invitations/accept', { body: { token } });
  const events = await eventsAfter(mark);
  assert.deepEqual(events.map((e) => e.type), ['invitation.accepted', 'invitation.accepted', 'membership.created', 'membership.created']);
  for (const event of events) assert.deepEqual(event.actor, { type: 'invitee', email });
  assert.deepEqual(events.slice(0, 2).map((e) => [e.data.id, e.data.status, e.data.delivery]), ids.map((id) => [id, 'accepted', 'sent']));
  assert.equal(events[2].data.user_id, accepted.user_id);
  // The user filter finds the acceptances and the memberships.
  const mine = await allEvents(`user_id=${accepted.user_id}`);
  assert.deepEqual(mine.map((e) => e.id).sort(), events.map((e) => e.id).sort());

  const declining = uniqueEmail('declines');
  const [declined] = await inviteByEmail(service, key, declining, [sites[2].id]);
  const declineToken = await latestToken(service, declining);
  const mark2 = await settled();
  const page = await service.fetch('/invites/decline', {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${encodeURIComponent(declineToken)}`,
  });
  assert.equal(page.status, 200);
  const after = await eventsAfter(mark2);
  assert.deepEqual(after.map((e) => [e.type, e.data.id, e.data.status]), [['invitation.declined', declined, 'declined']]);
  assert.deepEqual(after[0].actor, { type: 'invitee', email: declining });
});

test('websites, groups and API keys: deleted/restored, group created/updated/deleted, key created/revoked', async () => {
  const [site] = await websitesInOrder(service, key, 1, 'transient');
  const email = uniqueEmail('orphan');
  const [pending] = await inviteByEmail(service, key, email, [site.id]);
  const mark = await settled();
  await call(service, 'DELETE', `/api/v1/websites/${site.id}`, { key });
  await call(service, 'DELETE', `/api/v1/websites/${site.id}`, { key });
  await call(service, 'POST', `/api/v1/websites/${site.id}/restore`, { key });
  const group = await createGroup(service, key, 'Team', [sites[0].id]);
  const patched = (await call(service, 'PATCH', `/api/v1/groups/${group.id}`, { key, body: { name: 'Team 2', add_website_ids: [sites[1].id] } })).group;
  await call(service, 'DELETE', `/api/v1/groups/${group.id}`, { key });
  const created = await createKeyViaApi(service, key, 'temp', [sites[0].id]);
  await call(service, 'DELETE', `/api/v1/api-keys/${created.key_id}`, { key });
  await call(service, 'DELETE', `/api/v1/api-keys/${created.key_id}`, { key });
  const events = await eventsAfter(mark);
  assert.deepEqual(events.map((e) => e.type), [
    'website.deleted', 'invitation.revoked', 'website.restored',
    'group.created', 'group.updated', 'group.deleted', 'api_key.created', 'api_key.revoked',
  ], 'a second delete or revoke changes nothing and records nothing');
  for (const event of events) assert.deepEqual(event.actor, keyActor());
  assert.deepEqual(events[0].data, site, 'website.deleted: the website as it was');
  assert.equal(events[1].data.id, pending);
  assert.deepEqual(events[2].data, site);
  assert.deepEqual(events[3].data, group);
  assert.deepEqual(events[4].data, patched);
  assert.deepEqual(events[5].data, patched, 'group.deleted: the group as it was');
  assert.equal(events[6].data.key_id, created.key_id);
  assert.deepEqual(events[6].data.website_ids, [sites[0].id]);
  assert.equal(events[6].data.scoped, true);
  assert.match(events[7].data.revoked_at, TIMESTAMP_RE);
  assert.ok(!JSON.stringify(events).includes(created.api_key), 'never the secret');

  // The admin CLI's key: actor admin.
  const cliKey = service.createKey(org.org_id, [], 'cli');
  const [cliEvent] = await eventsAfter(events.at(-1).id);
  assert.deepEqual([cliEvent.type, cliEvent.actor, cliEvent.data.key_id], ['api_key.created', { type: 'admin' }, cliKey.key_id]);
});

test('rejected, rolled-back and replayed requests record nothing', async () => {
  const email = uniqueEmail('nothing');
  const mark = await settled();
  // Rejected: validation, scope, not found, conflict.
  await expectError(service, 'POST', '/api/v1/invites/bulk', { key, body: { invite_method: 'email', email: 'x', website_ids: [] } }, 400, 'validation_error');
  await expectError(service, 'POST', '/api/v1/invites', { key, body: { type: 'website', website_id: newId(), email, role: 'viewer', invite_method: 'email' } }, 404, 'not_found');
  const [revoked] = await inviteByEmail(service, key, email, [sites[0].id]);
  await call(service, 'DELETE', `/api/v1/invites/${revoked}`, { key });
  const afterSetup = await settled();
  await expectError(service, 'DELETE', `/api/v1/invites/${revoked}`, { key }, 409, 'conflict');
  // Rolled back inside its unit: the organization's last owner cannot be removed.
  await expectError(service, 'DELETE', `/api/v1/organizations/members/${org.owner_user_id}`, { key }, 409, 'conflict');
  // Every target not found: nothing written.
  const none = await call(service, 'POST', '/api/v1/invites/bulk', { key, body: { invite_method: 'direct', email, website_ids: [newId()] } });
  assert.equal(none.results[0].success, false);
  // Idempotent replay: the first records, the replay does not.
  const headers = { 'idempotency-key': `evt-${newId()}` };
  const body = { url: 'https://replayed.example.com' };
  const first = await service.api('POST', '/api/v1/websites', { key, body, headers });
  assert.equal(first.status, 201);
  const replay = await service.api('POST', '/api/v1/websites', { key, body, headers });
  assert.equal(replay.headers.get('idempotent-replayed'), 'true');
  const events = await eventsAfter(mark);
  assert.deepEqual(events.map((e) => e.type), ['invitation.created', 'invitation.revoked', 'website.created']);
  assert.equal((await eventsAfter(afterSetup)).length, 1, 'only the first of the keyed requests');
});

test('a scoped key sees only events naming websites of its allowlist; never group, key or organization-membership events', async () => {
  const scoped = service.createKey(org.org_id, [sites[0].id], 'scoped reader');
  const email = uniqueEmail('scoped');
  await addDirect(service, key, email, [sites[0].id, sites[1].id]);
  await settled();
  const visible = await allEvents('', scoped.api_key);
  assert.ok(visible.length > 0);
  const everything = await allEvents();
  for (const event of visible) {
    const named = event.data.website_id ?? (event.type.startsWith('website.') ? event.data.id : event.data.target_id);
    assert.equal(named, sites[0].id, `${event.type} names an allowed website`);
  }
  const hidden = everything.filter((e) => !visible.some((v) => v.id === e.id));
  assert.ok(hidden.some((e) => e.type.startsWith('api_key.')));
  assert.ok(hidden.some((e) => e.type.startsWith('group.')));
  assert.ok(hidden.some((e) => e.type === 'membership.created' && e.data.target_type === 'organization'));
  assert.ok(hidden.some((e) => e.data.target_id === sites[1].id || e.data.website_id === sites[1].id));
  for (const event of hidden.slice(0, 5)) {
    await expectError(service, 'GET', `/api/v1/events/${event.id}`, { key: scoped.api_key }, 404, 'not_found');
  }
  // A hidden event is no cursor for the scoped key.
  await expectError(service, 'GET', `/api/v1/events?starting_after=${hidden[0].id}`, { key: scoped.api_key }, 400, 'validation_error', { exactFields: ['starting_after'] });
  // Another organization's events are invisible.
  const other = service.createOrg('Other Events Co');
  const [otherEvent] = await allEvents('', other.api_key);
  assert.equal(otherEvent.type, 'api_key.created');
  await expectError(service, 'GET', `/api/v1/events/${otherEvent.id}`, { key }, 404, 'not_found');
});

test('filters: type (exact, family, repeated), website_id, group_id, email, since/until; each bad value is 400 naming its parameter', async () => {
  const email = uniqueEmail('Filters');
  const group = await createGroup(service, key, 'Filtered', [sites[3].id]);
  await inviteByEmail(service, key, email, [group.id], { kind: 'group' });
  await settled();
  const all = await allEvents();
  const check = async (query, predicate) => {
    const got = await allEvents(query);
    assert.deepEqual(got.map((e) => e.id), all.filter(predicate).map((e) => e.id), query);
    assert.ok(got.length > 0, `${query} matches something`);
  };
  await check('type=invitation.created', (e) => e.type === 'invitation.created');
  await check('type=invitation.*', (e) => e.type.startsWith('invitation.'));
  await check('type=group.created&type=website.deleted', (e) => e.type === 'group.created' || e.type === 'website.deleted');
  await check(`website_id=${sites[0].id}`, (e) => (e.type.startsWith('website.') ? e.data.id : e.data.website_id ?? (e.data.target_type === 'website' ? e.data.target_id : undefined)) === sites[0].id);
  await check(`group_id=${group.id}`, (e) => (e.type.startsWith('group.') ? e.data.id : e.data.group_id ?? (e.data.target_type === 'group' ? e.data.target_id : undefined)) === group.id);
  await check(`email=${encodeURIComponent(email.toUpperCase())}`, (e) => e.data.email === email);
  const times = [...new Set(all.map((e) => e.occurred_at))].sort();
  const since = times.at(-1);
  await check(`since=${since}`, (e) => e.occurred_at >= since);
  await check(`until=${since}&type=website.created`, (e) => e.occurred_at < since && e.type === 'website.created');
  assert.deepEqual((await call(service, 'GET', `/api/v1/events?website_id=${newId()}`, { key })).events, [], 'an unknown id matches nothing');

  for (const [query, field] of [
    ['limit=0', 'limit'], ['limit=101', 'limit'], ['limit=x', 'limit'], ['type=invitation.nope', 'type'], ['type=*', 'type'],
    ['website_id=nope', 'website_id'], ['group_id=1', 'group_id'], ['user_id=x', 'user_id'], ['email=not-an-email', 'email'],
    ['since=yesterday', 'since'], ['until=2026-13-01T00:00:00Z', 'until'], ['starting_after=x', 'starting_after'],
    ['ending_before=x', 'ending_before'], [`starting_after=${newId()}`, 'starting_after'], [`ending_before=${newId()}`, 'ending_before'],
    ['since=2026-11-27T00:00:00Z&until=2026-11-26T00:00:00Z', 'until'],
    [`starting_after=${all[0].id}&ending_before=${all[1].id}`, 'ending_before'],
  ]) {
    await expectError(service, 'GET', `/api/v1/events?${query}`, { key }, 400, 'validation_error', { exactFields: [field] });
  }
  await expectError(service, 'GET', '/api/v1/events/not-a-uuid', { key }, 404, 'not_found');
  await expectError(service, 'GET', `/api/v1/events/${newId()}`, { key }, 404, 'not_found');
});

test('cursor paging: limit pages cover the log once; a poller with ending_before and a walker with starting_after miss nothing and repeat nothing while events are added', async () => {
  await settled();
  const before = await allEvents();
  // Pages of 3 backwards over the settled log equal the whole list.
  const walked = [];
  let page = await call(service, 'GET', '/api/v1/events?limit=3', { key });
  assert.equal(page.events.length, 3);
  walked.push(...page.events);
  while (page.has_more) {
    page = await call(service, 'GET', `/api/v1/events?limit=3&starting_after=${walked.at(-1).id}`, { key });
    walked.push(...page.events);
  }
  assert.deepEqual(walked.map((e) => e.id), before.map((e) => e.id));
  assert.equal((await call(service, 'GET', '/api/v1/events', { key })).events.length, Math.min(40, before.length), 'default limit 40');

  // Writers add websites while a poller asks for what is newer than what it has.
  const writers = [];
  const added = [];
  for (let w = 0; w < 3; w++) {
    writers.push((async () => {
      for (let i = 0; i < 8; i++) added.push((await service.createWebsite(key, `https://poll-${w}-${i}.example.com`)).id);
    })());
  }
  const seen = [...before].reverse(); // oldest first
  let newest = seen.at(-1).id;
  let writing = true;
  const done = Promise.all(writers).then(() => { writing = false; });
  const deadline = Date.now() + 60000;
  for (;;) {
    assert.ok(Date.now() < deadline, 'the poller caught up within 60 s');
    // Once every write was answered (committed) and the poller has seen each website it
    // added, it has caught up; an event may be listed a moment after its commit (settled()).
    const finished = !writing;
    const newer = await call(service, 'GET', `/api/v1/events?limit=2&ending_before=${newest}`, { key });
    // The page nearest the cursor, newest first.
    const chunk = [...newer.events].reverse();
    seen.push(...chunk);
    if (chunk.length) newest = chunk.at(-1).id;
    if (finished && chunk.length === 0 && added.every((id) => seen.some((e) => e.data.id === id))) break;
  }
  await done;
  await settled();
  const ids = seen.map((e) => e.id);
  assert.equal(new Set(ids).size, ids.length, 'no event twice');
  const final = (await allEvents()).reverse();
  assert.deepEqual(ids, final.map((e) => e.id), 'the poller saw the log, in order, without gaps');
  assert.deepEqual(final.slice(before.length).map((e) => e.data.id).sort(), added.sort());
});
