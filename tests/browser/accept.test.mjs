// The invitation as a person meets it (issue 3): an email-mode invite is delivered to a real SMTP
// server, the link is taken from the received email and opened in Debian's Chromium (headless,
// driven by playwright-core); the person sees every website, clicks Accept (or Decline), and the
// result shows through the API. Also without JavaScript, with hostile names, and for an expired
// link. Screenshots of the invite, success and expired pages (desktop and phone, full page) go to
// build/test-artifacts/.
// The page leads on: after accepting, each website is a link to its URL, and an invitation to one
// website has a "Go to <website>" button. The machine has no internet, so following a link is
// intercepted (page.route) and answered by the test. The decline page and the 410 pages name the
// organization.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { startService } from '../support/service.mjs';
import { GENEROUS_LIMITS, uniqueEmail, bulkOk, q, uuidSql, assertError, sqlWrite, websiteMemberCount, usersByEmail } from '../support/assertions.mjs';
import { startSmtpSink, parseMail, acceptLink, tokenOf } from '../support/smtp.mjs';

const CHROMIUM = process.env.INVITED_CHROMIUM ?? '/usr/bin/chromium';
// The machine has no internet: keep Chromium from trying to reach it. Playwright gives every
// launch a fresh temporary --user-data-dir and removes it on close.
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--disable-quic', '--no-first-run', '--disable-default-apps', '--disable-extensions',
];
const ARTIFACTS = new URL('../../build/test-artifacts/', import.meta.url).pathname;
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

let sink;
let service;
let browser;
let key;
let websites;

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  sink = await startSmtpSink();
  // smtpUrl: the harness passes a --public-url that is the service's own address, so the
  // emailed link is reachable.
  service = await startService({ smtpUrl: sink.url, args: GENEROUS_LIMITS });
  const org = service.createOrg('Acme Analytics');
  key = org.api_key;
  websites = [];
  for (const [url, name] of [
    ['https://www.acme-analytics.example/', 'Marketing site'],
    ['https://docs.acme-analytics.example/getting-started', 'Docs portal'],
    ['https://support.eu.acme-analytics.example/knowledge-base/articles?lang=en', 'Customer support knowledge base (EU region)'],
  ]) {
    websites.push(await service.createWebsite(key, url, name));
  }
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 30000 });
});

after(async () => {
  if (browser) await browser.close();
  const codes = [];
  if (service) codes.push(await service.stop());
  if (sink) codes.push(await sink.stop());
  assert.deepEqual(codes, [0, 0]);
});

// Sends an email-mode invite and returns the accept link exactly as the received email has it.
async function invitedLink(apiKey, email, ids, extra = {}) {
  const results = await bulkOk(service, apiKey, { invite_method: 'email', email, website_ids: ids, ...extra });
  assert.ok(results.every((r) => r.success), JSON.stringify(results));
  const message = await sink.waitForMessageTo(email);
  const mail = await parseMail(message.raw);
  return acceptLink(mail);
}

// A page that records what would show a problem: script dialogs, page errors, console errors
// (a CSP violation is reported there).
async function openPage({ javaScriptEnabled = true } = {}) {
  const context = await browser.newContext({ viewport: DESKTOP, javaScriptEnabled });
  const page = await context.newPage();
  page.setDefaultTimeout(10000);
  const problems = { dialogs: [], errors: [], console: [] };
  page.on('dialog', async (dialog) => {
    problems.dialogs.push(dialog.message());
    await dialog.dismiss();
  });
  page.on('pageerror', (error) => problems.errors.push(String(error)));
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') problems.console.push(message.text());
  });
  return { context, page, problems };
}

// How far the page is wider than the viewport, and which elements of <main> stick out.
function sidewaysOverflow(page) {
  return page.evaluate(() => {
    const width = window.innerWidth;
    const wide = [...document.querySelectorAll('main *')]
      .filter((e) => e.getBoundingClientRect().right > width)
      .map((e) => `<${e.tagName.toLowerCase()}${e.className ? ` class="${e.className}"` : ''}>${(e.textContent ?? '').slice(0, 60)}`);
    return { by: document.documentElement.scrollWidth - width, wide };
  });
}

