// The consolidated invitation email as a real SMTP server receives it (SPEC §4 email mode, §7):
// one message per email-mode request listing every target with its role and the accept link,
// correct headers and MIME structure, hostile names escaped in HTML and RFC 2047-encoded in
// headers, no supplied value able to add a header, and no email when no target succeeds.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { startService } from '../support/service.mjs';
import { hexText } from '../support/database.mjs';
import { MAIL_TIMEOUT_MS, GENEROUS_LIMITS, uniqueEmail, bulk, bulkOk, newId, count, uuidSql, q, waitFor, assertError, tableCounts } from '../support/assertions.mjs';
import { startSmtpSink, parseMail, acceptLink, tokenOf } from '../support/smtp.mjs';

let sink;
let service;
let acme; // {org, key, websites}

const HOSTILE_ORG = '<script>alert(1)</script>';
const HOSTILE_SITE = 'Café <i>ünïcode</i>';
const QUOTED_SITE = `"Quoted" & 'single' <b>bold</b>`;
const HOSTILE_FIRST = 'Zoë "Z" <b>';
const HOSTILE_LAST = "O'Brien & <Sons>";

before(async () => {
  sink = await startSmtpSink();
  service = await startService({ smtpUrl: sink.url, args: GENEROUS_LIMITS });
  const org = service.createOrg('Acme Analytics');
  const websites = [];
  for (const [i, name] of ['Marketing site', 'Docs portal', 'Shop'].entries()) {
    websites.push(await service.createWebsite(org.api_key, `https://site${i}.acme.example/home`, name));
  }
  acme = { org, key: org.api_key, websites };
});

after(async () => {
  const codes = [];
  if (service) codes.push(await service.stop());
  if (sink) codes.push(await sink.stop());
  assert.deepEqual(codes, [0, 0], 'invited and the SMTP sink exit 0 on SIGTERM');
});

// Waits until nothing is queued in the outbox any more (each email sent, failed or cancelled).
async function outboxDrained() {
  await waitFor(() => count(service, 'SELECT COUNT(*) FROM outbox_emails WHERE status = 0') === 0, {
    timeoutMs: MAIL_TIMEOUT_MS,
    intervalMs: 20,
    what: 'the outbox to drain',
  });
}

async function onlyMessageTo(email) {
  await sink.waitForMessageTo(email);
  await outboxDrained();
  const received = sink.messagesTo(email);
  assert.equal(received.length, 1, `exactly one message to ${email}`);
  return { envelope: received[0].envelope, mail: await parseMail(received[0].raw) };
}

