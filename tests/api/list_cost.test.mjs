// The cost of a list page (SPEC §5): "a cursor page costs the same whatever the list's length".
// A website with 20,000 members against one with 50, the first member page of each requested many
// times in pairs (one right after the other), one at a time: the median of the pairs' ratios
// stays within THRESHOLD for the cursor form, while the page form (whose total ranks every
// member) on the same data does not — the control that shows the data makes a cost that grows
// with the list visible.
//
// Members are seeded by one SQL transaction (tests/support/database.mjs), not through the API:
// 20,000 direct bulk requests take tens of seconds on the sanitizer build of a loaded 2-core machine,
// one transaction takes a fraction of a second. The rows are those the service itself writes (a
// user, and a website or group membership carrying the user's id); a few members are added
// through the API as well, so every kind of access is in both lists.
//
// THRESHOLD: measured on the shared 2-core machine (sanitizer build, load average 8-16, another
// test file running beside this one in `make test`), the cursor form's ratio was 0.98-1.2; the
// page form's 8-11. 1.5 is the target of the issue for 100,000 against 100 members.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startService } from '../support/service.mjs';
import { dialect, uuidEquals } from '../support/database.mjs';
import { GENEROUS_LIMITS, addDirect, call, count, createGroup, q, sqlWrite, uniqueEmail, websitesInOrder } from '../support/assertions.mjs';

const THRESHOLD = 1.5;
// Members of the big website. 20,000 rather than 5,000: on PostgreSQL the page form's count is
// cheap enough that 5,000 members made it only 1.4-1.5x slower on a loaded machine, too close to
// THRESHOLD for the control to tell the forms apart.
const BIG_MEMBERS = 20000;
const ROUNDS = 150;

let service;
let key;
let big;
let small;

// One transaction: `members` users, two in three direct members of `websiteId`, the rest members
// of `groupId` (a group holding it), granted one second apart up to now.
function seedMembers(websiteId, groupId, members, tag) {
  const seeded = `u.email_key LIKE ${q(`${tag}%@seed.example`)}`;
  const users = dialect({
    sqlite: `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ${members - 1})
      INSERT INTO users(id, email, email_key, created_at)
      SELECT randomblob(16), ${q(tag)} || i || '@seed.example', ${q(tag)} || i || '@seed.example',
             CAST(strftime('%s', 'now') AS INTEGER) - ${members} + i FROM n`,
    postgres: `INSERT INTO users(id, email, email_key, created_at)
      SELECT gen_random_uuid(), ${q(tag)} || i || '@seed.example', ${q(tag)} || i || '@seed.example',
             CAST(extract(epoch FROM now()) AS bigint) - ${members} + i FROM generate_series(0, ${members - 1}) AS n(i)`,
  });
  sqlWrite(service, `
    BEGIN;
    ${users};
    INSERT INTO website_members(website_pk, user_pk, role, created_at, user_id)
      SELECT w.pk, u.pk, 1, u.created_at, u.id FROM users u, websites w
      WHERE ${uuidEquals('w.id', websiteId)} AND ${seeded} AND u.pk % 3 <> 0;
    INSERT INTO group_members(group_pk, user_pk, role, created_at, user_id)
      SELECT g.pk, u.pk, 1, u.created_at, u.id FROM users u, website_groups g
      WHERE ${uuidEquals('g.id', groupId)} AND ${seeded} AND u.pk % 3 = 0;
    COMMIT;`);
}

before(async () => {
  service = await startService({ args: GENEROUS_LIMITS });
  const org = service.createOrg('Cost Inc', uniqueEmail('owner'));
  key = org.api_key;
  [big, small] = await websitesInOrder(service, key, 2, 'cost');
  const bigGroup = await createGroup(service, key, 'Big group', [big.id]);
  const smallGroup = await createGroup(service, key, 'Small group', [small.id]);
  seedMembers(big.id, bigGroup.id, BIG_MEMBERS, 'big');
  seedMembers(small.id, smallGroup.id, 50, 'small');
  for (const [site, group] of [[big, bigGroup], [small, smallGroup]]) {
    await addDirect(service, key, uniqueEmail('api-direct'), [site.id]);
    await addDirect(service, key, uniqueEmail('api-group'), [group.id], { kind: 'group' });
  }
  await call(service, 'POST', '/api/v1/invites', { key, body: { type: 'organization', invite_method: 'direct', email: uniqueEmail('staff') } });
});

after(async () => {
  if (service) assert.equal(await service.stop(), 0);
});

// Milliseconds for one GET, body read.
async function timed(path) {
  const started = performance.now();
  const response = await service.fetch(path, { headers: { 'x-api-key': key } });
  await response.arrayBuffer();
  assert.equal(response.status, 200);
  return performance.now() - started;
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

// `rounds` pairs of requests for the big and the small website's `query`, one right after the
// other (in alternating order): the medians of each, and the median of the pairs' ratios (two
// requests a millisecond apart share the background load, which the test files running beside
// this one make uneven).
async function medians(query, rounds) {
  const times = { big: [], small: [] };
  const ratios = [];
  for (let i = 0; i < rounds; i++) {
    const order = i % 2 === 0 ? [['big', big], ['small', small]] : [['small', small], ['big', big]];
    const pair = {};
    for (const [name, site] of order) pair[name] = await timed(`/api/v1/websites/${site.id}/members?${query}`);
    times.big.push(pair.big);
    times.small.push(pair.small);
    ratios.push(pair.big / pair.small);
  }
  return { big: median(times.big), small: median(times.small), ratio: median(ratios) };
}

test('the seeded lists hold what they should (and answer the contract)', async () => {
  const bigMembers = count(service, `SELECT COUNT(*) FROM website_members m JOIN websites w ON w.pk = m.website_pk WHERE ${uuidEquals('w.id', big.id)}`);
  assert.ok(bigMembers > 3000, `${bigMembers} direct members`);
  const bigPage = await call(service, 'GET', `/api/v1/websites/${big.id}/members?page_size=1`, { key });
  assert.equal(bigPage.total, BIG_MEMBERS + 2 + 2);  // seeded, two through the API, owner and staff
  const smallPage = await call(service, 'GET', `/api/v1/websites/${small.id}/members?page_size=1`, { key });
  assert.equal(smallPage.total, 50 + 2 + 2);
  const first = await call(service, 'GET', `/api/v1/websites/${big.id}/members?limit=40`, { key });
  assert.equal(first.members.length, 40);
  assert.equal(first.has_more, true);
});

test('cursor pages stay flat as members grow: 20,000 members against 50', async () => {
  // Warm-up: caches, statement preparation, the key lookup.
  await medians('limit=40', 20);
  const cursor = await medians('limit=40', ROUNDS);
  const page = await medians('page_size=40', 15);
  const cursorRatio = cursor.ratio;
  const pageRatio = page.ratio;
  const report = `cursor form: medians ${cursor.big.toFixed(2)} ms vs ${cursor.small.toFixed(2)} ms, median ratio ${cursorRatio.toFixed(2)}x; `
    + `page form: ${page.big.toFixed(2)} ms vs ${page.small.toFixed(2)} ms, ${pageRatio.toFixed(2)}x`;
  console.log(`# ${report}`);
  assert.ok(pageRatio > THRESHOLD, `control: the page form should grow with the list on this data: ${report}`);
  assert.ok(cursorRatio <= THRESHOLD, `the first cursor page grew with the list: ${report}`);
});