// Full-page screenshots at a desktop and a phone width.
async function screenshots(page, name) {
  for (const [label, viewport] of [['desktop', DESKTOP], ['phone', PHONE]]) {
    await page.setViewportSize(viewport);
    await page.screenshot({ path: join(ARTIFACTS, `${name}-${label}.png`), fullPage: true });
  }
  await page.setViewportSize(DESKTOP);
}

// At phone width: '' when the page fits, else what sticks out.
async function phoneOverflow(page, name) {
  await page.setViewportSize(PHONE);
  const overflow = await sidewaysOverflow(page);
  await page.setViewportSize(DESKTOP);
  if (overflow.by <= 0) return '';
  return `${name} page overflows sideways by ${overflow.by}px at ${PHONE.width}px; too wide: ${overflow.wide.join(' | ')}`;
}

// Answers every navigation to `url` with a small page of the test's own (the machine has no
// internet) and records each request that reached it.
async function interceptSite(page, url) {
  const reached = [];
  await page.route((candidate) => candidate.href === url, async (route) => {
    reached.push(route.request().url());
    await route.fulfill({ status: 200, contentType: 'text/html', body: '<!DOCTYPE html><title>Landed</title><h1>Landed</h1>' });
  });
  return reached;
}

// Clicks `link` and waits until the page has navigated to `url` (an intercepted site).
async function follow(page, link, url) {
  await Promise.all([page.waitForURL((candidate) => candidate.href === url, { waitUntil: 'load' }), link.click()]);
  assert.equal(page.url(), url);
  assert.equal(await page.locator('h1').innerText(), 'Landed');
}

// Clicks a submit button and returns the response of the form post it caused.
async function submit(page, buttonName, action) {
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === action),
    page.getByRole('button', { name: buttonName }).click(),
  ]);
  await page.waitForLoadState('load');
  return response;
}

const listedTexts = (page) => page.locator('ul.targets li').allInnerTexts();

async function assertStyled(page, problems) {
  // The inline stylesheet applies (the CSP allows it by hash): the two buttons look different.
  const [primary, secondary] = await page.evaluate(() =>
    ['button.primary', 'button.secondary'].map((s) => getComputedStyle(document.querySelector(s)).backgroundColor),
  );
  assert.notEqual(primary, secondary, 'Accept and Decline are styled');
  assert.deepEqual(problems.console.filter((m) => /Content Security Policy|Refused to/i.test(m)), [], 'no CSP violation');
}

test('accept in the browser: the link from the email shows every website; Accept adds the memberships', async () => {
  const email = uniqueEmail('browser.accept');
  const link = await invitedLink(key, email, websites.map((w) => w.id), { role: 'admin', first_name: 'Ada', last_name: 'Lovelace' });
  assert.ok(link.startsWith(`${service.url}/invites/accept?token=`), link);
  const { context, page, problems } = await openPage();
  try {
    const response = await page.goto(link);
    assert.equal(response.status(), 200);
    assert.match((await response.allHeaders())['content-security-policy'] ?? '', /frame-ancestors 'none'/);
    assert.equal(await page.locator('h1').innerText(), 'Join Acme Analytics');
    const items = await listedTexts(page);
    assert.equal(items.length, websites.length);
    for (const site of websites) {
      assert.ok(await page.getByText(site.name, { exact: true }).isVisible(), `${site.name} visible`);
      const item = items.find((text) => text.includes(site.name));
      assert.ok(item && item.includes(site.url) && /admin/i.test(item), `${site.name} with URL and role: ${item}`);
    }
    assert.ok((await page.locator('main').innerText()).includes(email), 'the page names the invited address');
    await assertStyled(page, problems);
    await screenshots(page, 'invite');

    const posted = await submit(page, 'Accept invitation', '/invites/accept');
    assert.equal(posted.status(), 200);
    assert.equal(await page.locator('h1').innerText(), 'You have joined Acme Analytics');
    const now = await listedTexts(page);
    for (const site of websites) assert.ok(now.some((text) => text.includes(site.name)), `success page lists ${site.name}`);
    // Each website is a link to its URL; with several websites there is no single "Go to".
    for (const site of websites) {
      const links = page.locator('ul.targets a', { hasText: site.name });
      assert.equal(await links.count(), 1, `one link for ${site.name}`);
      assert.equal(await links.getAttribute('href'), site.url);
    }
    assert.equal(await page.getByRole('link', { name: /^Go to / }).count(), 0);
    await screenshots(page, 'success');
    assert.deepEqual(problems, { dialogs: [], errors: [], console: [] });
    const success = page.url();

    // Following a website's link reaches its URL (answered by the test: no internet here).
    const site = websites[2];
    const reached = await interceptSite(page, site.url);
    await follow(page, page.locator('ul.targets a', { hasText: site.name }), site.url);
    assert.deepEqual(reached, [site.url]);
    assert.notEqual(page.url(), success);

    // The memberships through the API: verified email, the invited role, website access.
    for (const site of websites) {
      const members = await service.api('GET', `/api/v1/websites/${site.id}/members`, { key });
      assert.equal(members.status, 200);
      const member = members.body.members.find((m) => m.email === email);
      assert.ok(member, `${email} is a member of ${site.name}: ${members.text}`);
      assert.equal(member.email_verified, true);
      assert.equal(member.role, 'admin');
      assert.equal(member.access_type, 'website');
      assert.equal(member.first_name, 'Ada');
    }

    // The HTML part of the email itself, rendered the same way (for a person to look at).
    // (A fresh about:blank page: the invitation pages' CSP would block the email's inline styles.)
    const mail = await parseMail((await sink.waitForMessageTo(email)).raw);
    const emailPage = await context.newPage();
    await emailPage.setContent(mail.html, { waitUntil: 'load' });
    assert.ok((await emailPage.locator(`a[href="${link}"]`).count()) >= 1, 'the email links the invitation');
    await screenshots(emailPage, 'email');
    await emailPage.close();

    // The link has been used: opening it again shows the 410 page.
    const again = await page.goto(link);
    assert.equal(again.status(), 410);
    assert.equal(await page.locator('main p').innerText(), 'This invitation to join Acme Analytics has already been answered.');
  } finally {
    await context.close();
  }
});