test('one email per email-mode request: every target with name, URL and role, and one accept link', async () => {
  const email = uniqueEmail('ada');
  const missing = newId();
  const ids = [acme.websites[0].id, missing, acme.websites[1].id, acme.websites[2].id];
  const results = await bulkOk(service, acme.key, {
    invite_method: 'email', email, role: 'admin', first_name: 'Ada', last_name: 'Lovelace', website_ids: ids,
  });
  assert.deepEqual(results.map((r) => r.success), [true, false, true, true]);
  assert.equal(results[1].error, 'Website not found');

  const { envelope, mail } = await onlyMessageTo(email);
  assert.deepEqual(envelope.rcpt_tos, [email], 'SMTP RCPT TO is the invitee only');
  assert.equal(envelope.mail_from, 'no-reply@127.0.0.1', 'MAIL FROM is the From address');

  for (const site of acme.websites) {
    assert.ok(mail.text.includes(site.name), `text names ${site.name}:\n${mail.text}`);
    assert.ok(mail.text.includes(site.url), `text has ${site.url}`);
    assert.ok(mail.html.includes(site.name), `html names ${site.name}`);
    assert.ok(mail.html.includes(`href="${site.url}"`), `html links ${site.url}`);
    // The role is on the same line as the website in the text part.
    const line = mail.text.split('\n').find((l) => l.includes(site.name));
    assert.match(line, /\badmin\b/, `role next to ${site.name}: ${line}`);
  }
  assert.ok(!/\bviewer\b/.test(mail.text), 'no target is listed with another role');
  assert.ok(!mail.text.includes(missing) && !mail.html.includes(missing), 'the failed target is not listed');
  assert.ok(mail.text.includes('Acme Analytics') && mail.html.includes('Acme Analytics'), 'names the organization');
  assert.match(mail.subject, /Acme Analytics/);
  assert.match(mail.text, /Hello Ada Lovelace/);
  assert.match(mail.text, /expires/i, 'states the expiry');

  const link = acceptLink(mail);
  assert.equal(new URL(link).pathname, '/invites/accept', link);
  const token = tokenOf(link);
  assert.ok(token.length >= 43, `token carries at least 256 bits: ${token}`);
  // The same link in the HTML part (as an href), and only one distinct link in each part.
  const htmlLinks = new Set([...mail.html.matchAll(/\/invites\/accept\?token=([A-Za-z0-9_-]+)/g)].map((m) => m[1]));
  const textLinks = new Set([...mail.text.matchAll(/\/invites\/accept\?token=([A-Za-z0-9_-]+)/g)].map((m) => m[1]));
  assert.deepEqual([...htmlLinks], [token]);
  assert.deepEqual([...textLinks], [token]);
  assert.ok(mail.html.includes(`href="${link}"`), 'the HTML part links the accept URL');

  // The token is stored hashed only (tests/smtp/tokens_at_rest.test.mjs reads the bytes the store keeps at rest).
  const hash = createHash('sha256').update(token).digest('hex');
  assert.equal(count(service, `SELECT COUNT(*) FROM invite_batches WHERE ${hexText('token_hash')} = upper(${q(hash)})`), 1);

  // The link opens a page that lists the same websites (its origin is checked in the next test).
  const page = await service.fetch(new URL(link).pathname + new URL(link).search);
  const html = await page.text();
  assert.equal(page.status, 200);
  for (const site of acme.websites) assert.ok(html.includes(site.name), `page names ${site.name}`);
});

test('the accept link is built on --public-url, here the running service\'s own address', async () => {
  const email = uniqueEmail('origin');
  await bulkOk(service, acme.key, { invite_method: 'email', email, website_ids: [acme.websites[0].id] });
  const { mail } = await onlyMessageTo(email);
  const link = acceptLink(mail);
  // --smtp-url requires --public-url; the harness sets it to the address the service serves on
  // (the default public URL, without SMTP, is tested in tests/api/settings_guards.test.mjs).
  assert.equal(service.publicUrl, service.url);
  assert.equal(new URL(link).origin, service.url, `accept link ${link} must reach the service at ${service.url}`);
  const page = await fetch(link);
  assert.equal(page.status, 200);
});

test('two requests to two people: two emails, each listing only its own targets', async () => {
  const first = uniqueEmail('first');
  const second = uniqueEmail('second');
  await bulkOk(service, acme.key, { invite_method: 'email', email: first, website_ids: [acme.websites[0].id] });
  await bulkOk(service, acme.key, {
    invite_method: 'email', email: second, role: 'viewer', website_ids: [acme.websites[1].id, acme.websites[2].id],
  });
  const a = (await onlyMessageTo(first)).mail;
  const b = (await onlyMessageTo(second)).mail;
  assert.ok(a.text.includes('Marketing site') && !a.text.includes('Docs portal') && !a.text.includes('Shop'), a.text);
  assert.ok(!b.text.includes('Marketing site') && b.text.includes('Docs portal') && b.text.includes('Shop'), b.text);
  assert.match(b.text, /Docs portal.*\bviewer\b/);
  assert.notEqual(a.messageId, b.messageId);
  assert.notEqual(tokenOf(acceptLink(a)), tokenOf(acceptLink(b)));
});

