// POST /api/v1/invites/bulk: field validation (SPEC §3, §4). Every rejected request must answer
// 400 validation_error listing each failing field, and must write nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWithOrg } from '../support/service.mjs';
import {
  GENEROUS_LIMITS, assertError, tableCounts, assertKeys, bulk, bulkOk, detailFor, newId, uniqueEmail, usersByEmail,
} from '../support/assertions.mjs';

const COUNT_MESSAGE = 'must contain between 1 and 50 items';

let service;
let org;
let key;
let websites;

before(async () => {
  ({ service, org, key, websites } = await startWithOrg({ websiteCount: 2, args: GENEROUS_LIMITS }));
});

after(async () => {
  if (service) assert.equal(await service.stop(), 0);
});

// Sends `body`, expects 400 validation_error with (at least) `fields` in details, and proves that
// nothing at all was written.
async function rejects(body, fields, options = {}) {
  const before = tableCounts(service);
  const response = await bulk(service, options.key ?? key, body);
  const errorBody = assertError(response, 400, 'validation_error', { fields, exactFields: options.exactFields });
  assert.deepEqual(tableCounts(service), before, 'a request that fails validation writes nothing');
  return errorBody;
}

const valid = (overrides = {}) => ({
  invite_method: 'direct',
  email: uniqueEmail('valid'),
  website_ids: [websites[0].id],
  ...overrides,
});

test("the seed page's own example request (website_ids and group_ids together) is a validation_error", async () => {
  // Verbatim from seed/bulk-invite-endpoint.txt: it sends both lists, which the same page says are
  // mutually exclusive.
  const seedExample = {
    invite_method: 'direct',
    email: 'user@example.com',
    role: 'viewer',
    website_ids: ['123e4567-e89b-12d3-a456-426614174000', '987e6543-e21b-12d3-a456-426614174000'],
    group_ids: ['456e7890-e89b-12d3-a456-426614174000', '789e0123-e89b-12d3-a456-426614174000'],
    first_name: 'John',
    last_name: 'Doe',
  };
  const before = service.tableCounts();
  assert.deepEqual(tableCounts(service), before, 'the one-query helper counts the same rows');
  const response = await bulk(service, key, seedExample);
  const body = assertError(response, 400, 'validation_error');
  assertKeys(body, ['success', 'error', 'code', 'details']);
  assert.ok(body.details.length >= 1);
  assert.ok(
    body.details.some((d) => d.field === 'website_ids' || d.field === 'group_ids'),
    `details name the conflicting lists: ${response.text}`,
  );
  assert.deepEqual(service.tableCounts(), before);
  assert.equal(usersByEmail(service, 'user@example.com').length, 0);
});

test('the same conflict with real, valid ids of both kinds is still rejected', async () => {
  const body = await rejects(valid({ group_ids: [newId()] }), []);
  assert.ok(body.details.some((d) => d.field === 'website_ids' || d.field === 'group_ids'), JSON.stringify(body));
});

test('neither website_ids nor group_ids is a validation_error', async () => {
  const body = await rejects({ invite_method: 'direct', email: uniqueEmail() }, []);
  assert.ok(body.details.some((d) => d.field === 'website_ids' || d.field === 'group_ids'), JSON.stringify(body));
});

test('0 website ids: 400 with details website_ids "must contain between 1 and 50 items"', async () => {
  const body = await rejects(valid({ website_ids: [] }), ['website_ids'], { exactFields: ['website_ids'] });
  assert.equal(detailFor(body, 'website_ids').message, COUNT_MESSAGE);
  assert.match(body.error, /website_ids/);
});

test('51 website ids: 400 with details website_ids "must contain between 1 and 50 items"', async () => {
  const ids = Array.from({ length: 51 }, newId);
  const body = await rejects(valid({ website_ids: ids }), ['website_ids'], { exactFields: ['website_ids'] });
  assert.equal(detailFor(body, 'website_ids').message, COUNT_MESSAGE);
});