test('decline in the browser: no membership, and the token then answers 410', async () => {
  const email = uniqueEmail('browser.decline');
  const ids = [websites[0].id, websites[1].id];
  const link = await invitedLink(key, email, ids);
  const { context, page, problems } = await openPage();
  try {
    assert.equal((await page.goto(link)).status(), 200);
    assert.equal((await listedTexts(page)).length, 2);
    const posted = await submit(page, 'Decline', '/invites/decline');
    assert.equal(posted.status(), 200);
    assert.equal(await page.locator('h1').innerText(), 'Invitation declined');
    assert.match(await page.locator('main').innerText(), /You declined the invitation from Acme Analytics\./);
    await page.screenshot({ path: join(ARTIFACTS, 'declined-desktop.png'), fullPage: true });
    assert.deepEqual(problems, { dialogs: [], errors: [], console: [] });
    // The link has been used: its 410 page names the organization too.
    assert.equal((await page.goto(link)).status(), 410);
    assert.equal(await page.locator('main p').innerText(), 'This invitation to join Acme Analytics has already been answered.');
  } finally {
    await context.close();
  }
  for (const id of ids) {
    const members = await service.api('GET', `/api/v1/websites/${id}/members`, { key });
    assert.equal(members.status, 200);
    assert.equal(members.body.members.filter((m) => m.email === email).length, 0, 'no membership after declining');
    assert.equal(websiteMemberCount(service, id, email), 0);
  }
  assertError(await service.api('POST', '/api/v1/invitations/accept', { body: { token: tokenOf(link) } }), 410, 'gone');
});

test('without JavaScript: the page and the Accept form post work the same', async () => {
  const email = uniqueEmail('browser.nojs');
  const link = await invitedLink(key, email, [websites[2].id], { role: 'viewer' });
  const { context, page, problems } = await openPage({ javaScriptEnabled: false });
  try {
    assert.equal((await page.goto(link)).status(), 200);
    assert.ok(await page.getByText(websites[2].name, { exact: true }).isVisible());
    const posted = await submit(page, 'Accept invitation', '/invites/accept');
    assert.equal(posted.status(), 200);
    assert.equal(await page.locator('h1').innerText(), 'You have joined Acme Analytics');
    assert.deepEqual(problems.errors, []);
  } finally {
    await context.close();
  }
  const members = await service.api('GET', `/api/v1/websites/${websites[2].id}/members`, { key });
  const member = members.body.members.find((m) => m.email === email);
  assert.ok(member, members.text);
  assert.equal(member.email_verified, true);
  assert.equal(member.role, 'viewer');
});

