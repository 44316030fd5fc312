// Who an invitation email is from, as a real SMTP server receives it: the display name is
// "<organization> via <display name of --mail-from>" ("via invited" when --mail-from has no
// display name) and the address is --mail-from's, in the From header and the envelope. An
// organization name with commas, quotes, angle brackets, non-ASCII or CR/LF travels as RFC 2047
// encoded words: it decodes back exactly and adds no header and no address. A --mail-from that
// is no mailbox refuses to start, saying what to write.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, makeTempDir, startService } from '../support/service.mjs';
import { GENEROUS_LIMITS, uniqueEmail, bulkOk, sqlWrite, q, uuidSql } from '../support/assertions.mjs';
import { startSmtpSink, parseMail } from '../support/smtp.mjs';

const SENDER = 'team@invites.example';
const HEADERS = ['from', 'to', 'subject', 'date', 'message-id', 'mime-version', 'auto-submitted', 'content-type'];

let sink;
let named; // --mail-from with a display name
let bare; // --mail-from with an address only

before(async () => {
  sink = await startSmtpSink();
  named = await startService({ smtpUrl: sink.url, args: [...GENEROUS_LIMITS, '--mail-from', `"Product Team" <${SENDER}>`] });
  bare = await startService({ smtpUrl: sink.url, args: [...GENEROUS_LIMITS, '--mail-from', SENDER] });
});

after(async () => {
  const codes = [];
  for (const service of [named, bare]) if (service) codes.push(await service.stop());
  if (sink) codes.push(await sink.stop());
  assert.deepEqual(codes, [0, 0, 0]);
});

// Invites a fresh address to one website of an organization called `name` (set in the database
// when the CLI would refuse it) and returns the message the sink received.
async function mailFrom(service, name, { rename } = {}) {
  const org = service.createOrg(rename ? 'Placeholder' : name);
  if (rename) sqlWrite(service, `UPDATE organizations SET name = ${q(name)} WHERE ${uuidSql('id')} = ${q(org.org_id)}`);
  const website = await service.createWebsite(org.api_key, 'https://sender.example/', 'Sender site');
  const email = uniqueEmail('sender');
  await bulkOk(service, org.api_key, { invite_method: 'email', email, website_ids: [website.id] });
  const message = await sink.waitForMessageTo(email);
  return { envelope: message.envelope, mail: await parseMail(message.raw), email };
}

function assertOnlyTheHeadersOfAnInvitation(mail, context) {
  const names = mail.headerLines.map((h) => h.name);
  assert.deepEqual([...names].sort(), [...HEADERS].sort(), `${context}: ${JSON.stringify(mail.headerLines)}`);
  for (const { line } of mail.headerLines) assert.match(line, /^[\x20-\x7e]*$/, `${context}: header lines are ASCII`);
  assert.equal(mail.cc, undefined);
  assert.equal(mail.bcc, undefined);
}

test('From is "<organization> via <display name of --mail-from>" with --mail-from\'s address, also in the envelope', async () => {
  const { envelope, mail, email } = await mailFrom(named, 'Acme Analytics');
  assert.deepEqual(mail.from.value, [{ address: SENDER, name: 'Acme Analytics via Product Team' }]);
  assert.equal(envelope.mail_from, SENDER);
  assert.deepEqual(envelope.rcpt_tos, [email]);
  // Plain words need no encoding.
  assert.equal(mail.headerLines.find((h) => h.name === 'from').value, `Acme Analytics via Product Team <${SENDER}>`);
});

test('without a display name in --mail-from, the email is from "<organization> via invited"', async () => {
  const { envelope, mail } = await mailFrom(bare, 'Acme Analytics');
  assert.deepEqual(mail.from.value, [{ address: SENDER, name: 'Acme Analytics via invited' }]);
  assert.equal(envelope.mail_from, SENDER);
});

test('organization names with commas, quotes, angle brackets, non-ASCII or CR/LF decode back exactly and add no header or address', async () => {
  for (const [organization, rename] of [
    ['Acme, Inc. "R&D" <ceo@evil.example>', false],
    ['Café Müller & Söhne — 東京', false],
    ["O'Brien; (Sales) \\ <x@evil.example>, y@evil.example", false],
    ['=?UTF-8?B?RXZpbA==?= Corp', false],
    ['Acme\r\nBcc: victim@evil.example', true],
    ['Acme\nReply-To: attacker@evil.example', true],
  ]) {
    const { envelope, mail, email } = await mailFrom(named, organization, { rename });
    const context = JSON.stringify(organization);
    assert.deepEqual(mail.from.value, [{ address: SENDER, name: `${organization} via Product Team` }], context);
    assert.equal(envelope.mail_from, SENDER, context);
    assert.deepEqual(envelope.rcpt_tos, [email], context);
    assertOnlyTheHeadersOfAnInvitation(mail, context);
    const from = mail.headerLines.find((h) => h.name === 'from').value;
    assert.match(from, /^=\?UTF-8\?B\?/, `${context}: encoded, never copied: ${from}`);
    assert.ok(from.endsWith(` <${SENDER}>`), `${context}: ${from}`);
    assert.ok(!from.includes('evil.example'), `${context}: ${from}`);
  }
});

test('a --mail-from that is no mailbox refuses to start, saying what to write', () => {
  for (const value of ['not an address', 'Team <no-at-sign>', 'Team <team@invites.example', '"Team <team@invites.example>']) {
    const dir = makeTempDir();
    const result = spawnSync(BIN, ['serve', '--listen', '127.0.0.1:0', '--mail-from', value], {
      env: { ...process.env, INVITED_DATABASE: `sqlite://${join(dir, 'data', 'invited.db')}`, INVITED_MAIL_DIR: join(dir, 'mail') },
      encoding: 'utf8',
      timeout: 30000,
    });
    const context = `${value}:\n${result.stderr}`;
    assert.equal(result.status, 2, context);
    assert.match(result.stderr, /^invited: --mail-from /, context);
    assert.ok(result.stderr.includes(`"${value}"`), context);
    assert.match(result.stderr, /Example <no-reply@example\.com>/, context);
    assert.equal(existsSync(join(dir, 'data')), false, `nothing written: ${context}`);
  }
});
