// No accept token at rest in clear text (SPEC §5: "stored only as a hash"): a token is minted
// when its email is claimed for sending, and only its SHA-256 is written. While emails wait for
// an SMTP server that is down, neither the database file nor its WAL holds a token that is later
// delivered; a resend retires the current link at once and the next email carries a new one; an
// older database whose outbox kept tokens in clear is scrubbed by the migration.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startService, runCommand, makeTempDir } from '../support/service.mjs';
import { GENEROUS_LIMITS, uniqueEmail, bulkOk, count, waitFor } from '../support/assertions.mjs';
import { startSmtpSink, freePort, parseMail, acceptLink, tokenOf } from '../support/smtp.mjs';

const running = [];
after(async () => {
  for (const process of running.reverse()) await process.stop();
});

async function start(options) {
  const service = await startService({ ...options, args: [...GENEROUS_LIMITS, ...(options.args ?? [])] });
  running.push(service);
  return service;
}

async function sink(options) {
  const started = await startSmtpSink(options);
  running.push(started);
  return started;
}

// The bytes of the database file, its WAL and its shared-memory index, as they are now.
function databaseFiles(dir) {
  return ['invited.db', 'invited.db-wal', 'invited.db-shm']
    .map((name) => join(dir, name))
    .filter((path) => existsSync(path))
    .map((path) => ({ path, bytes: readFileSync(path) }));
}

function assertNotIn(files, tokens, when) {
  for (const { path, bytes } of files) {
    for (const token of tokens) {
      assert.equal(bytes.indexOf(Buffer.from(token, 'latin1')), -1, `a token in clear in ${path} (${when})`);
    }
  }
}

async function tokensOfMessagesTo(smtp, address) {
  const mails = await Promise.all(smtp.messagesTo(address).map((m) => parseMail(m.raw)));
  return mails.map((mail) => tokenOf(acceptLink(mail)));
}

const pageStatus = async (service, token) => (await service.fetch(`/invites/accept?token=${token}`)).status;

test('emails queued while the SMTP server refuses them leave no token in the database or its WAL; a resend retires the link at once', async () => {
  // A server that takes every message to the end of DATA and then refuses it (451): the sink
  // keeps each refused message, so the tokens minted for failed attempts are known too.
  const port = await freePort();
  const refusing = await sink({ port, rejectFirst: 1000000 });
  const service = await start({
    smtpUrl: refusing.url,
    args: ['--mail-retry-seconds', '0.05', '--mail-max-attempts', '100'],
  });
  const org = service.createOrg('Acme');
  const key = org.api_key;
  const websites = [];
  for (let i = 0; i < 2; i++) websites.push(await service.createWebsite(key, `https://s${i}.acme.example/`, `Site ${i}`));
  const addresses = [uniqueEmail('rest1'), uniqueEmail('rest2'), uniqueEmail('rest3')];
  const inviteIds = [];
  for (const email of addresses) {
    inviteIds.push((await bulkOk(service, key, { invite_method: 'email', email, website_ids: websites.map((w) => w.id) }))[0].invite_id);
  }
  await waitFor(() => count(service, 'SELECT COUNT(*) FROM outbox_emails WHERE status = 0 AND attempts >= 2') === addresses.length, {
    intervalMs: 20,
    what: 'two refused attempts per queued email',
  });
  const whileQueued = databaseFiles(service.dir);
  assert.ok(whileQueued.some((f) => f.path.endsWith('-wal')), 'the WAL is part of the copy');
  await refusing.stop();
  const refused = await Promise.all(refusing.arrivals().map(async (a) => tokenOf(acceptLink(await parseMail(a.raw)))));
  assert.ok(refused.length >= 2 * addresses.length, `${refused.length} refused messages`);
  assert.equal(new Set(refused).size, refused.length, 'every attempt carries a token of its own');
  assert.equal(count(service, 'SELECT COUNT(*) FROM outbox_emails WHERE status = 0'), addresses.length, 'all still queued');

  // A server that accepts takes the port over; each email goes out once, with a link that works.
  const smtp = await sink({ port });
  await waitFor(() => service.sql('SELECT delivery FROM invite_batches').every(([d]) => d === '1'), {
    timeoutMs: 15000,
    intervalMs: 20,
    what: 'every email sent',
  });
  const delivered = [];
  for (const address of addresses) {
    const tokens = await tokensOfMessagesTo(smtp, address);
    assert.equal(tokens.length, 1, `one email to ${address}`);
    delivered.push(tokens[0]);
  }
  assert.equal(new Set([...delivered, ...refused]).size, delivered.length + refused.length, 'a token per attempt');
  for (const token of delivered) assert.equal(await pageStatus(service, token), 200);

  // Resend the first invitation: its link is replaced at once, before the new email has left.
  const resent = await service.api('POST', `/api/v1/invites/${inviteIds[0]}/resend`, { key });
  assert.equal(resent.status, 200, resent.text);
  assert.equal(await pageStatus(service, delivered[0]), 410);
  const replaced = await service.api('POST', '/api/v1/invitations/accept', { body: { token: delivered[0] } });
  assert.equal(replaced.status, 410);
  assert.match(replaced.body.error, /replaced/);
  await waitFor(() => smtp.messagesTo(addresses[0]).length === 2, { what: 'the resent email' });
  const [, newToken] = await tokensOfMessagesTo(smtp, addresses[0]);
  assert.ok(newToken && !delivered.includes(newToken) && !refused.includes(newToken), 'the resent email carries a new token');
  const accepted = await service.api('POST', '/api/v1/invitations/accept', { body: { token: newToken } });
  assert.equal(accepted.status, 200, accepted.text);
  assert.equal((await service.api('POST', '/api/v1/invitations/accept', { body: { token: delivered[0] } })).status, 410);

  const everyToken = [...refused, ...delivered, newToken];
  assertNotIn(whileQueued, everyToken, 'while the emails were queued');
  assertNotIn(databaseFiles(service.dir), everyToken, 'after delivery');
  assert.equal(await service.stop(), 0);
  assertNotIn(databaseFiles(service.dir), everyToken, 'after a clean stop');
});

