// The mail worker sends over several SMTP connections at once (--mail-concurrency), each kept
// open between its sends (docs/architecture.md, "Email: an outbox"), and /metrics exports the
// outbox's backlog. Counted at a real SMTP sink:
// - N senders: N messages in flight at once, each claimed (its attempt counted) before it is
//   sent, oldest first;
// - a backlog claimed a few emails per unit of work (domain/outbox.hpp, kEmailsPerClaim);
// - one connection per sender, reused from one message to the next;
// - SIGTERM with N sends in hand: every one aborted, none counted, exit within 10 s;
// - invited_outbox_queued_emails and invited_outbox_oldest_queued_age_seconds follow the queue.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { uniqueEmail, bulkOk, waitFor } from '../support/assertions.mjs';
import { metrics } from '../support/smtp.mjs';
import { peersOfThisFile } from '../support/file_peers.mjs';
import { outboxRows, allSent } from '../support/outbox_rows.mjs';

const { start, sink } = peersOfThisFile();

const EMAILS_PER_CLAIM = 4; // domain/outbox.hpp kEmailsPerClaim

async function orgWithWebsite(service) {
  const org = service.createOrg('Acme');
  const website = await service.createWebsite(org.api_key, 'https://www.acme.example/', 'Acme');
  return { key: org.api_key, website };
}

// Queues one email-mode invitation per address, one request each.
async function queueEmails(service, key, website, addresses) {
  for (const email of addresses) await bulkOk(service, key, { invite_method: 'email', email, website_ids: [website.id] });
}

test('--mail-concurrency 3: three messages in flight at once, each claimed before it is sent, oldest first', async () => {
  const smtp = await sink({ hold: true });
  const service = await start({ smtpUrl: smtp.url, args: ['--mail-concurrency', '3'] });
  const { key, website } = await orgWithWebsite(service);
  const addresses = Array.from({ length: 5 }, (_, i) => uniqueEmail(`par${i}`));
  await queueEmails(service, key, website, addresses);

  // The server answers no DATA until released: one message per sender waits for its reply. A
  // sender claims one email while another sleeps, so each of the three gets one; the last one up
  // may take a few (up to EMAILS_PER_CLAIM), which it sends one after another.
  await smtp.waitForArrivals(3);
  // Every sender is stuck in its send, so the rows cannot move until the release.
  const rows = outboxRows(service);
  const claimed = rows.filter((r) => r.claimed);
  assert.ok(claimed.length >= 3 && claimed.length <= 2 + EMAILS_PER_CLAIM, JSON.stringify(rows));
  assert.deepEqual(
    rows.map((r) => [r.status, r.attempts, r.claimed]),
    rows.map((_, i) => (i < claimed.length ? [0, 1, true] : [0, 0, false])),
    'the claimed ones are the oldest, their attempts counted; the rest wait',
  );
  const inFlight = smtp.arrivals().map((a) => a.message_id);
  assert.equal(new Set(inFlight).size, 3, 'three distinct messages in flight');
  for (const messageId of inFlight) {
    assert.ok(claimed.some((r) => r.messageId === messageId), `${messageId} in flight without a claim`);
  }

  smtp.release();
  await waitFor(() => allSent(service), { intervalMs: 20, what: 'every email recorded as sent' });
  const counts = smtp.deliveriesByMessageId();
  assert.deepEqual([...counts.keys()].sort(), rows.map((r) => r.messageId).sort(), 'every queued email delivered');
  for (const [messageId, n] of counts) assert.equal(n, 1, `${messageId} delivered ${n} times`);
  assert.ok(outboxRows(service).every((r) => r.status === 1 && r.attempts === 1 && !r.claimed));
});

test('a backlog is claimed a few emails at a time: forty emails, one sender, fewer units of work than emails', async () => {
  // The first email is held by the server while the other 39 are queued: when it is released,
  // the sender finds a backlog and claims it EMAILS_PER_CLAIM at a time (one unit of work records
  // a claim's outcomes and makes the next claim). One email per unit would take at least 40.
  const smtp = await sink({ hold: true });
  const service = await start({ smtpUrl: smtp.url, args: ['--mail-concurrency', '1'] });
  const { key, website } = await orgWithWebsite(service);
  const addresses = Array.from({ length: 40 }, (_, i) => uniqueEmail(`backlog${i}`));
  await queueEmails(service, key, website, addresses.slice(0, 1));
  await smtp.waitForArrivals(1);
  await queueEmails(service, key, website, addresses.slice(1));
  const before = (await metrics(service)).invited_outbox_units_total;

  smtp.release();
  await waitFor(() => allSent(service), { intervalMs: 50, what: 'every email recorded as sent' });
  // The mail senders' own units (the store's count also holds the sweeps, the webhook senders'
  // reads and, on SQLite, an idle probe a second, which a slow drain on a loaded machine piles up).
  const units = (await metrics(service)).invited_outbox_units_total - before;
  const fewest = Math.ceil(addresses.length / EMAILS_PER_CLAIM);
  assert.ok(units >= fewest && units <= fewest + 4, `${units} units of work for ${addresses.length} emails`);
  for (const address of addresses) assert.equal(smtp.messagesTo(address).length, 1, address);
});

