// Invitation tokens on the pages and the JSON endpoint (SPEC §5 accept rows): unknown
// 404 `not_found`; expired, revoked, used (accepted) and declined 410 `gone`, each as a clear page
// and as JSON; the security headers of every page. Tokens come from the .eml files of the folder
// transport, decoded by a real MIME parser.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startWithOrg } from '../support/service.mjs';
import { execute, uuidEquals } from '../support/database.mjs';
import { MAIL_TIMEOUT_MS, GENEROUS_LIMITS, uniqueEmail, bulkOk, count, q, uuidSql, waitFor, assertError, websiteMemberCount, usersByEmail } from '../support/assertions.mjs';
import { parseMail, acceptLink, tokenOf } from '../support/smtp.mjs';

let service;
let key;
let websites;

before(async () => {
  ({ service, key, websites } = await startWithOrg({ websiteCount: 3, args: GENEROUS_LIMITS }));
});

after(async () => {
  if (service) assert.equal(await service.stop(), 0);
});

// Invites `email` by email to `ids`; returns the token of the email sent for this request, read
// from its .eml file (named after the Message-ID the outbox row carries).
async function invite(email, ids, extra = {}) {
  const results = await bulkOk(service, key, { invite_method: 'email', email, website_ids: ids, ...extra });
  assert.ok(results.every((r) => r.success), JSON.stringify(results));
  const batchEmail = `FROM outbox_emails o JOIN invites i ON i.batch_pk = o.batch_pk WHERE ${uuidEquals('i.id', results[0].invite_id)}`;
  await waitFor(() => count(service, `SELECT COUNT(*) ${batchEmail} AND o.status = 1`) === 1, {
    timeoutMs: MAIL_TIMEOUT_MS,
    intervalMs: 20,
    what: `the email to ${email}`,
  });
  const [[messageId]] = service.sql(`SELECT ${uuidSql('o.message_id')} ${batchEmail}`);
  const mail = await parseMail(readFileSync(join(service.dir, 'mail', `${messageId}.eml`)));
  assert.deepEqual(mail.to.value.map((v) => v.address), [email]);
  return tokenOf(acceptLink(mail));
}

// A write on the test's own database (the service sees it on its next read).
function sqlWrite(statement) {
  execute(service, statement);
}

const page = async (token) => {
  const response = await service.fetch(`/invites/accept?token=${encodeURIComponent(token)}`);
  return { status: response.status, headers: response.headers, html: await response.text() };
};

const form = async (action, token, contentType = 'application/x-www-form-urlencoded') => {
  const init = { method: 'POST', body: `token=${encodeURIComponent(token)}`, redirect: 'manual' };
  if (contentType) init.headers = { 'content-type': contentType };
  const response = await service.fetch(`/invites/${action}`, init);
  return { status: response.status, headers: response.headers, html: await response.text() };
};

const acceptJson = (token) => service.api('POST', '/api/v1/invitations/accept', { body: { token } });

const heading = (html) => /<h1>([\s\S]*?)<\/h1>/.exec(html)?.[1];
const lead = (html) => /<p class="lead">([\s\S]*?)<\/p>/.exec(html)?.[1] ?? '';

// The headers every page under /invites/ must send.
function assertPageHeaders({ headers, html }, context) {
  assert.match(headers.get('content-type') ?? '', /^text\/html;\s*charset=utf-8$/i, context);
  const csp = headers.get('content-security-policy') ?? '';
  assert.match(csp, /(^|;)\s*default-src 'none'/, `CSP default-src: ${csp} (${context})`);
  assert.match(csp, /(^|;)\s*frame-ancestors 'none'/, `CSP frame-ancestors: ${csp} (${context})`);
  assert.match(csp, /(^|;)\s*form-action 'self'/, `CSP form-action: ${csp} (${context})`);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/, context);
  assert.equal(headers.get('x-frame-options'), 'DENY', context);
  assert.match(headers.get('cache-control') ?? '', /\bno-store\b/, context);
  assert.equal(headers.get('referrer-policy'), 'no-referrer', context);
  assert.equal(headers.get('x-content-type-options'), 'nosniff', context);
  // The page's only inline style is the one the CSP allows by hash; there is no script at all.
  const styles = [...html.matchAll(/<style>([\s\S]*?)<\/style>/g)].map((m) => m[1]);
  assert.equal(styles.length, 1, context);
  const hash = createHash('sha256').update(styles[0], 'utf8').digest('base64');
  assert.ok(csp.includes(`'sha256-${hash}'`), `CSP allows the page's style by its hash (${context})`);
  assert.doesNotMatch(html, /<script/i, context);
  assert.doesNotMatch(html, /\sstyle=/i, `no inline style attributes, which the CSP would block (${context})`);
}