test('hostile names render as text: no script runs, no markup from a name', async () => {
  const hostile = service.createOrg('<script>alert(1)</script>');
  const cafe = await service.createWebsite(hostile.api_key, 'https://cafe.example/?a=1&b=2', 'Café <i>ünïcode</i>');
  const email = uniqueEmail('browser.hostile');
  const link = await invitedLink(hostile.api_key, email, [cafe.id], { first_name: 'Zoë "Z" <b>' });
  const { context, page, problems } = await openPage();
  try {
    assert.equal((await page.goto(link)).status(), 200);
    assert.equal(await page.locator('h1').innerText(), 'Join <script>alert(1)</script>');
    assert.ok(await page.getByText('Café <i>ünïcode</i>', { exact: true }).isVisible());
    assert.equal(await page.locator('main script, main i, main b').count(), 0, 'no element from a name');
    const posted = await submit(page, 'Accept invitation', '/invites/accept');
    assert.equal(posted.status(), 200);
    assert.equal(await page.locator('h1').innerText(), 'You have joined <script>alert(1)</script>');
    assert.equal(await page.locator('main script, main i, main b').count(), 0);
    // The links carry the URL exactly (escaped in the markup, '&' and all).
    assert.equal(await page.locator('ul.targets a').getAttribute('href'), 'https://cafe.example/?a=1&b=2');
    const goTo = page.getByRole('link', { name: 'Go to Café <i>ünïcode</i>' });
    assert.equal(await goTo.getAttribute('href'), 'https://cafe.example/?a=1&b=2');
    assert.deepEqual(problems.dialogs, [], 'no alert() ran');
    assert.deepEqual(problems.errors, []);
  } finally {
    await context.close();
  }
});

test('an invitation to one website: Accept leads on with a primary "Go to <website>" button', async () => {
  const site = websites[0];
  const email = uniqueEmail('browser.one');
  const link = await invitedLink(key, email, [site.id]);
  const { context, page, problems } = await openPage();
  try {
    assert.equal((await page.goto(link)).status(), 200);
    assert.equal((await submit(page, 'Accept invitation', '/invites/accept')).status(), 200);
    assert.equal(await page.locator('h1').innerText(), 'You have joined Acme Analytics');
    const goTo = page.getByRole('link', { name: `Go to ${site.name}` });
    assert.equal(await goTo.count(), 1);
    assert.ok(await goTo.isVisible());
    assert.equal(await goTo.getAttribute('href'), site.url);
    assert.match(await goTo.getAttribute('class'), /\bprimary\b/);
    // Styled as the primary action (the stylesheet applies under the CSP): a filled button.
    const background = await goTo.evaluate((e) => getComputedStyle(e).backgroundColor);
    assert.notEqual(background, 'rgba(0, 0, 0, 0)', 'the button has a background');
    await screenshots(page, 'success-one-website');
    assert.deepEqual(problems, { dialogs: [], errors: [], console: [] });

    const reached = await interceptSite(page, site.url);
    await follow(page, goTo, site.url);
    assert.deepEqual(reached, [site.url]);
  } finally {
    await context.close();
  }
});