test('each sender keeps its SMTP connection open: twelve messages from two senders arrive over at most two connections', async () => {
  const smtp = await sink();
  const service = await start({ smtpUrl: smtp.url, args: ['--mail-concurrency', '2'] });
  const { key, website } = await orgWithWebsite(service);
  const addresses = Array.from({ length: 12 }, (_, i) => uniqueEmail(`conn${i}`));
  await queueEmails(service, key, website, addresses);

  await waitFor(() => allSent(service), { intervalMs: 20, what: 'every email recorded as sent' });
  const messages = smtp.messages();
  assert.equal(messages.length, addresses.length);
  // The sink notes each message's peer (address, port): one client port per connection.
  const connections = new Set(messages.map((m) => JSON.stringify(m.envelope.peer)));
  assert.ok(connections.size <= 2, `${messages.length} messages over ${connections.size} connections`);
  for (const address of addresses) assert.equal(smtp.messagesTo(address).length, 1, address);
});

test('SIGTERM with three sends in hand: each is aborted and given back uncounted, exit 0 within 10 s, all go out once after the restart', async (t) => {
  const stalled = await sink({ hold: true });
  const options = ['--mail-concurrency', '3'];
  const first = await start({ smtpUrl: stalled.url, args: options });
  const { key, website } = await orgWithWebsite(first);
  const addresses = Array.from({ length: 3 }, (_, i) => uniqueEmail(`term${i}`));
  await queueEmails(first, key, website, addresses);
  await stalled.waitForArrivals(3);

  const began = Date.now();
  assert.equal(await first.stop('SIGTERM'), 0, 'clean exit');
  const took = Date.now() - began;
  t.diagnostic(`SIGTERM to exit: ${took} ms`);
  assert.ok(took < 10000, `exited after ${took} ms`);
  const queued = outboxRows(first);
  assert.deepEqual(queued.map((r) => [r.status, r.attempts, r.claimed]), [[0, 0, false], [0, 0, false], [0, 0, false]]);
  await stalled.stop();
  assert.equal(stalled.messages().length, 0, 'the stalled server never accepted any');

  const smtp = await sink();
  const second = await start({ dir: first.dir, smtpUrl: smtp.url, args: options });
  await waitFor(() => allSent(second), { intervalMs: 20, what: 'every email recorded as sent' });
  assert.deepEqual(
    [...smtp.deliveriesByMessageId()].sort(),
    queued.map((r) => [r.messageId, 1]).sort(),
    'each delivered once, with the Message-ID it was queued with',
  );
});

test('/metrics: the outbox depth and the age of the oldest queued email follow the queue', async () => {
  const smtp = await sink({ hold: true });
  const service = await start({ smtpUrl: smtp.url, args: ['--mail-concurrency', '1'] });
  const { key, website } = await orgWithWebsite(service);

  const empty = await metrics(service);
  assert.equal(empty.invited_outbox_queued_emails, 0);
  assert.equal(empty.invited_outbox_oldest_queued_age_seconds, 0);

  // The oldest email is queued while its request runs (between these two readings of the clock).
  const firstFrom = Date.now();
  await queueEmails(service, key, website, [uniqueEmail('depth1')]);
  const firstBy = Date.now();
  await queueEmails(service, key, website, [uniqueEmail('depth2'), uniqueEmail('depth3')]);
  // One is in flight (held by the server) and two wait: all three are still queued.
  await smtp.waitForArrivals(1);
  const before = Date.now();
  const held = await metrics(service);
  const after = Date.now();
  assert.equal(held.invited_outbox_queued_emails, 3);
  const age = held.invited_outbox_oldest_queued_age_seconds;
  // Milliseconds on both sides: the service's clock and this one are the machine's.
  const [least, most] = [(before - firstBy - 1) / 1000, (after - firstFrom + 1) / 1000];
  assert.ok(age >= least && age <= most, `age ${age} s, expected between ${least} and ${most}`);
  // The age grows while the first email waits.
  await waitFor(async () => (await metrics(service)).invited_outbox_oldest_queued_age_seconds >= age + 1, {
    intervalMs: 100, what: 'the oldest queued email to age by a second',
  });
  assert.equal((await metrics(service)).invited_outbox_queued_emails, 3);

  smtp.release();
  await waitFor(() => allSent(service), { intervalMs: 20, what: 'every email recorded as sent' });
  const drained = await metrics(service);
  assert.equal(drained.invited_outbox_queued_emails, 0);
  assert.equal(drained.invited_outbox_oldest_queued_age_seconds, 0);
  assert.equal(drained.invited_outbox_sent_total, 3);
});
