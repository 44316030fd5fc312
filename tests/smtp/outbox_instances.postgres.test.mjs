// Several instances on one PostgreSQL database each run a mail worker, and together they deliver
// the outbox exactly once (docs/architecture.md, "Email: an outbox"; docs/postgres.md, "Outbox
// claims across instances"). PostgreSQL only: SQLite is served by one process.
//
// Three real instances, a real SMTP sink that holds every message after DATA (so each sender has
// one in flight, and may hold a few more claimed, up to kEmailsPerClaim, domain/outbox.hpp),
// emails queued through all three; one instance is killed with SIGKILL while its sends are in
// flight, then the sink lets messages through. Then: every queued email is delivered; the
// distinct Message-IDs delivered are exactly the emails queued; an email the killed instance had
// in hand (claimed: it shows as a second counted attempt) is delivered by a survivor within the
// lease + 5 s of the kill, with the same Message-ID, and only one it had in flight may arrive
// twice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { uniqueEmail, bulkOk, uuidSql, waitFor } from '../support/assertions.mjs';
import { peersOfThisFile } from '../support/file_peers.mjs';

const { start, sink } = peersOfThisFile();

const LEASE_SECONDS = 30; // domain/outbox.hpp kEmailLeaseMs
const CONCURRENCY = 2; // senders per instance
const EMAILS_PER_CLAIM = 4; // domain/outbox.hpp kEmailsPerClaim

// The instance id a service claims under (its "instance lock taken" log line).
function instanceId(service) {
  // Read from the text: the id is 63 bits, more than a JavaScript number holds exactly.
  const line = service.logs.find((l) => l.includes('"instance lock taken: this instance claims outbox emails"'));
  return line?.match(/"instance":\s*(-?\d+)/)?.[1];
}

const sentBy = (service) =>
  service.logs.filter((line) => {
    try {
      return JSON.parse(line).msg === 'email sent';
    } catch {
      return false;
    }
  }).length;

const outboxRows = (service) =>
  service
    .sql(`SELECT ${uuidSql('message_id')}, status, attempts, coalesce(CAST(claimed_by AS TEXT), '') FROM outbox_emails ORDER BY pk`)
    .map(([messageId, status, attempts, claimedBy]) => ({
      messageId: `<${messageId}@127.0.0.1>`, status: Number(status), attempts: Number(attempts), claimedBy,
    }));

test('postgres: three instances deliver every email once; kill -9 of one mid-delivery re-sends only what it had in flight, same Message-ID, within the lease + 5 s', async (t) => {
  // The sink holds every message after DATA until released: while it holds, each sender of each
  // instance has exactly one message in flight, so what the victim has in hand is known.
  const smtp = await sink({ hold: true, delayMs: 200 });
  const options = ['--mail-concurrency', String(CONCURRENCY)];
  const first = await start({ smtpUrl: smtp.url, args: options });
  const second = await start({ dir: first.dir, smtpUrl: smtp.url, args: options });
  const victim = await start({ dir: first.dir, smtpUrl: smtp.url, args: options });
  const instances = [first, second, victim];

  const org = first.createOrg('Acme');
  const website = await first.createWebsite(org.api_key, 'https://www.acme.example/', 'Acme');
  const addresses = Array.from({ length: 36 }, (_, i) => uniqueEmail(`many${i}`));
  // Round-robin: every instance queues (and is told of) a third of the emails.
  for (const [i, email] of addresses.entries()) {
    await bulkOk(instances[i % 3], org.api_key, { invite_method: 'email', email, website_ids: [website.id] });
  }

  // Every sender of every instance is in flight, the victim's two among them. Each victim
  // sender is then stuck in its send, so its claims cannot change until the kill.
  const victimId = await waitFor(() => instanceId(victim), { what: 'the victim to take its instance lock' });
  const heldByVictim = () => outboxRows(first).filter((r) => r.status === 0 && r.claimedBy === victimId).map((r) => r.messageId);
  const victimInFlight = () => {
    const held = heldByVictim();
    return smtp.arrivals().map((a) => a.message_id).filter((id) => held.includes(id));
  };
  await smtp.waitForArrivals(3 * CONCURRENCY, { timeoutMs: 30000 });
  await waitFor(() => victimInFlight().length === CONCURRENCY, { timeoutMs: 30000, intervalMs: 20, what: 'the victim with a message in flight per sender' });
  const inHand = heldByVictim().sort();
  const inFlight = victimInFlight().sort();
  assert.ok(inHand.length >= CONCURRENCY && inHand.length <= CONCURRENCY * EMAILS_PER_CLAIM, `the victim holds ${inHand.length} claims`);
  await victim.stop('SIGKILL');
  const killedAt = Date.now() / 1000;
  smtp.release();

  await waitFor(() => outboxRows(first).every((r) => r.status === 1), {
    timeoutMs: (LEASE_SECONDS + 30) * 1000, intervalMs: 50, what: 'every email recorded as sent',
  });
  const rows = outboxRows(first);
  assert.equal(rows.length, addresses.length, 'one email per request');
  const counts = smtp.deliveriesByMessageId();
  assert.deepEqual([...counts.keys()].sort(), rows.map((r) => r.messageId).sort(), 'the distinct Message-IDs delivered are the emails queued');
  for (const address of addresses) assert.ok(smtp.messagesTo(address).length >= 1, address);

  // An attempt counted but never recorded is one the victim had in hand: exactly its claims at
  // the kill. The sink accepts every message, so every other email took one attempt.
  assert.deepEqual(rows.filter((r) => r.attempts > 1).map((r) => r.messageId).sort(), inHand, JSON.stringify(rows));
  assert.ok(rows.every((r) => r.attempts === (inHand.includes(r.messageId) ? 2 : 1)), JSON.stringify(rows));
  for (const [messageId, n] of counts) {
    if (n > 1) {
      assert.ok(inFlight.includes(messageId), `${messageId} delivered ${n} times but was not in flight at the kill`);
      assert.equal(n, 2, `${messageId} delivered ${n} times`);
    }
  }
  // Delivered again by a survivor within the lease + 5 s of the kill.
  const deliveredAt = new Map();
  for (const message of smtp.messages()) {
    const id = message.raw.toString('latin1').match(/^message-id:\s*(\S+)/im)?.[1];
    deliveredAt.set(id, Math.max(deliveredAt.get(id) ?? 0, message.envelope.received_at));
  }
  for (const messageId of inHand) {
    const after = deliveredAt.get(messageId) - killedAt;
    t.diagnostic(`${messageId} delivered ${after.toFixed(2)} s after the kill`);
    assert.ok(after <= LEASE_SECONDS + 5, `${messageId} delivered ${after} s after the kill`);
  }
  // Each survivor ran a worker of its own.
  for (const service of [first, second]) assert.ok(sentBy(service) > 0, `${service.url} sent nothing`);
});
