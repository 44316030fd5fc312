// Shared helpers for the black-box API tests: error-body checks, SQL probes, MIME decoding,
// fixtures (websites, groups, keys, members, invitations and their tokens), pagination probes and
// condition polling (never fixed sleeps: every wait has a condition and a deadline).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { execute, tableCounts as countRows, uuidText } from './database.mjs';

// Limits high enough that a test file never trips them by accident; the rate-limit tests start
// their own services with small limits. (Not 0: 0 switches the limit and its headers off.)
export const GENEROUS_LIMITS = [
  '--rate-limit-per-minute', '1000000', '--invite-limit-per-hour', '10000000', '--token-limit-per-minute', '1000000',
];

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const TIMESTAMP_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

export const newId = () => randomUUID();

let emailCounter = 0;
// A distinct address per call, so tests sharing one service never see each other's users.
export function uniqueEmail(tag = 'user') {
  emailCounter += 1;
  return `${tag}.${process.pid}.${emailCounter}.${Date.now().toString(36)}@example.com`;
}

// The exact (sorted) set of keys of an object.
export function assertKeys(object, keys, message) {
  assert.ok(object !== null && typeof object === 'object' && !Array.isArray(object), `not an object: ${JSON.stringify(object)}`);
  assert.deepEqual(Object.keys(object).sort(), [...keys].sort(), message ?? `keys of ${JSON.stringify(object)}`);
}

// A whole-request failure (SPEC §3): status, code, and the exact body shape
// {success:false, error, code[, details:[{field, message}]]}.
// `fields`: detail fields that must all be present (and then `details` is required).
// `exactFields`: the detail fields, exactly, in any order.
export function assertError(response, status, code, { fields, exactFields } = {}) {
  const context = `${response.status} ${response.text}`;
  assert.equal(response.status, status, context);
  assert.match(response.headers.get('content-type') ?? '', /^application\/json/, context);
  const body = response.body;
  assert.equal(typeof body, 'object', context);
  const allowed = ['success', 'error', 'code', 'details'];
  for (const k of Object.keys(body)) assert.ok(allowed.includes(k), `unexpected key ${k} in ${context}`);
  assert.equal(body.success, false, context);
  assert.equal(body.code, code, context);
  assert.equal(typeof body.error, 'string', context);
  assert.ok(body.error.length > 0, context);
  if (fields || exactFields) {
    assert.ok(Array.isArray(body.details), `details missing: ${context}`);
  }
  if (body.details !== undefined) {
    assert.ok(Array.isArray(body.details), context);
    for (const detail of body.details) {
      assertKeys(detail, ['field', 'message'], `detail shape in ${context}`);
      assert.equal(typeof detail.field, 'string', context);
      assert.equal(typeof detail.message, 'string', context);
      assert.ok(detail.message.length > 0, context);
    }
  }
  const got = (body.details ?? []).map((d) => d.field);
  for (const field of fields ?? []) assert.ok(got.includes(field), `details lack ${field}: ${context}`);
  if (exactFields) assert.deepEqual([...new Set(got)].sort(), [...exactFields].sort(), context);
  return body;
}

export function detailFor(body, field) {
  return (body.details ?? []).find((d) => d.field === field);
}

// POST /api/v1/invites/bulk with a JSON body.
export function bulk(service, key, body, headers = {}) {
  return service.api('POST', '/api/v1/invites/bulk', { key, body, headers });
}

// POST /api/v1/invites/bulk and insist on 200 with one result per id; returns the results.
export async function bulkOk(service, key, body) {
  const response = await bulk(service, key, body);
  assert.equal(response.status, 200, response.text);
  assertKeys(response.body, ['success', 'results']);
  assert.equal(response.body.success, true);
  const ids = body.website_ids ?? body.group_ids;
  assert.equal(response.body.results.length, ids.length, response.text);
  return response.body.results;
}