test('a website URL that is not http(s) is shown as text, never linked, on the page and in the email', async () => {
  const site = await service.createWebsite(key, 'https://later-changed.example/', 'Legacy row');
  const hostileUrl = 'javascript:alert(document.domain)';
  sqlWrite(service, `UPDATE websites SET url = ${q(hostileUrl)} WHERE ${uuidSql('id')} = ${q(site.id)}`);
  const email = uniqueEmail('browser.scheme');
  const results = await bulkOk(service, key, { invite_method: 'email', email, website_ids: [site.id] });
  assert.ok(results[0].success, JSON.stringify(results));
  const mail = await parseMail((await sink.waitForMessageTo(email)).raw);
  assert.ok(mail.html.includes(hostileUrl), 'the email shows the URL');
  assert.ok(!/href="javascript:/i.test(mail.html), 'the email does not link it');
  const { context, page, problems } = await openPage();
  try {
    assert.equal((await page.goto(acceptLink(mail))).status(), 200);
    assert.equal((await submit(page, 'Accept invitation', '/invites/accept')).status(), 200);
    assert.ok((await listedTexts(page))[0].includes(hostileUrl), 'the URL is shown');
    assert.equal(await page.locator('main a').count(), 0, 'no link, no Go to button');
    assert.deepEqual(problems.dialogs, []);
  } finally {
    await context.close();
  }
});

test('a link replaced by a resend, and a revoked invitation: the 410 pages name the organization', async () => {
  const email = uniqueEmail('browser.replaced');
  const results = await bulkOk(service, key, { invite_method: 'email', email, website_ids: [websites[0].id, websites[1].id] });
  const first = acceptLink(await parseMail((await sink.waitForMessageTo(email)).raw));
  const resent = await service.api('POST', `/api/v1/invites/${results[0].invite_id}/resend`, { key });
  assert.equal(resent.status, 200, resent.text);

  const revokedEmail = uniqueEmail('browser.revoked');
  const revokedResults = await bulkOk(service, key, { invite_method: 'email', email: revokedEmail, website_ids: [websites[2].id] });
  const revokedLink = acceptLink(await parseMail((await sink.waitForMessageTo(revokedEmail)).raw));
  const revoked = await service.api('DELETE', `/api/v1/invites/${revokedResults[0].invite_id}`, { key });
  assert.equal(revoked.status, 200, revoked.text);

  const { context, page } = await openPage();
  try {
    assert.equal((await page.goto(first)).status(), 410);
    assert.equal(await page.locator('h1').innerText(), 'Invitation link replaced');
    assert.equal(await page.locator('main p').innerText(),
      'This link to join Acme Analytics was replaced by a newer invitation email. Use the link in the most recent email.');
    assert.equal((await page.goto(revokedLink)).status(), 410);
    assert.equal(await page.locator('h1').innerText(), 'Invitation revoked');
    assert.equal(await page.locator('main p').innerText(), 'This invitation to join Acme Analytics was revoked and can no longer be accepted.');
    // An unknown token names no organization.
    assert.equal((await page.goto(`${service.url}/invites/accept?token=${'x'.repeat(43)}`)).status(), 404);
    assert.doesNotMatch(await page.locator('main').innerText(), /Acme/);
  } finally {
    await context.close();
  }
});

test('an expired link shows a clear 410 page', async () => {
  const email = uniqueEmail('browser.expired');
  const link = await invitedLink(key, email, [websites[0].id, websites[1].id]);
  sqlWrite(service, `UPDATE invite_batches SET expires_at = 0 WHERE pk IN (SELECT batch_pk FROM invites WHERE email_key = lower(${q(email)}))`);
  const { context, page, problems } = await openPage();
  try {
    const response = await page.goto(link);
    assert.equal(response.status(), 410);
    assert.ok((await page.locator('h1').innerText()).length > 0);
    assert.match(await page.locator('main').innerText(), /expired/i);
    assert.match(await page.locator('main').innerText(), /This invitation to join Acme Analytics has expired\./);
    assert.equal(await page.getByRole('button').count(), 0, 'nothing to accept on an expired invitation');
    await screenshots(page, 'expired');
    assert.deepEqual(problems.errors, []);
  } finally {
    await context.close();
  }
  assert.equal(usersByEmail(service, email).length, 0);
});

test('the pages fit a phone screen (390 px) with a long but ordinary address and long website names', async () => {
  // 49 characters without a hyphen (a break opportunity): ordinary enough for a real address.
  const email = 'alexandra.konstantinopoulou@universityhospital.eu';
  const link = await invitedLink(key, email, websites.map((w) => w.id));
  const { context, page } = await openPage();
  try {
    assert.equal((await page.goto(link)).status(), 200);
    await page.setViewportSize(PHONE);
    await page.screenshot({ path: join(ARTIFACTS, 'invite-long-address-phone.png'), fullPage: true });
    const problems = [await phoneOverflow(page, 'invite')];
    assert.equal((await submit(page, 'Accept invitation', '/invites/accept')).status(), 200);
    await page.setViewportSize(PHONE);
    await page.screenshot({ path: join(ARTIFACTS, 'success-long-address-phone.png'), fullPage: true });
    problems.push(await phoneOverflow(page, 'success'));
    assert.deepEqual(problems.filter(Boolean), []);
  } finally {
    await context.close();
  }
});
