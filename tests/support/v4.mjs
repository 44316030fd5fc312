// Helpers of the issue-4 API tests (websites, groups, members, invites, API keys, scope and
// tenancy): fixtures, invitation tokens read from the .eml files, writes to the test's own
// database, and pagination probes. Waits are conditions with deadlines, never fixed sleeps.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { assertError, count, waitFor } from './assertions.mjs';

// Every invitation link in one raw .eml: quoted-printable soft line breaks (=\r\n) are joined and
// =3D decoded before the token is read. Returns the distinct tokens in order.
export function tokensInMail(raw) {
  const decoded = raw.replace(/=\r?\n/g, '').replace(/=3D/gi, '=');
  return [...new Set([...decoded.matchAll(/\/invites\/accept\?token=([A-Za-z0-9_-]+)/g)].map((m) => m[1]))];
}

// The raw mails addressed to `email` (case-insensitive), oldest first.
export function mailsFor(service, email) {
  const wanted = email.toLowerCase();
  return service.mails().filter((raw) => {
    const to = /^To:(.*)$/im.exec(raw)?.[1] ?? '';
    return to.toLowerCase().includes(wanted);
  });
}

// Waits until the outbox has nothing queued, then returns the mails to `email`.
export async function settledMailsFor(service, email) {
  await waitFor(() => count(service, 'SELECT COUNT(*) FROM outbox_emails WHERE status = 0') === 0, {
    what: 'the outbox to drain',
  });
  return mailsFor(service, email);
}

// The token of the latest mail to `email`.
export async function latestToken(service, email) {
  const mails = await settledMailsFor(service, email);
  assert.ok(mails.length > 0, `no mail to ${email}`);
  const tokens = tokensInMail(mails.at(-1));
  assert.equal(tokens.length, 1, `one accept link expected in the mail to ${email}`);
  return tokens[0];
}

// A write on the test's own database through the sqlite3 tool (the service sees it on its next
// read; the busy timeout waits for the service's writer if it holds the lock).
export function sqlWrite(service, statement) {
  execFileSync('sqlite3', ['-cmd', '.timeout 5000', join(service.dir, 'invited.db'), statement], { encoding: 'utf8' });
}

// service.api with a status assertion; returns the body.
export async function call(service, method, path, { key, body, status = 200, headers } = {}) {
  const response = await service.api(method, path, { key, body, headers });
  assert.equal(response.status, status, `${method} ${path}: ${response.status} ${response.text}`);
  return response.body;
}

export async function expectError(service, method, path, { key, body, headers, raw } = {}, status, code, options) {
  const response = await service.api(method, path, { key, body, headers, raw });
  return assertError(response, status, code, options);
}

// The pagination contract of one list (SPEC §5): page_size 1 and 100, 101 and 0 → 400 naming
// page_size, a negative or non-numeric page_num → 400 naming page_num, a page past the end →
// empty with the right total, and the pages of size 1 together are the whole list in order.
// `path` has no query; `itemsName` is the list's key; `expectedTotal` how many items it has.
export async function assertPagination(service, key, path, itemsName, expectedTotal) {
  const sep = path.includes('?') ? '&' : '?';
  const all = await call(service, 'GET', `${path}${sep}page_size=100`, { key });
  assert.equal(all.total, expectedTotal, `${path} total`);
  assert.equal(all.page_num, 0);
  assert.equal(all.page_size, 100);
  assert.equal(all[itemsName].length, Math.min(expectedTotal, 100));

  const collected = [];
  for (let n = 0; n < expectedTotal; n++) {
    const one = await call(service, 'GET', `${path}${sep}page_size=1&page_num=${n}`, { key });
    assert.equal(one.page_size, 1);
    assert.equal(one.page_num, n);
    assert.equal(one.total, expectedTotal);
    assert.equal(one[itemsName].length, 1, `${path} page ${n} of size 1`);
    collected.push(one[itemsName][0]);
  }
  assert.deepEqual(collected, all[itemsName].slice(0, expectedTotal), `${path}: pages of 1 are the list in order`);

  const beyond = await call(service, 'GET', `${path}${sep}page_size=1&page_num=${expectedTotal + 5}`, { key });
  assert.deepEqual(beyond[itemsName], []);
  assert.equal(beyond.total, expectedTotal);
  assert.equal(beyond.page_num, expectedTotal + 5);

  const defaults = await call(service, 'GET', path, { key });
  assert.equal(defaults.page_num, 0);
  assert.equal(defaults.page_size, 40);

  for (const [query, field] of [
    ['page_size=101', 'page_size'], ['page_size=0', 'page_size'], ['page_size=ten', 'page_size'],
    ['page_num=-1', 'page_num'], ['page_num=1.5', 'page_num'],
  ]) {
    await expectError(service, 'GET', `${path}${sep}${query}`, { key }, 400, 'validation_error', { exactFields: [field] });
  }
  await expectError(service, 'GET', `${path}${sep}page_size=101&page_num=-1`, { key }, 400, 'validation_error', {
    exactFields: ['page_size', 'page_num'],
  });
}

// Creates `count` websites one after another (so their order is known).
export async function websitesInOrder(service, key, count, prefix) {
  const out = [];
  for (let i = 0; i < count; i++) out.push(await service.createWebsite(key, `https://${prefix}-${i}.example.com`, `${prefix} ${i}`));
  return out;
}

export async function createGroup(service, key, name, websiteIds = []) {
  return (await call(service, 'POST', '/api/v1/groups', { key, body: { name, website_ids: websiteIds }, status: 201 })).group;
}

export async function createKeyViaApi(service, key, name, websiteIds) {
  const body = websiteIds === undefined ? { name } : { name, website_ids: websiteIds };
  return call(service, 'POST', '/api/v1/api-keys', { key, body, status: 201 });
}

// direct-adds `email` to `ids` (websites, or groups with `kind` 'group'); returns the user id.
export async function addDirect(service, key, email, ids, { kind = 'website', role = 'viewer', ...names } = {}) {
  const field = kind === 'group' ? 'group_ids' : 'website_ids';
  const body = await call(service, 'POST', '/api/v1/invites/bulk', {
    key, body: { invite_method: 'direct', email, role, [field]: ids, ...names },
  });
  assert.ok(body.results.every((r) => r.success), JSON.stringify(body));
  return body.results[0].user_id;
}

// email-invites `email` to website `ids`; returns the invite ids.
export async function inviteByEmail(service, key, email, ids, { kind = 'website', role = 'viewer' } = {}) {
  const field = kind === 'group' ? 'group_ids' : 'website_ids';
  const body = await call(service, 'POST', '/api/v1/invites/bulk', {
    key, body: { invite_method: 'email', email, role, [field]: ids },
  });
  assert.ok(body.results.every((r) => r.success), JSON.stringify(body));
  return body.results.map((r) => r.invite_id);
}
