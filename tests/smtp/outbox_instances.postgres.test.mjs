// Several instances on one PostgreSQL database each run a mail worker, and together they deliver
// the outbox exactly once (docs/architecture.md, "Email: an outbox"; docs/postgres.md, "Outbox
// claims across instances"). PostgreSQL only: SQLite is served by one process.
//
// Three real instances, a real SMTP sink that is slow (so messages are in flight), emails queued
// through all three; one instance is killed with SIGKILL in the middle of the delivery. Then:
// every queued email is delivered; the distinct Message-IDs delivered are exactly the emails
// queued; an email the killed instance had in flight (it shows as a second counted attempt) is
// delivered again by a survivor within the lease + 5 s of the kill, with the same Message-ID,
// and is the only kind of email that may arrive twice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { uniqueEmail, bulkOk, uuidSql, waitFor } from '../support/assertions.mjs';
import { peersOfThisFile } from '../support/file_peers.mjs';

const { start, sink } = peersOfThisFile();

const LEASE_SECONDS = 30; // domain/outbox.hpp kEmailLeaseMs
const CONCURRENCY = 2; // senders per instance

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

test('postgres: three instances deliver every email once; kill -9 of one mid-delivery re-sends at most what it had in flight, same Message-ID, within the lease + 5 s', async (t) => {
  const smtp = await sink({ delayMs: 700 });
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

  // Mid-delivery: some delivered, plenty still queued, and the victim holds a claim in hand.
  const victimId = await waitFor(() => instanceId(victim), { what: 'the victim to take its instance lock' });
  await waitFor(
    () => smtp.count() >= 6 && sentBy(victim) > 0 && outboxRows(first).some((r) => r.status === 0 && r.claimedBy === victimId),
    { timeoutMs: 30000, intervalMs: 20, what: 'deliveries under way with a claim of the victim in hand' },
  );
  await victim.stop('SIGKILL');
  const killedAt = Date.now() / 1000;
  const queuedAtKill = outboxRows(first).filter((r) => r.status === 0).length;
  t.diagnostic(`killed with ${smtp.count()} delivered and ${queuedAtKill} queued`);
  assert.ok(queuedAtKill > 0, 'the kill came before the end of the delivery');

  await waitFor(() => outboxRows(first).every((r) => r.status === 1), {
    timeoutMs: (LEASE_SECONDS + 30) * 1000, intervalMs: 50, what: 'every email recorded as sent',
  });
  const rows = outboxRows(first);
  assert.equal(rows.length, addresses.length, 'one email per request');
  const counts = smtp.deliveriesByMessageId();
  assert.deepEqual([...counts.keys()].sort(), rows.map((r) => r.messageId).sort(), 'the distinct Message-IDs delivered are the emails queued');
  for (const address of addresses) assert.ok(smtp.messagesTo(address).length >= 1, address);

  // An attempt counted but never recorded is one the victim had in flight; the sink accepts every
  // message, so every other email took exactly one attempt.
  const inFlight = rows.filter((r) => r.attempts > 1);
  t.diagnostic(`in flight at the kill: ${inFlight.length}; delivered twice: ${[...counts.values()].filter((n) => n > 1).length}`);
  assert.ok(inFlight.length >= 1 && inFlight.length <= CONCURRENCY, JSON.stringify(rows));
  assert.ok(inFlight.every((r) => r.attempts === 2), JSON.stringify(inFlight));
  for (const [messageId, n] of counts) {
    if (n > 1) {
      assert.ok(inFlight.some((r) => r.messageId === messageId), `${messageId} delivered ${n} times but was not in flight at the kill`);
      assert.equal(n, 2, `${messageId} delivered ${n} times`);
    }
  }
  // Delivered again by a survivor within the lease + 5 s of the kill.
  const deliveredAt = new Map();
  for (const message of smtp.messages()) {
    const id = message.raw.toString('latin1').match(/^message-id:\s*(\S+)/im)?.[1];
    deliveredAt.set(id, Math.max(deliveredAt.get(id) ?? 0, message.envelope.received_at));
  }
  for (const email of inFlight) {
    const after = deliveredAt.get(email.messageId) - killedAt;
    t.diagnostic(`${email.messageId} delivered ${after.toFixed(2)} s after the kill`);
    assert.ok(after <= LEASE_SECONDS + 5, `${email.messageId} delivered ${after} s after the kill`);
  }
  // Each instance ran a worker of its own.
  for (const [i, service] of instances.entries()) assert.ok(sentBy(service) > 0, `instance ${i + 1} sent nothing`);
});