test('0 and 51 group ids: 400 with details group_ids "must contain between 1 and 50 items"', async () => {
  for (const ids of [[], Array.from({ length: 51 }, newId)]) {
    const body = await rejects(
      { invite_method: 'direct', email: uniqueEmail(), group_ids: ids },
      ['group_ids'],
      { exactFields: ['group_ids'] },
    );
    assert.equal(detailFor(body, 'group_ids').message, COUNT_MESSAGE);
  }
});

test('a repeated website id is rejected and the details name the repeated item', async () => {
  const a = websites[0].id;
  const b = websites[1].id;
  await rejects(valid({ website_ids: [a, a] }), ['website_ids[1]'], { exactFields: ['website_ids[1]'] });
  await rejects(valid({ website_ids: [a, b, a] }), ['website_ids[2]'], { exactFields: ['website_ids[2]'] });
});

test('the same UUID in another letter case counts as a repeat', async () => {
  const a = websites[0].id;
  await rejects(valid({ website_ids: [a, a.toUpperCase()] }), ['website_ids[1]']);
});

test('a repeated group id is rejected and the details name the repeated item', async () => {
  const g = newId();
  await rejects({ invite_method: 'direct', email: uniqueEmail(), group_ids: [newId(), g, g] }, ['group_ids[2]']);
});

test('items that are not UUID strings are named by index', async () => {
  await rejects(valid({ website_ids: [websites[0].id, 'not-a-uuid'] }), ['website_ids[1]']);
  await rejects(valid({ website_ids: [42] }), ['website_ids[0]']);
  await rejects(valid({ website_ids: [`${websites[0].id}x`] }), ['website_ids[0]']);
  await rejects(valid({ website_ids: '123e4567-e89b-12d3-a456-426614174000' }), ['website_ids']);
});

test('every failing field is listed in details when several are bad at once', async () => {
  const body = await rejects(
    {
      invite_method: 'sms',
      email: 'not-an-email',
      role: 'owner',
      website_ids: ['nope'],
      first_name: 'x'.repeat(101),
      last_name: 17,
    },
    ['invite_method', 'email', 'role', 'website_ids[0]', 'first_name', 'last_name'],
  );
  assert.ok(body.details.length >= 6);
});

test('missing required fields are each listed', async () => {
  const body = await rejects({ website_ids: [websites[0].id] }, ['invite_method', 'email']);
  assert.ok(!body.details.some((d) => d.field.startsWith('website_ids')), JSON.stringify(body));
});

test('wrong JSON types are validation errors', async () => {
  await rejects(valid({ invite_method: true }), ['invite_method'], { exactFields: ['invite_method'] });
  await rejects(valid({ email: 5 }), ['email'], { exactFields: ['email'] });
  await rejects(valid({ role: ['admin'] }), ['role'], { exactFields: ['role'] });
  await rejects(valid({ first_name: { a: 1 } }), ['first_name'], { exactFields: ['first_name'] });
  await rejects(valid({ website_ids: { 0: websites[0].id } }), ['website_ids'], { exactFields: ['website_ids'] });
});

test('an unknown field is a validation_error naming it', async () => {
  await rejects(valid({ websiteIds: [websites[0].id] }), ['websiteIds'], { exactFields: ['websiteIds'] });
  await rejects(valid({ send_email: false }), ['send_email'], { exactFields: ['send_email'] });
});

test('an empty key is a validation_error that says the field name is empty', async () => {
  const message = 'a field name is empty (the key ""): remove it';
  // Alone, it comes first, before the missing required fields.
  const alone = await rejects({ '': 1 }, ['']);
  assert.ok(alone.error.startsWith(`${message}; `), alone.error);
  assert.equal(detailFor(alone, '').message, message);
  // Beside a valid request it is the only failure, and the whole message.
  const beside = await rejects(valid({ '': 1 }), [''], { exactFields: [''] });
  assert.equal(beside.error, message);
});

test('null for a required field is the same as missing', async () => {
  await rejects(valid({ invite_method: null }), ['invite_method'], { exactFields: ['invite_method'] });
  await rejects(valid({ email: null }), ['email'], { exactFields: ['email'] });
});

