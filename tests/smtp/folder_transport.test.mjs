// The folder transport (SPEC §7): with no --smtp-url each message is written as an RFC 5322 .eml
// file into --mail-dir, so a fresh install shows its emails. And --public-url sets the accept
// link's base and the default From address.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startWithOrg } from '../support/service.mjs';
import { MAIL_TIMEOUT_MS, GENEROUS_LIMITS, uniqueEmail, bulkOk, count, uuidSql, q, waitFor } from '../support/assertions.mjs';
import { parseMail, acceptLink } from '../support/smtp.mjs';

const services = [];
after(async () => {
  for (const service of services) assert.equal(await service.stop(), 0);
});

async function sentFolderMail(service, email) {
  await waitFor(() => count(service, `SELECT COUNT(*) FROM outbox_emails WHERE to_address = ${q(email)} AND status = 1`) === 1, {
    timeoutMs: MAIL_TIMEOUT_MS,
    intervalMs: 20,
    what: `the email to ${email} to be written`,
  });
  const mails = await Promise.all(service.mails().map((raw) => parseMail(raw)));
  return mails.filter((m) => m.to.value.some((v) => v.address === email));
}

test('without --smtp-url an email-mode request writes one .eml file named after its Message-ID', async () => {
  const { service, key, websites } = await startWithOrg({ websiteCount: 2, args: GENEROUS_LIMITS });
  services.push(service);
  const email = uniqueEmail('folder');
  await bulkOk(service, key, { invite_method: 'email', email, role: 'admin', website_ids: websites.map((w) => w.id) });
  const mails = await sentFolderMail(service, email);
  assert.equal(mails.length, 1, 'one .eml for one request');
  const [mail] = mails;

  const folder = join(service.dir, 'mail');
  const files = readdirSync(folder);
  assert.deepEqual(files.filter((f) => !f.endsWith('.eml')), [], 'no temporary or other files left behind');
  const stem = mail.messageId.slice(1, mail.messageId.indexOf('@'));
  assert.ok(files.includes(`${stem}.eml`), `${stem}.eml in ${files}`);
  assert.deepEqual(service.sql(`SELECT ${uuidSql('message_id')} FROM outbox_emails WHERE to_address = ${q(email)}`), [[stem]]);

  assert.deepEqual(mail.tree.map((n) => n.contentType), ['multipart/alternative', 'text/plain', 'text/html']);
  for (const site of websites) {
    assert.ok(mail.text.includes(site.name) && mail.text.includes(site.url), mail.text);
    assert.ok(mail.html.includes(site.name), 'html names the website');
  }
  assert.match(mail.text, /\badmin\b/);
  assert.equal(service.sql('SELECT delivery FROM invite_batches')[0][0], '1', 'delivery sent');

  // The link in the file opens the invitation page.
  const url = new URL(acceptLink(mail));
  const page = await service.fetch(url.pathname + url.search);
  assert.equal(page.status, 200);
});

test('the accept link stands whole on one line of the raw .eml (the text part is not quoted-printable), and opens the page', async () => {
  const { service, key, websites } = await startWithOrg({ websiteCount: 1, args: GENEROUS_LIMITS });
  services.push(service);
  const email = uniqueEmail('rawlink');
  await bulkOk(service, key, { invite_method: 'email', email, website_ids: [websites[0].id] });
  const [mail] = await sentFolderMail(service, email);
  const link = acceptLink(mail); // from the decoded text part
  assert.ok(link.length > 76, `a link of ${link.length} characters: longer than a quoted-printable line`);

  // The raw file, as a person copying from it (or grep) sees it: no decoding at all.
  const raw = service.mails().find((r) => r.includes(`<${email}>`));
  const lines = raw.split('\r\n');
  const textPart = lines.indexOf('Content-Type: text/plain; charset=utf-8');
  assert.ok(textPart > 0, raw);
  assert.equal(lines[textPart + 1], 'Content-Transfer-Encoding: 7bit');
  assert.ok(lines.includes(`  ${link}`), `the link on a line of its own in:\n${raw}`);
  for (const line of lines) assert.ok(Buffer.byteLength(line) <= 998, `a line of ${Buffer.byteLength(line)} octets`);

  const url = new URL(link);
  const page = await service.fetch(url.pathname + url.search);
  assert.equal(page.status, 200);
});

test('--public-url is the base of the accept link and the host of the default From address', async () => {
  const { service, key, websites } = await startWithOrg({
    websiteCount: 1,
    args: [...GENEROUS_LIMITS, '--public-url', 'https://invites.acme.example/'],
  });
  services.push(service);
  const email = uniqueEmail('public');
  await bulkOk(service, key, { invite_method: 'email', email, website_ids: [websites[0].id] });
  const [mail] = await sentFolderMail(service, email);
  assert.match(acceptLink(mail), /^https:\/\/invites\.acme\.example\/invites\/accept\?token=[A-Za-z0-9_-]{43,}$/);
  assert.equal(mail.from.value[0].address, 'no-reply@invites.acme.example');
  assert.match(mail.messageId, /@invites\.acme\.example>$/);
});