test('a valid link: the page lists every website with its role and has Accept and Decline forms', async () => {
  const email = uniqueEmail('page');
  const token = await invite(email, websites.map((w) => w.id), { role: 'admin' });
  const shown = await page(token);
  assert.equal(shown.status, 200);
  assertPageHeaders(shown, 'invitation page');
  assert.match(heading(shown.html), /Acme/);
  assert.ok(shown.html.includes(email), 'names the invited address');
  for (const site of websites) {
    assert.ok(shown.html.includes(site.name) && shown.html.includes(site.url), `lists ${site.name}`);
  }
  assert.equal([...shown.html.matchAll(/class="role">admin</g)].length, websites.length, 'each website with its role');
  for (const action of ['/invites/accept', '/invites/decline']) {
    const formHtml = new RegExp(`<form method="post" action="${action}">[\\s\\S]*?</form>`).exec(shown.html)?.[0];
    assert.ok(formHtml, `a form posting to ${action}`);
    assert.ok(formHtml.includes(`name="token" value="${token}"`), `${action} form carries the token`);
    assert.match(formHtml, /<button type="submit"/);
  }
  // Looking at the page changes nothing: the link still works.
  assert.equal((await page(token)).status, 200);
  assert.equal(count(service, `SELECT COUNT(*) FROM invites WHERE email_key = lower(${q(email)}) AND status = 0`), websites.length);
});

test('unknown token: 404 page and 404 not_found JSON; form posts 404 too', async () => {
  const bogus = 'A'.repeat(43);
  const shown = await page(bogus);
  assert.equal(shown.status, 404);
  assertPageHeaders(shown, 'unknown token page');
  assert.equal(heading(shown.html), 'Invitation link not valid');
  assert.match(lead(shown.html), /not valid/);
  assertError(await acceptJson(bogus), 404, 'not_found');
  for (const action of ['accept', 'decline']) {
    const posted = await form(action, bogus);
    assert.equal(posted.status, 404, action);
    assertPageHeaders(posted, `unknown token ${action}`);
    assert.equal(heading(posted.html), 'Invitation link not valid');
  }
  // A token longer than any real one is unknown, not an error of another kind.
  assert.equal((await page('x'.repeat(5000))).status, 404);
});

test('malformed requests: page without token 400, form without token 400, form of another type 415, JSON without token 400', async () => {
  const missing = await service.fetch('/invites/accept');
  assert.equal(missing.status, 400);
  assertPageHeaders({ headers: missing.headers, html: await missing.text() }, 'page without token');
  const empty = await form('accept', '');
  assert.equal(empty.status, 400);
  const wrongType = await form('accept', 'A'.repeat(43), 'text/plain');
  assert.equal(wrongType.status, 415);
  assertPageHeaders(wrongType, 'form of another type');
  assertError(await service.api('POST', '/api/v1/invitations/accept', { body: {} }), 400, 'validation_error', { exactFields: ['token'] });
  assertError(await service.api('POST', '/api/v1/invitations/accept', { body: { token: 'A'.repeat(43), extra: 1 } }), 400, 'validation_error');
});

test('used: accepted once, then every path answers 410', async () => {
  const email = uniqueEmail('used');
  const ids = [websites[0].id, websites[1].id];
  const token = await invite(email, ids, { first_name: 'Una', last_name: 'Used' });
  const accepted = await acceptJson(token);
  assert.equal(accepted.status, 200, accepted.text);
  assert.equal(accepted.body.success, true);
  const [user] = usersByEmail(service, email);
  assert.equal(accepted.body.user_id, user.id);
  assert.equal(user.email_verified, 1, 'accepting verifies the email');
  assert.equal(user.first_name, 'Una');
  assert.deepEqual(
    accepted.body.results,
    ids.map((id) => ({ website_id: id, success: true, message: 'User added to website', user_id: user.id })),
    'one result per invite, in the shape of bulk results',
  );
  for (const id of ids) assert.equal(websiteMemberCount(service, id, email), 1);

  assertError(await acceptJson(token), 410, 'gone');
  const shown = await page(token);
  assert.equal(shown.status, 410);
  assertPageHeaders(shown, 'used token page');
  assert.match(lead(shown.html), /already been answered/);
  for (const action of ['accept', 'decline']) assert.equal((await form(action, token)).status, 410, action);
  assert.equal(count(service, `SELECT COUNT(*) FROM invites WHERE email_key = lower(${q(email)}) AND status = 0`), 0, 'nothing pending');
  for (const id of ids) assert.equal(websiteMemberCount(service, id, email), 1, 'a second accept adds nothing');
});

test('accepting through the form post: 200 page naming what the person now has, membership verified', async () => {
  const email = uniqueEmail('formaccept');
  // The person exists already (added directly elsewhere, unverified): accepting verifies them.
  await bulkOk(service, key, { invite_method: 'direct', email, website_ids: [websites[2].id] });
  assert.equal(usersByEmail(service, email)[0].email_verified, 0);
  const token = await invite(email, [websites[0].id, websites[1].id]);
  const done = await form('accept', token);
  assert.equal(done.status, 200);
  assertPageHeaders(done, 'accepted page');
  assert.match(heading(done.html), /You have joined Acme/);
  assert.ok(done.html.includes(websites[0].name) && done.html.includes(websites[1].name));
  assert.equal(usersByEmail(service, email).length, 1, 'the existing user, not a second one');
  assert.equal(usersByEmail(service, email)[0].email_verified, 1);
  const members = await service.api('GET', `/api/v1/websites/${websites[0].id}/members`, { key });
  const member = members.body.members.find((m) => m.email === email);
  assert.ok(member, JSON.stringify(members.body));
  assert.equal(member.email_verified, true);
  assert.equal(member.role, 'viewer');
  assertError(await acceptJson(token), 410, 'gone');
});

