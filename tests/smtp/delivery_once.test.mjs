// Each sender of the outbox claims a few emails (at most kEmailsPerClaim, domain/outbox.hpp),
// sends them, and records their outcomes before it claims more (docs/architecture.md, "Email: an
// outbox"). Counted at a real SMTP sink, per Message-ID, with two senders (--mail-concurrency 2):
// - outcomes that cannot be recorded (another process holds the write lock) stop the worker
//   until they are recorded; nothing is sent twice;
// - kill -9 in the middle of a run: after the restart every email arrives, and at most the
//   messages that were in hand (sent from a claim not yet recorded: at most kEmailsPerClaim per
//   sender) arrive twice (with the same Message-ID);
// - SIGTERM while the server stalls after DATA: the send is aborted, the process exits 0 within
//   10 s, the attempt is given back, and the email goes out once after the restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { holdWriteLock } from '../support/database.mjs';
import { MAIL_TIMEOUT_MS, uniqueEmail, bulkOk, sqlWrite, waitFor } from '../support/assertions.mjs';
import { freePort, parseMail, acceptLink, tokenOf } from '../support/smtp.mjs';
import { peersOfThisFile } from '../support/file_peers.mjs';
import { outboxRows, allSent } from '../support/outbox_rows.mjs';

const { start, sink } = peersOfThisFile();

const EMAILS_PER_CLAIM = 4; // domain/outbox.hpp kEmailsPerClaim

async function orgWithWebsites(service, n) {
  const org = service.createOrg('Acme');
  const websites = [];
  for (let i = 0; i < n; i++) websites.push(await service.createWebsite(org.api_key, `https://s${i}.acme.example/`, `Site ${i}`));
  return { key: org.api_key, websites };
}

// Queues one email-mode invitation per address; returns the first invite id of each.
async function queueEmails(service, key, websites, addresses) {
  const inviteIds = [];
  for (const email of addresses) {
    const results = await bulkOk(service, key, { invite_method: 'email', email, website_ids: websites.map((w) => w.id) });
    inviteIds.push(results[0].invite_id);
  }
  return inviteIds;
}

const loggedMessages = (service) =>
  service.logs.flatMap((line) => {
    try {
      return [JSON.parse(line).msg];
    } catch {
      return [];
    }
  });

test('deliveries that cannot be recorded stop the worker until they are recorded: no email is sent twice', async () => {
  const smtp = await sink({ hold: true });
  const service = await start({ smtpUrl: smtp.url, args: ['--mail-retry-seconds', '0.1', '--mail-max-attempts', '20', '--mail-concurrency', '2'] });
  const { key, websites } = await orgWithWebsites(service, 2);
  const addresses = [uniqueEmail('rec1'), uniqueEmail('rec2'), uniqueEmail('rec3'), uniqueEmail('rec4')];
  const inviteIds = await queueEmails(service, key, websites, addresses);

  // The first two messages (one per sender) reached the end of DATA and wait for the server's
  // reply. Now nobody can write to the database, and only then does the server accept them: the
  // worker has deliveries it cannot record.
  await smtp.waitForArrivals(2);
  const claimed = outboxRows(service).map((r) => [r.status, r.attempts, r.claimed]);
  assert.deepEqual(claimed, [[0, 1, true], [0, 1, true], [0, 0, false], [0, 0, false]], 'the emails in hand were claimed, their attempts counted, before they were sent');
  const lock = await holdWriteLock(service);
  try {
    smtp.release();
    await smtp.waitForMessages(2);
    // Both senders found that they cannot record (they say so) -- or, as an outbox that retries a
    // whole pass would, one sent a message again.
    await waitFor(
      () => loggedMessages(service).filter((m) => m === 'delivery not recorded; sending paused').length >= 2 ||
        [...smtp.deliveriesByMessageId().values()].some((n) => n > 1),
      { timeoutMs: 30000, intervalMs: 50, what: 'failed attempts to record both deliveries' },
    );
    assert.equal(smtp.messages().length, 2, 'nothing else is sent while the outcomes are not recorded');
  } finally {
    await lock.release();
  }

  await waitFor(() => allSent(service), { timeoutMs: MAIL_TIMEOUT_MS, intervalMs: 50, what: 'every email recorded as sent' });
  for (const id of inviteIds) {
    const response = await service.api('GET', `/api/v1/invites/${id}`, { key });
    assert.equal(response.body.invite.delivery, 'sent');
  }
  const counts = smtp.deliveriesByMessageId();
  const rows = outboxRows(service);
  assert.deepEqual([...counts.keys()].sort(), rows.map((r) => r.messageId).sort(), 'every queued email delivered');
  for (const [messageId, n] of counts) assert.equal(n, 1, `${messageId} delivered ${n} times`);
  assert.ok(rows.every((r) => r.status === 1 && r.attempts === 1 && !r.claimed), JSON.stringify(rows));
  for (const address of addresses) assert.equal(smtp.messagesTo(address).length, 1, address);
});