// Creates `count` websites concurrently; returns them in the order of their names (prefix-i).
export async function createWebsites(service, key, count, prefix = 'site') {
  return Promise.all(
    Array.from({ length: count }, (_, i) =>
      service.createWebsite(key, `https://${prefix}-${i}.example.org`, `${prefix} ${i}`),
    ),
  );
}

// SQL string literal.
export const q = (text) => `'${String(text).replaceAll("'", "''")}'`;

// A uuid column as canonical text, on the store under test (tests/support/database.mjs).
export const uuidSql = uuidText;

export function count(service, query) {
  return Number(service.sql(query)[0][0]);
}

// The users rows whose email matches case-insensitively (after trimming).
export function usersByEmail(service, email) {
  return service
    .sql(
      `SELECT ${uuidSql('id')}, email, email_key, coalesce(first_name, '<null>'), coalesce(last_name, '<null>'), CAST(email_verified AS INTEGER) FROM users WHERE lower(trim(email)) = lower(trim(${q(email)}))`,
    )
    .map(([id, addr, key, first, last, verified]) => ({
      id, email: addr, email_key: key, first_name: first, last_name: last, email_verified: Number(verified),
    }));
}

export function websiteMemberCount(service, websiteId, email) {
  let query = `SELECT COUNT(*) FROM website_members m JOIN websites w ON w.pk = m.website_pk JOIN users u ON u.pk = m.user_pk WHERE ${uuidSql('w.id')} = ${q(websiteId)}`;
  if (email !== undefined) query += ` AND u.email_key = lower(${q(email)})`;
  return count(service, query);
}

