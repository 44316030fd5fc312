// No accept token at rest in clear text (SPEC §5: "stored only as a hash"): a token is minted
// when its email is claimed for sending, and only its SHA-256 is written. While emails wait for
// an SMTP server that is down, nothing the store keeps at rest (SQLite: the database file and its
// WAL; PostgreSQL: the pages of the service's tables and indexes, dead row versions included; see
// bytesAtRest in tests/support/database.mjs) holds a token that is later delivered; a resend
// retires the current link at once and the next email carries a new one. (An older SQLite
// database whose outbox kept tokens in clear: tokens_at_rest_upgrade.sqlite.test.mjs.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { STORE, bytesAtRest } from '../support/database.mjs';
import { MAIL_TIMEOUT_MS, uniqueEmail, bulkOk, count, waitFor } from '../support/assertions.mjs';
import { freePort, parseMail, acceptLink, tokenOf } from '../support/smtp.mjs';
import { peersOfThisFile } from '../support/file_peers.mjs';

const { start, sink } = peersOfThisFile();

function assertNotIn(stored, tokens, when) {
  for (const { what, bytes } of stored) {
    for (const token of tokens) {
      assert.equal(bytes.indexOf(Buffer.from(token, 'latin1')), -1, `a token in clear in ${what} (${when})`);
    }
  }
}

async function tokensOfMessagesTo(smtp, address) {
  const mails = await Promise.all(smtp.messagesTo(address).map((m) => parseMail(m.raw)));
  return mails.map((mail) => tokenOf(acceptLink(mail)));
}

const pageStatus = async (service, token) => (await service.fetch(`/invites/accept?token=${token}`)).status;

test('emails queued while the SMTP server refuses them leave no token at rest in the store; a resend retires the link at once', async () => {
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
    timeoutMs: MAIL_TIMEOUT_MS,
    intervalMs: 20,
    what: 'two refused attempts per queued email',
  });
  // An attempt is counted when its email is claimed, before it is sent: wait until the server
  // has seen those attempts too, before it is stopped.
  await refusing.waitForArrivals(2 * addresses.length);
  const whileQueued = bytesAtRest(service);
  const copied = STORE === 'sqlite' ? /-wal$/ : /^relation outbox_emails$/;
  assert.ok(whileQueued.some((f) => copied.test(f.what)), `${copied} is part of the copy`);
  await refusing.stop();
  const refused = await Promise.all(refusing.arrivals().map(async (a) => tokenOf(acceptLink(await parseMail(a.raw)))));
  assert.ok(refused.length >= 2 * addresses.length, `${refused.length} refused messages`);
  assert.equal(new Set(refused).size, refused.length, 'every attempt carries a token of its own');
  assert.equal(count(service, 'SELECT COUNT(*) FROM outbox_emails WHERE status = 0'), addresses.length, 'all still queued');

  // A server that accepts takes the port over; each email goes out once, with a link that works.
  // (Each failure doubles the wait before the next attempt: on a slow machine an email may have
  // failed several more times while the port was closed, and its next attempt be 10 s or more
  // away.)
  const smtp = await sink({ port });
  await waitFor(() => service.sql('SELECT delivery FROM invite_batches').every(([d]) => d === '1'), {
    timeoutMs: MAIL_TIMEOUT_MS,
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
  await waitFor(() => smtp.messagesTo(addresses[0]).length === 2, { timeoutMs: MAIL_TIMEOUT_MS, what: 'the resent email' });
  const [, newToken] = await tokensOfMessagesTo(smtp, addresses[0]);
  assert.ok(newToken && !delivered.includes(newToken) && !refused.includes(newToken), 'the resent email carries a new token');
  const accepted = await service.api('POST', '/api/v1/invitations/accept', { body: { token: newToken } });
  assert.equal(accepted.status, 200, accepted.text);
  assert.equal((await service.api('POST', '/api/v1/invitations/accept', { body: { token: delivered[0] } })).status, 410);

  const everyToken = [...refused, ...delivered, newToken];
  assertNotIn(whileQueued, everyToken, 'while the emails were queued');
  assertNotIn(bytesAtRest(service), everyToken, 'after delivery');
  assert.equal(await service.stop(), 0);
  assertNotIn(bytesAtRest(service), everyToken, 'after a clean stop');
});