test('kill -9 in the middle of a run: after the restart every email arrives, only the ones in hand (a claim of at most four per sender) may arrive twice', async () => {
  // The emails are queued while the server is down, then all made due at once, so that a worker
  // that claimed the whole queue before recording anything could send more than its bound twice.
  const deadPort = await freePort();
  const senders = 2;
  const options = ['--mail-retry-seconds', '0.05', '--mail-max-attempts', '100', '--mail-concurrency', String(senders)];
  const first = await start({ smtpUrl: `smtp://127.0.0.1:${deadPort}`, args: options });
  const { key, websites } = await orgWithWebsites(first, 1);
  const addresses = Array.from({ length: 10 }, (_, i) => uniqueEmail(`run${i}`));
  await queueEmails(first, key, websites, addresses);
  assert.equal(await first.stop('SIGTERM'), 0);
  sqlWrite(first, 'UPDATE outbox_emails SET next_attempt_ms = 0');

  const smtp = await sink({ delayMs: 300 });
  const second = await start({ dir: first.dir, smtpUrl: smtp.url, args: options });
  await smtp.waitForMessages(3);
  await second.stop('SIGKILL');
  const delivered = smtp.messages().length;
  assert.ok(delivered < addresses.length, `the run was cut short (${delivered} delivered before the kill)`);

  const third = await start({ dir: first.dir, smtpUrl: smtp.url, args: options });
  await waitFor(() => allSent(third), { timeoutMs: MAIL_TIMEOUT_MS, intervalMs: 50, what: 'every email recorded as sent' });
  const counts = smtp.deliveriesByMessageId();
  const twice = [...counts].filter(([, n]) => n > 1);
  assert.ok(
    twice.length <= Math.min(delivered, senders * EMAILS_PER_CLAIM) && twice.every(([, n]) => n === 2),
    `delivered more than once: ${JSON.stringify(twice)}`,
  );
  const rows = outboxRows(third);
  assert.deepEqual([...counts.keys()].sort(), rows.map((r) => r.messageId).sort(), 'every queued email delivered');
  assert.ok(rows.every((r) => r.status === 1 && !r.claimed), JSON.stringify(rows));
  for (const address of addresses) assert.ok(smtp.messagesTo(address).length >= 1, address);
});

test('SIGTERM while the SMTP server stalls after DATA: exit 0 within 10 s, the attempt is given back, and the email goes out once after the restart', async (t) => {
  const stalled = await sink({ hold: true });
  const options = ['--mail-retry-seconds', '0.1', '--mail-max-attempts', '5'];
  const first = await start({ smtpUrl: stalled.url, args: options });
  const { key, websites } = await orgWithWebsites(first, 2);
  const email = uniqueEmail('stalled');
  const [inviteId] = await queueEmails(first, key, websites, [email]);
  await stalled.waitForArrivals(1);

  const began = Date.now();
  assert.equal(await first.stop('SIGTERM'), 0, 'clean exit');
  const took = Date.now() - began;
  t.diagnostic(`SIGTERM to exit: ${took} ms`);
  assert.ok(took < 10000, `exited after ${took} ms`);
  const [queued] = outboxRows(first);
  assert.deepEqual([queued.status, queued.attempts, queued.claimed], [0, 0, false], 'still queued, the aborted attempt not counted, the claim given back');
  await stalled.stop();
  assert.equal(stalled.messages().length, 0, 'the stalled server never accepted it');

  const smtp = await sink();
  const second = await start({ dir: first.dir, smtpUrl: smtp.url, args: options });
  await waitFor(() => allSent(second), { timeoutMs: MAIL_TIMEOUT_MS, intervalMs: 20, what: 'the email recorded as sent' });
  assert.deepEqual([...smtp.deliveriesByMessageId()], [[queued.messageId, 1]], 'delivered once, the same Message-ID');
  const [row] = outboxRows(second);
  assert.deepEqual([row.status, row.attempts, row.claimed], [1, 1, false], 'one attempt in all');
  const mail = await parseMail(smtp.messages()[0].raw);
  const accepted = await second.api('POST', '/api/v1/invitations/accept', { body: { token: tokenOf(acceptLink(mail)) } });
  assert.equal(accepted.status, 200, accepted.text);
  assert.deepEqual(accepted.body.results.map((r) => r.success), [true, true]);
  assert.equal((await second.api('GET', `/api/v1/invites/${inviteId}`, { key })).body.invite.status, 'accepted');
});