test('null for an optional field means absent', async () => {
  const email = uniqueEmail('nulls');
  const results = await bulkOk(service, key, {
    invite_method: 'direct',
    email,
    role: null,
    group_ids: null,
    first_name: null,
    last_name: null,
    website_ids: [websites[0].id],
  });
  assert.equal(results[0].success, true, JSON.stringify(results));
  const members = await service.api('GET', `/api/v1/websites/${websites[0].id}/members?page_size=100`, { key });
  const member = members.body.members.find((m) => m.email === email);
  assert.ok(member, JSON.stringify(members.body));
  assert.equal(member.role, 'viewer', 'null role means the default, viewer');
  const [user] = usersByEmail(service, email);
  assert.equal(user.first_name, '<null>');
  assert.equal(user.last_name, '<null>');
});

test('invite_method must be "direct" or "email"', async () => {
  for (const method of ['Direct', 'EMAIL', '', 'sms']) {
    await rejects(valid({ invite_method: method }), ['invite_method'], { exactFields: ['invite_method'] });
  }
});

test('role "owner" is rejected; unknown roles are rejected', async () => {
  await rejects(valid({ role: 'owner' }), ['role'], { exactFields: ['role'] });
  await rejects(valid({ role: 'superuser' }), ['role'], { exactFields: ['role'] });
  await rejects(valid({ role: '' }), ['role'], { exactFields: ['role'] });
});

test('names longer than 100 characters are rejected; exactly 100 characters is fine', async () => {
  await rejects(valid({ first_name: 'a'.repeat(101) }), ['first_name'], { exactFields: ['first_name'] });
  await rejects(valid({ last_name: 'b'.repeat(101) }), ['last_name'], { exactFields: ['last_name'] });
  await rejects(valid({ first_name: 'é'.repeat(101) }), ['first_name'], { exactFields: ['first_name'] });

  // 100 characters, counted as characters rather than UTF-8 bytes (é is 2 bytes).
  const email = uniqueEmail('longname');
  const results = await bulkOk(service, key, valid({ email, first_name: 'a'.repeat(100), last_name: 'é'.repeat(100) }));
  assert.equal(results[0].success, true, JSON.stringify(results));
  const [user] = usersByEmail(service, email);
  assert.equal(user.first_name, 'a'.repeat(100));
  assert.equal(user.last_name, 'é'.repeat(100));
});

test('names with control characters are rejected', async () => {
  await rejects(valid({ first_name: 'Ann\nBcc: x@evil.example' }), ['first_name']);
  await rejects(valid({ last_name: 'Doe\u0000' }), ['last_name']);
});

test('names with bidirectional controls or line separators are rejected', async () => {
  for (const char of ['\u202a', '\u202e', '\u2066', '\u2069', '\u2028', '\u2029']) {
    await rejects(valid({ first_name: `Ann${char}Lee` }), ['first_name']);
    await rejects(valid({ last_name: `${char}Doe` }), ['last_name']);
  }
});

test('email must be addressable: an @, no whitespace, no control characters, at most 254 characters', async () => {
  const bad = [
    'no-at-sign.example.com',
    'two@@example.com',
    'with space@example.com',
    'tab\there@example.com',
    'ctl\u0001@example.com',
    '@example.com',
    'local@',
    '',
    '   ',
  ];
  for (const email of bad) {
    await rejects(valid({ email }), ['email'], { exactFields: ['email'] });
  }
  // 255 characters: 64 + 1 + 190.
  const tooLong = `${'l'.repeat(64)}@${'d'.repeat(63)}.${'e'.repeat(63)}.${'f'.repeat(62)}`;
  assert.equal(tooLong.length, 255);
  await rejects(valid({ email: tooLong }), ['email'], { exactFields: ['email'] });
});

test('an email of exactly 254 characters is accepted', async () => {
  const email = `${'l'.repeat(64)}@${'d'.repeat(63)}.${'e'.repeat(63)}.${'f'.repeat(61)}`;
  assert.equal(email.length, 254);
  const results = await bulkOk(service, key, valid({ email }));
  assert.equal(results[0].success, true, JSON.stringify(results));
});

test('field checks come before the scope check: a scoped key with group_ids and a bad field gets 400, not 403', async () => {
  const scoped = service.createKey(org.org_id, [websites[0].id]);
  await rejects({ invite_method: 'direct', email: 'bad email', group_ids: [newId()] }, ['email'], { key: scoped.api_key });
});