test('headers: From, To, Subject, Date, Message-ID, MIME-Version; multipart/alternative of text/plain and text/html', async () => {
  const email = uniqueEmail('headers');
  const before = Date.now();
  await bulkOk(service, acme.key, {
    invite_method: 'email', email, first_name: 'Grace', last_name: 'Hopper', website_ids: [acme.websites[0].id],
  });
  const { mail } = await onlyMessageTo(email);

  assert.equal(mail.from.value.length, 1);
  assert.equal(mail.from.value[0].address, 'no-reply@127.0.0.1');
  // The organization "via" the display name of the default --mail-from (invited <no-reply@host>).
  assert.equal(mail.from.value[0].name, 'Acme Analytics via invited');
  assert.equal(mail.to.value.length, 1);
  assert.equal(mail.to.value[0].address, email);
  assert.equal(mail.to.value[0].name, 'Grace Hopper');
  assert.equal(mail.cc, undefined);
  assert.equal(mail.bcc, undefined);
  assert.match(mail.subject, /^Acme Analytics invited you to 1 website$/);

  // Date: RFC 5322 syntax, and the time of sending.
  const dateLine = mail.headerLines.find((h) => h.name === 'date');
  assert.match(dateLine.value, /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{1,2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}$/);
  assert.ok(mail.date instanceof Date && !Number.isNaN(mail.date.getTime()));
  assert.ok(mail.date.getTime() >= before - 2000 && mail.date.getTime() <= Date.now() + 2000, `Date ${dateLine.value}`);

  // Message-ID: <uuid@host>, and the id the outbox keeps for this email (stable across retries).
  assert.match(mail.messageId, /^<[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}@127\.0\.0\.1>$/);
  const stored = service.sql(`SELECT ${uuidSql('message_id')} FROM outbox_emails WHERE to_address = ${q(email)}`);
  assert.deepEqual(stored, [[mail.messageId.slice(1, mail.messageId.indexOf('@'))]]);

  const mimeVersion = mail.headerLines.filter((h) => h.name === 'mime-version');
  assert.deepEqual(mimeVersion.map((h) => h.value), ['1.0']);

  // Each of these headers exactly once.
  for (const name of ['from', 'to', 'subject', 'date', 'message-id', 'mime-version', 'content-type']) {
    assert.equal(mail.headerLines.filter((h) => h.name === name).length, 1, `one ${name} header`);
  }

  // The MIME tree: a multipart/alternative with a text/plain then a text/html child, both UTF-8.
  assert.deepEqual(
    mail.tree.map(({ depth, contentType, multipart, charset }) => ({ depth, contentType, multipart, charset })),
    [
      { depth: 0, contentType: 'multipart/alternative', multipart: 'alternative', charset: null },
      { depth: 1, contentType: 'text/plain', multipart: null, charset: 'utf-8' },
      { depth: 1, contentType: 'text/html', multipart: null, charset: 'utf-8' },
    ],
  );
  for (const part of mail.tree.slice(1)) {
    assert.ok(['quoted-printable', '7bit'].includes(part.encoding), `encoding ${part.encoding} (never 8bit: the SMTP client cannot declare 8BITMIME)`);
  }
  assert.ok(mail.text.length > 0 && mail.html.length > 0);
  assert.match(mail.html, /<html[\s>]/i);
  assert.doesNotMatch(mail.text, /<(html|p|ul|li|a)\b/i, 'the text part is not HTML');

  // The wire format: CRLF line ends, header lines ASCII and at most 998 characters.
  assert.ok(!/[^\r]\n/.test(mail.raw), 'every line ends in CRLF');
  for (const { line } of mail.headerLines) {
    assert.ok(/^[\x20-\x7e]*$/.test(line), `header line is printable ASCII: ${line}`);
    assert.ok(line.length <= 998, 'header line within 998 characters');
  }
});