test('declined: 200 page, no membership, then 410 on every path', async () => {
  const email = uniqueEmail('declined');
  const ids = [websites[0].id, websites[2].id];
  const token = await invite(email, ids);
  const declined = await form('decline', token);
  assert.equal(declined.status, 200);
  assertPageHeaders(declined, 'declined page');
  assert.equal(heading(declined.html), 'Invitation declined');
  assert.deepEqual(service.sql(`SELECT DISTINCT status FROM invites WHERE email_key = lower(${q(email)})`), [['2']], 'invites declined');
  for (const id of ids) assert.equal(websiteMemberCount(service, id, email), 0);
  assert.equal(usersByEmail(service, email).length, 0, 'declining creates no user');

  assertError(await acceptJson(token), 410, 'gone');
  const shown = await page(token);
  assert.equal(shown.status, 410);
  assertPageHeaders(shown, 'declined token page');
  assert.match(lead(shown.html), /already been answered/);
  for (const action of ['accept', 'decline']) assert.equal((await form(action, token)).status, 410, action);
  for (const id of ids) assert.equal(websiteMemberCount(service, id, email), 0);
});

test('expired: 410 page saying so, 410 gone JSON, form posts 410, nothing added', async () => {
  const email = uniqueEmail('expired');
  const token = await invite(email, [websites[1].id]);
  assert.equal((await page(token)).status, 200, 'works before it expires');
  sqlWrite(`UPDATE invite_batches SET expires_at = 0 WHERE pk IN (SELECT batch_pk FROM invites WHERE email_key = lower(${q(email)}))`);
  const shown = await page(token);
  assert.equal(shown.status, 410);
  assertPageHeaders(shown, 'expired page');
  assert.match(lead(shown.html), /expired/);
  assertError(await acceptJson(token), 410, 'gone');
  for (const action of ['accept', 'decline']) {
    const posted = await form(action, token);
    assert.equal(posted.status, 410, action);
    assert.match(lead(posted.html), /expired/);
  }
  assert.equal(websiteMemberCount(service, websites[1].id, email), 0);
  assert.equal(usersByEmail(service, email).length, 0);
});

test('revoked: re-inviting the same email to the same website revokes the old link (410); the new link works', async () => {
  const email = uniqueEmail('revoked');
  const oldToken = await invite(email, [websites[0].id]);
  const newToken = await invite(email, [websites[0].id], { role: 'admin' });
  assert.notEqual(oldToken, newToken);
  const shown = await page(oldToken);
  assert.equal(shown.status, 410);
  assertPageHeaders(shown, 'revoked page');
  assert.match(lead(shown.html), /revoked/);
  assertError(await acceptJson(oldToken), 410, 'gone');
  for (const action of ['accept', 'decline']) assert.equal((await form(action, oldToken)).status, 410, action);
  assert.equal(websiteMemberCount(service, websites[0].id, email), 0, 'the revoked link added nothing');

  const accepted = await acceptJson(newToken);
  assert.equal(accepted.status, 200, accepted.text);
  assert.deepEqual(accepted.body.results.map((r) => [r.website_id, r.success]), [[websites[0].id, true]]);
  const members = await service.api('GET', `/api/v1/websites/${websites[0].id}/members`, { key });
  assert.equal(members.body.members.find((m) => m.email === email)?.role, 'admin', 'the role of the newest invite');
});

test('partly revoked batch: the old link still accepts what is pending and reports the revoked target', async () => {
  const email = uniqueEmail('partly');
  const oldToken = await invite(email, [websites[0].id, websites[1].id]);
  const newToken = await invite(email, [websites[1].id]);
  const accepted = await acceptJson(oldToken);
  assert.equal(accepted.status, 200, accepted.text);
  const byId = Object.fromEntries(accepted.body.results.map((r) => [r.website_id, r]));
  assert.equal(accepted.body.results.length, 2, 'one result per invite of the batch');
  assert.equal(byId[websites[0].id].success, true);
  assert.equal(byId[websites[1].id].success, false);
  assert.equal(typeof byId[websites[1].id].error, 'string');
  assert.equal(websiteMemberCount(service, websites[0].id, email), 1);
  assert.equal(websiteMemberCount(service, websites[1].id, email), 0, 'the revoked target is not added by the old link');
  const second = await acceptJson(newToken);
  assert.equal(second.status, 200, second.text);
  assert.equal(websiteMemberCount(service, websites[1].id, email), 1);
});