test('upgrading a database whose outbox kept tokens in clear: the migration erases them; queued emails go out with new tokens; a delivered link keeps working', async () => {
  // A schema-1 database as an older invited left it: one email sent (its token stored as a hash
  // only), and QUEUED emails still waiting with their tokens in the outbox rows.
  const QUEUED = 40;
  const dir = makeTempDir();
  const db = join(dir, 'invited.db');
  const schema1 = readFileSync(new URL('../../src/store/sqlite/migrations/0001_initial.sql', import.meta.url), 'utf8');
  const hash = (token) => `X'${createHash('sha256').update(token).digest('hex')}'`;
  const blob = () => `X'${randomBytes(16).toString('hex')}'`;
  const newToken = (tag) => `${tag}${randomBytes(32).toString('base64url')}`;
  const now = Math.floor(Date.now() / 1000);
  const sentToken = newToken('sent');
  const queued = Array.from({ length: QUEUED }, (_, i) => ({ address: `queued${i}@example.com`, token: newToken('queued') }));
  const rows = [{ address: 'sent@example.com', token: sentToken, sent: true }, ...queued];
  const statements = rows.map(({ address, token, sent }, i) => `
INSERT INTO invite_batches(pk, id, org_pk, email, token_hash, created_at, expires_at, delivery)
  VALUES (${i + 1}, ${blob()}, 1, '${address}', ${hash(token)}, ${now}, ${now + 86400}, ${sent ? 1 : 0});
INSERT INTO invites(id, org_pk, batch_pk, email_key, target_kind, target_pk, role, created_at, expires_at)
  VALUES (${blob()}, 1, ${i + 1}, '${address}', 1, 1, 1, ${now}, ${now + 86400});
INSERT INTO outbox_emails(message_id, batch_pk, to_address, token, status, attempts, next_attempt_ms, created_at, sent_at)
  VALUES (${blob()}, ${i + 1}, '${address}', ${sent ? 'NULL' : `'${token}'`}, ${sent ? 1 : 0}, ${sent ? 1 : 0}, ${now * 1000}, ${now}, ${sent ? now : 'NULL'});`);
  execFileSync('sqlite3', [db], {
    input: `${schema1}
PRAGMA user_version = 1;
INSERT INTO organizations(pk, id, name, created_at) VALUES (1, ${blob()}, 'Acme', ${now});
INSERT INTO websites(pk, id, org_pk, url, name, created_at) VALUES (1, ${blob()}, 1, 'https://old.acme.example/', 'Old site', ${now});
${statements.join('\n')}
`,
  });
  const before = readFileSync(db);
  assert.ok(queued.every(({ token }) => before.indexOf(Buffer.from(token)) >= 0), 'the old layout keeps the tokens in clear');

  const migrated = runCommand(dir, ['migrate']);
  assert.ok(migrated.applied >= 1, JSON.stringify(migrated));
  const queuedTokens = queued.map((q) => q.token);
  assertNotIn(databaseFiles(dir), queuedTokens, 'after the migration');

  const smtp = await sink();
  const service = await start({ dir, smtpUrl: smtp.url });
  await smtp.waitForMessages(QUEUED);
  const first = tokenOf(acceptLink(await parseMail(smtp.messagesTo(queued[0].address)[0].raw)));
  assert.ok(!queuedTokens.includes(first), 'a new token');
  assert.equal(await pageStatus(service, first), 200);
  assert.equal(await pageStatus(service, sentToken), 200, 'the link of the email sent before the upgrade still works');
  const accepted = await service.api('POST', '/api/v1/invitations/accept', { body: { token: first } });
  assert.equal(accepted.status, 200, accepted.text);
  await waitFor(() => count(service, 'SELECT COUNT(*) FROM outbox_emails WHERE status = 0') === 0, { what: 'the outbox to drain' });
  assertNotIn(databaseFiles(dir), [...queuedTokens, first, sentToken], 'after the queued emails were sent');
});