test('hostile names: HTML-escaped in the HTML part, verbatim in the text part, RFC 2047 in headers', async () => {
  const hostile = service.createOrg(HOSTILE_ORG);
  const cafe = await service.createWebsite(hostile.api_key, 'https://cafe.example/menu?a=1&b=2', HOSTILE_SITE);
  const quoted = await service.createWebsite(hostile.api_key, 'https://quoted.example/', QUOTED_SITE);
  const email = uniqueEmail('zoe');
  await bulkOk(service, hostile.api_key, {
    invite_method: 'email', email, first_name: HOSTILE_FIRST, last_name: HOSTILE_LAST, website_ids: [cafe.id, quoted.id],
  });
  const { mail, envelope } = await onlyMessageTo(email);
  assert.deepEqual(envelope.rcpt_tos, [email]);

  // HTML part: no markup from any supplied value survives.
  assert.doesNotMatch(mail.html, /<script/i, 'no raw <script> in the HTML part');
  assert.doesNotMatch(mail.html, /<i>|<b>|<\/b>|<Sons>/, 'no raw tag from a supplied name');
  assert.ok(mail.html.includes('&lt;script&gt;alert(1)&lt;/script&gt;'), 'organization name escaped');
  assert.ok(mail.html.includes('Café &lt;i&gt;ünïcode&lt;/i&gt;'), 'website name escaped, non-ASCII kept');
  const quot = '(?:&quot;|&#34;|&#x22;)';
  const apos = '(?:&#39;|&#x27;|&apos;)';
  assert.match(mail.html, new RegExp(`${quot}Quoted${quot} &amp; ${apos}single${apos} &lt;b&gt;bold&lt;/b&gt;`), 'quotes and ampersand escaped');
  assert.match(mail.html, new RegExp(`Zoë ${quot}Z${quot} &lt;b&gt;`), 'first name escaped');
  assert.match(mail.html, new RegExp(`O${apos}Brien &amp; &lt;Sons&gt;`), 'last name escaped');
  assert.ok(mail.html.includes('href="https://cafe.example/menu?a=1&amp;b=2"'), 'URL escaped inside the attribute');

  // Text part: the names as they are (it is not HTML).
  assert.ok(mail.text.includes(HOSTILE_ORG), mail.text);
  assert.ok(mail.text.includes(HOSTILE_SITE), mail.text);
  assert.ok(mail.text.includes(QUOTED_SITE), mail.text);
  assert.ok(mail.text.includes(`${HOSTILE_FIRST} ${HOSTILE_LAST}`), mail.text);
  assert.ok(mail.text.includes('https://cafe.example/menu?a=1&b=2'), mail.text);

  // Non-ASCII names and all, every byte of the message is ASCII: the text part goes
  // quoted-printable, never 8bit (which would need BODY=8BITMIME, RFC 6152).
  assert.ok(/^[\x00-\x7f]*$/.test(mail.raw), 'every byte of the message is ASCII');
  assert.equal(mail.tree[1].encoding, 'quoted-printable', 'the non-ASCII text part');
  // To: the non-ASCII display name travels as RFC 2047 encoded words and decodes back exactly.
  const toLine = mail.headerLines.find((h) => h.name === 'to');
  assert.match(toLine.value, /^=\?UTF-8\?[BQ]\?/i, `encoded display name: ${toLine.value}`);
  assert.ok(toLine.value.endsWith(`<${email}>`), toLine.value);
  assert.ok(!toLine.value.includes('Zoë'), 'no raw non-ASCII in the To line');
  assert.deepEqual(mail.to.value, [{ address: email, name: `${HOSTILE_FIRST} ${HOSTILE_LAST}` }]);
  // From: the organization's name, encoded the same way, before "via invited".
  assert.deepEqual(mail.from.value, [{ address: 'no-reply@127.0.0.1', name: `${HOSTILE_ORG} via invited` }]);
  assert.match(mail.headerLines.find((h) => h.name === 'from').value, /^=\?UTF-8\?B\?/);
  // Subject: the organization name comes back exactly; the raw line is plain ASCII.
  assert.equal(mail.subject, `${HOSTILE_ORG} invited you to 2 websites`);
});