// Polls `check` until it returns a truthy value or the deadline passes.
export async function waitFor(check, { timeoutMs = 10000, intervalMs = 10, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

// How long a test waits for the mail worker. It sends one email at a time and runs at nice 10 (a
// tenth of a contended core): on a loaded machine two dozen queued emails took over 10 s. A
// generous deadline costs nothing when the mail goes out quickly.
export const MAIL_TIMEOUT_MS = 60000;

// Waits until the outbox has nothing queued (every email sent or failed), then returns the .eml
// files. Proves a negative ("no email") without sleeping: once the outbox is drained, a message
// that is not there will never be written.
export async function drainedMails(service) {
  await waitFor(() => count(service, 'SELECT COUNT(*) FROM outbox_emails WHERE status = 0') === 0, {
    timeoutMs: MAIL_TIMEOUT_MS,
    what: 'the outbox to drain',
  });
  return service.mails();
}

// Quoted-printable (RFC 2045 §6.7): soft line breaks and =XX escapes, decoded as UTF-8.
export function decodeQuotedPrintable(text) {
  const withoutSoftBreaks = text.replace(/=\r?\n/g, '');
  const bytes = [];
  for (let i = 0; i < withoutSoftBreaks.length; i++) {
    const c = withoutSoftBreaks[i];
    if (c === '=' && /^[0-9A-Fa-f]{2}$/.test(withoutSoftBreaks.slice(i + 1, i + 3))) {
      bytes.push(parseInt(withoutSoftBreaks.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(c, 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

function splitHeaderBody(text) {
  const match = /\r?\n\r?\n/.exec(text);
  if (!match) return { headerText: text, body: '' };
  return { headerText: text.slice(0, match.index), body: text.slice(match.index + match[0].length) };
}

function parseHeaders(headerText) {
  const headers = {};
  const unfolded = headerText.replace(/\r?\n[ \t]+/g, ' ');
  for (const line of unfolded.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  return headers;
}

function decodeBody(body, encoding = '7bit') {
  switch (encoding.toLowerCase()) {
    case 'quoted-printable':
      return decodeQuotedPrintable(body);
    case 'base64':
      return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
    default:
      return body;
  }
}

// Minimal MIME reader: the top-level headers and every leaf part decoded to text.
export function parseMail(raw) {
  const { headerText, body } = splitHeaderBody(raw);
  const headers = parseHeaders(headerText);
  const parts = [];
  const walk = (partHeaders, partBody) => {
    const type = partHeaders['content-type'] ?? 'text/plain';
    const boundary = /boundary="?([^";]+)"?/i.exec(type)?.[1];
    if (/^multipart\//i.test(type) && boundary) {
      const pieces = partBody.split(`--${boundary}`);
      for (const piece of pieces.slice(1)) {
        if (piece.startsWith('--')) break;
        const { headerText: h, body: b } = splitHeaderBody(piece.replace(/^\r?\n/, ''));
        walk(parseHeaders(h), b);
      }
      return;
    }
    parts.push({ type, text: decodeBody(partBody, partHeaders['content-transfer-encoding']) });
  };
  walk(headers, body);
  return { headers, parts, text: parts.map((p) => p.text).join('\n') };
}

// The decoded mails whose To header names `email`.
export function mailsTo(mails, email) {
  return mails.map(parseMail).filter((m) => (m.headers.to ?? '').toLowerCase().includes(email.toLowerCase()));
}

// Row counts of every table (tests/support/database.mjs), in one query: fast enough to take
// before and after every rejected request.
export function tableCounts(service) {
  return countRows(service);
}

// One HTTP/1.1 request over a plain socket, sent the way a careful client does: the body goes out
// in chunks, each after the previous one was accepted, and sending stops as soon as the answer
// starts to arrive (a server may answer an oversized body early and stop reading; fetch keeps
// writing, fails on the broken upload and loses the answer). `chunks` are sent with chunked
// transfer coding unless `contentLength` is set. Resolves with the response shaped like
// service.api()'s.
export async function rawRequest(port, { method = 'POST', path, headers = {}, chunks = [], contentLength = false }) {
  const net = await import('node:net');
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const received = [];
    socket.on('data', (d) => received.push(d));
    socket.on('error', () => {}); // a reset once the answer is in is fine; a missing answer is not
    socket.on('close', () => {
      const text = Buffer.concat(received).toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end < 0) return reject(new Error(`no HTTP response (got ${JSON.stringify(text.slice(0, 200))})`));
      const [statusLine, ...lines] = text.slice(0, end).split('\r\n');
      const responseHeaders = new Headers();
      for (const line of lines) {
        const colon = line.indexOf(':');
        responseHeaders.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
      }
      const rest = Buffer.from(text.slice(end + 4), 'latin1');
      const length = Number(responseHeaders.get('content-length') ?? rest.length);
      const bodyText = rest.subarray(0, length).toString('utf8');
      let body = bodyText;
      if ((responseHeaders.get('content-type') ?? '').includes('application/json')) body = JSON.parse(bodyText);
      resolve({ status: Number(statusLine.split(' ')[1]), headers: responseHeaders, body, text: bodyText });
    });
    const head = [`${method} ${path} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close'];
    for (const [name, value] of Object.entries(headers)) head.push(`${name}: ${value}`);
    const total = chunks.reduce((n, c) => n + Buffer.byteLength(c), 0);
    head.push(contentLength ? `Content-Length: ${total}` : 'Transfer-Encoding: chunked');
    const frames = chunks.map((c) => {
      const chunk = Buffer.from(c);
      return contentLength ? chunk : Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]);
    });
    if (!contentLength) frames.push(Buffer.from('0\r\n\r\n'));
    const send = (i) => {
      if (i >= frames.length || received.length > 0 || socket.destroyed) return;
      socket.write(frames[i], (error) => {
        if (!error) setImmediate(() => send(i + 1));
      });
    };
    socket.write(`${head.join('\r\n')}\r\n\r\n`, (error) => {
      if (!error) setImmediate(() => send(0));
    });
  });
}

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
    timeoutMs: MAIL_TIMEOUT_MS,
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

// A write on the test's own database (tests/support/database.mjs; the service sees it on its next
// read; on SQLite a busy timeout waits for the service's writer if it holds the lock).
export function sqlWrite(service, statement) {
  execute(service, statement);
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

// The cursor form of one list (SPEC §5), for a list whose items in order have the ids
// `expectedIds` (`idField` of each item): pages of limit 1 cover the list once in order with
// has_more true until the last, limit 100 is the whole list, the page form agrees on the order,
// limit out of 1..100 is 400 naming limit, mixing with the page form is 400 naming the page
// parameters, and a malformed or unknown starting_after is 400 naming it. `path` may carry a
// query. Returns the items of the whole list.
export async function assertCursorPagination(service, key, path, itemsName, idField, expectedIds) {
  const sep = path.includes('?') ? '&' : '?';
  const url = (query) => `${path}${sep}${query}`;
  const ids = (items) => items.map((item) => item[idField]);

  const seen = [];
  let after;
  for (let n = 0; n <= expectedIds.length; n++) {
    const page = await call(service, 'GET', url(`limit=1${after ? `&starting_after=${after}` : ''}`), { key });
    assertKeys(page, [itemsName, 'has_more'], `${path} cursor page ${n}`);
    assert.ok(page[itemsName].length <= 1);
    seen.push(...ids(page[itemsName]));
    if (!page.has_more) break;
    assert.equal(page[itemsName].length, 1, `${path}: has_more with an empty page`);
    after = page[itemsName][0][idField];
  }
  assert.deepEqual(seen, expectedIds, `${path}: pages of limit 1 are the list once, in order`);

  const all = await call(service, 'GET', url('limit=100'), { key });
  assertKeys(all, [itemsName, 'has_more']);
  assert.deepEqual(ids(all[itemsName]), expectedIds);
  assert.equal(all.has_more, false);
  const paged = await call(service, 'GET', url('page_size=100'), { key });
  assert.deepEqual(ids(paged[itemsName]), expectedIds, `${path}: the page form has the same order`);
  assert.deepEqual(paged[itemsName], all[itemsName], `${path}: both forms show the same items`);

  if (expectedIds.length > 0) {
    // starting_after alone selects the cursor form with the default limit (40).
    const rest = await call(service, 'GET', url(`starting_after=${expectedIds[0]}`), { key });
    assertKeys(rest, [itemsName, 'has_more']);
    assert.deepEqual(ids(rest[itemsName]), expectedIds.slice(1, 41));
    assert.equal(rest.has_more, expectedIds.length > 41);
    const last = await call(service, 'GET', url(`limit=5&starting_after=${expectedIds.at(-1)}`), { key });
    assert.deepEqual(last, { [itemsName]: [], has_more: false });
  }
  if (expectedIds.length > 2) {
    const two = await call(service, 'GET', url('limit=2'), { key });
    assert.deepEqual(ids(two[itemsName]), expectedIds.slice(0, 2));
    assert.equal(two.has_more, true);
  }

  for (const bad of ['limit=0', 'limit=101', 'limit=-1', 'limit=ten', 'limit=1.5', 'limit=']) {
    await expectError(service, 'GET', url(bad), { key }, 400, 'validation_error', { exactFields: ['limit'] });
  }
  const first = expectedIds[0] ?? randomUUID();
  for (const [query, fields] of [
    ['limit=1&page_size=1', ['page_size']],
    [`starting_after=${first}&page_num=0`, ['page_num']],
    ['limit=2&page_num=1&page_size=2', ['page_num', 'page_size']],
    ['limit=0&page_size=0', ['limit', 'page_size']],
  ]) {
    await expectError(service, 'GET', url(query), { key }, 400, 'validation_error', { exactFields: fields });
  }
  for (const cursor of ['not-a-uuid', '', randomUUID(), `${first}x`]) {
    const body = await expectError(service, 'GET', url(`limit=1&starting_after=${cursor}`), { key }, 400, 'validation_error', {
      exactFields: ['starting_after'],
    });
    assert.match(body.error, /^starting_after must be /);
  }
  return all[itemsName];
}