test('no supplied value can add a header: CR/LF in names, email or website fields is rejected, nothing is queued', async () => {
  const email = uniqueEmail('victim');
  const id = acme.websites[0].id;
  const counts = tableCounts(service);
  const injections = [
    [{ first_name: 'Eve\r\nBcc: x@evil.example' }, 'first_name'],
    [{ last_name: 'Eve\nBcc: x@evil.example' }, 'last_name'],
    [{ first_name: 'Eve\rBcc: x@evil.example' }, 'first_name'],
    [{ first_name: 'Eve\u0085Bcc: x@evil.example' }, 'first_name'], // NEL, a C1 control
    [{ first_name: 'Eve\u2028Bcc: x@evil.example' }, 'first_name'], // LINE SEPARATOR
    [{ last_name: 'Eve\u2029Bcc: x@evil.example' }, 'last_name'], // PARAGRAPH SEPARATOR
    [{ email: `${email}\r\nBcc: x@evil.example` }, 'email'],
    [{ email: `${email}>\r\nBcc: <x@evil.example` }, 'email'],
  ];
  for (const [fields, field] of injections) {
    const response = await bulk(service, acme.key, { invite_method: 'email', email, website_ids: [id], ...fields });
    assertError(response, 400, 'validation_error', { exactFields: [field] });
  }
  for (const [body, field] of [
    [{ url: 'https://evil.example/', name: 'Evil\r\nBcc: x@evil.example' }, 'name'],
    [{ url: 'https://evil.example/', name: 'Evil\nBcc: x@evil.example' }, 'name'],
    [{ url: 'https://evil.example/\r\nBcc: x@evil.example', name: 'Evil' }, 'url'],
  ]) {
    const response = await service.api('POST', '/api/v1/websites', { key: acme.key, body });
    assertError(response, 400, 'validation_error', { exactFields: [field] });
  }
  assert.deepEqual(tableCounts(service), counts, 'rejected requests wrote nothing (no invite, no queued email)');
  // The organization name (set by an operator) cannot carry a line break either.
  assert.throws(() => service.createOrg('Evil\r\nBcc: x@evil.example'));

  // A non-ASCII name that spells a header is accepted, but it stays inside an encoded word.
  await bulkOk(service, acme.key, { invite_method: 'email', email, first_name: '\u00c8ve Bcc: x@evil.example', website_ids: [id] });
  const { mail, envelope } = await onlyMessageTo(email);
  assert.deepEqual(envelope.rcpt_tos, [email], 'one SMTP recipient');
  assert.equal(mail.bcc, undefined);
  assert.equal(mail.headerLines.filter((h) => h.name === 'bcc').length, 0);
  assert.deepEqual(mail.to.value, [{ address: email, name: '\u00c8ve Bcc: x@evil.example' }]);
});

test('no email when no target succeeds', async () => {
  const email = uniqueEmail('nobody');
  // Already a member of website 0 (direct), and website 1 of another organization is invisible.
  await bulkOk(service, acme.key, { invite_method: 'direct', email, website_ids: [acme.websites[0].id] });
  const other = service.createOrg('Other Org');
  const foreign = await service.createWebsite(other.api_key, 'https://foreign.example/', 'Foreign');
  const counts = tableCounts(service);
  const results = await bulkOk(service, acme.key, {
    invite_method: 'email', email, website_ids: [acme.websites[0].id, foreign.id, newId()],
  });
  assert.deepEqual(results.map((r) => [r.success, r.error]), [
    [false, 'User is already a member of this website'],
    [false, 'Website not found'],
    [false, 'Website not found'],
  ]);
  const after = tableCounts(service);
  assert.equal(after.outbox_emails, counts.outbox_emails, 'no email queued');
  assert.equal(after.invite_batches, counts.invite_batches, 'no batch');
  assert.equal(after.invites, counts.invites, 'no invite');

  // A fence: a later request's email arrives and the outbox is drained, so an email for the first
  // request, had one been queued, would have arrived too.
  const fence = uniqueEmail('fence');
  await bulkOk(service, acme.key, { invite_method: 'email', email: fence, website_ids: [acme.websites[1].id] });
  await onlyMessageTo(fence);
  assert.equal(sink.messagesTo(email).length, 0, 'nothing was sent to the address with no successful target');
});
