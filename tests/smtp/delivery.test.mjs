// Delivery through the outbox (SPEC §7, issue 3): a request is acknowledged whatever the SMTP
// server does; a failed send is retried with backoff; an outage ends with every email delivered
// exactly once; after the last attempt the delivery is `failed`; a restart (clean or a crash)
// delivers what was queued. Every wait polls a condition with a deadline.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAIL_TIMEOUT_MS, uniqueEmail, bulkOk, call, count, uuidSql, waitFor } from '../support/assertions.mjs';
import { freePort, parseMail, metrics } from '../support/smtp.mjs';
import { peersOfThisFile } from '../support/file_peers.mjs';

const { start, sink } = peersOfThisFile();

async function orgWithWebsites(service, n) {
  const org = service.createOrg('Acme');
  const websites = [];
  for (let i = 0; i < n; i++) websites.push(await service.createWebsite(org.api_key, `https://s${i}.acme.example/`, `Site ${i}`));
  return { key: org.api_key, websites };
}

const outboxRows = (service) =>
  service
    .sql(`SELECT to_address, status, attempts, CAST(claimed_until IS NOT NULL AS INTEGER), ${uuidSql('message_id')}, coalesce(last_error, '') FROM outbox_emails ORDER BY pk`)
    .map(([to, status, attempts, claimed, messageId, lastError]) => ({
      to, status: Number(status), attempts: Number(attempts), claimed: claimed === '1', messageId, lastError,
    }));

const deliveries = (service) => service.sql('SELECT delivery FROM invite_batches ORDER BY pk').map((r) => Number(r[0]));

test('SMTP outage: requests are acknowledged, sends are retried, and once the server is back every email arrives exactly once', async () => {
  const port = await freePort(); // nothing listens here until the sink starts below
  const service = await start({
    smtpUrl: `smtp://127.0.0.1:${port}`,
    args: ['--mail-retry-seconds', '0.1', '--mail-max-attempts', '30'],
  });
  const { key, websites } = await orgWithWebsites(service, 3);
  const requests = [
    { email: uniqueEmail('out1'), website_ids: [websites[0].id] },
    { email: uniqueEmail('out2'), website_ids: [websites[0].id, websites[1].id] },
    { email: uniqueEmail('out3'), website_ids: [websites[2].id, websites[1].id, websites[0].id] },
    { email: uniqueEmail('out4'), website_ids: [websites[1].id] },
  ];
  for (const request of requests) {
    const results = await bulkOk(service, key, { invite_method: 'email', ...request });
    assert.ok(results.every((r) => r.success && r.message === 'Invitation sent'));
  }

  // Retries happen while the server is down: every email has been tried at least twice. `attempts`
  // counts claims, so a third claim is what proves the second failed attempt was recorded (and
  // counted in the metrics): waiting for attempts >= 2 could read the second attempt in flight.
  await waitFor(() => outboxRows(service).every((row) => row.attempts >= 3), { timeoutMs: MAIL_TIMEOUT_MS, intervalMs: 20, what: 'two failed attempts per email' });
  const down = await metrics(service);
  assert.ok(down.invited_outbox_retried_total >= 2 * requests.length, `retried ${down.invited_outbox_retried_total}`);
  assert.equal(down.invited_outbox_sent_total, 0);
  assert.equal(down.invited_outbox_failed_total, 0);
  const queued = outboxRows(service);
  assert.equal(queued.length, requests.length, 'one queued email per request');
  assert.ok(queued.every((row) => row.status === 0 && row.lastError !== ''), JSON.stringify(queued));
  assert.deepEqual(deliveries(service), [0, 0, 0, 0], 'delivery queued while the server is down');

  // The server comes back on the same port. Each failure doubles the wait before the next attempt
  // (0.1 s, 0.2 s, 0.4 s, ...): on a slow machine an email may have failed a few more times by
  // now, and its next attempt can be 10 s or more away, so the deadline allows for that.
  const smtp = await sink({ port });
  await waitFor(() => deliveries(service).every((d) => d === 1), { timeoutMs: MAIL_TIMEOUT_MS, intervalMs: 20, what: 'every batch sent' });
  const sent = outboxRows(service);
  assert.ok(sent.every((row) => row.status === 1 && !row.claimed), JSON.stringify(sent));

  const received = smtp.messages();
  assert.equal(received.length, requests.length, 'exactly one message per request, none lost, none doubled');
  for (const [i, request] of requests.entries()) {
    const mine = smtp.messagesTo(request.email);
    assert.equal(mine.length, 1, `one message to ${request.email}`);
    const mail = await parseMail(mine[0].raw);
    // The Message-ID is the one queued with the request: stable across the failed attempts.
    assert.equal(mail.messageId, `<${sent[i].messageId}@127.0.0.1>`);
    for (const id of request.website_ids) {
      const site = websites.find((w) => w.id === id);
      assert.ok(mail.text.includes(site.name) && mail.text.includes(site.url), `${site.name} in the email to ${request.email}`);
    }
    assert.equal(websites.filter((w) => mail.text.includes(w.url)).length, request.website_ids.length, 'no other website listed');
  }
  const up = await metrics(service);
  assert.equal(up.invited_outbox_sent_total, requests.length);
  assert.equal(up.invited_outbox_failed_total, 0);
});

test('a server that answers 451 twice: retried, then delivered once', async () => {
  const smtp = await sink({ rejectFirst: 2 });
  const service = await start({ smtpUrl: smtp.url, args: ['--mail-retry-seconds', '0.05', '--mail-max-attempts', '5'] });
  const { key, websites } = await orgWithWebsites(service, 1);
  const email = uniqueEmail('busy');
  await bulkOk(service, key, { invite_method: 'email', email, website_ids: [websites[0].id] });
  await waitFor(() => deliveries(service)[0] === 1, { timeoutMs: MAIL_TIMEOUT_MS, intervalMs: 20, what: 'the batch to be sent' });
  const [row] = outboxRows(service);
  assert.equal(row.status, 1);
  assert.equal(row.attempts, 3, 'two refused attempts, then the one that was accepted');
  assert.equal(smtp.messages().length, 1);
  assert.equal(smtp.messagesTo(email).length, 1);
  const m = await metrics(service);
  assert.equal(m.invited_outbox_retried_total, 2);
  assert.equal(m.invited_outbox_sent_total, 1);
});

test('max attempts: with no server and --mail-max-attempts 2 the delivery becomes failed and the email is claimed no more', async () => {
  const port = await freePort();
  const service = await start({
    smtpUrl: `smtp://127.0.0.1:${port}`,
    args: ['--mail-retry-seconds', '0.05', '--mail-max-attempts', '2'],
  });
  const { key, websites } = await orgWithWebsites(service, 2);
  const email = uniqueEmail('lost');
  const results = await bulkOk(service, key, { invite_method: 'email', email, website_ids: websites.map((w) => w.id) });
  assert.ok(results.every((r) => r.success));

  await waitFor(() => deliveries(service)[0] === 2, { timeoutMs: MAIL_TIMEOUT_MS, intervalMs: 20, what: 'delivery failed' });
  const [row] = outboxRows(service);
  assert.equal(row.status, 2, 'outbox row failed');
  assert.equal(row.attempts, 2, 'exactly --mail-max-attempts attempts');
  assert.equal(row.claimed, false, 'the claim ended with the final failure');
  assert.notEqual(row.lastError, '');
  const m = await metrics(service);
  assert.equal(m.invited_outbox_failed_total, 1);
  assert.equal(m.invited_outbox_retried_total, 1);
  assert.equal(m.invited_outbox_sent_total, 0);
  // The invites stay pending (the link could still be resent); only the delivery failed.
  assert.deepEqual(service.sql('SELECT DISTINCT status FROM invites'), [['0']]);
  // One invitation.delivery_failed per invite of the email, actor system, the invite as it now
  // is (SPEC §9). Waited for: on PostgreSQL an event is listed once older transactions end.
  const failedEvents = await waitFor(async () => {
    const { events } = await call(service, 'GET', '/api/v1/events?type=invitation.delivery_failed', { key });
    return events.length >= 2 && events;
  }, { timeoutMs: MAIL_TIMEOUT_MS, what: 'the invitation.delivery_failed events' });
  assert.equal(failedEvents.length, 2, 'one per invite');
  assert.deepEqual(failedEvents.map((e) => e.data.id).sort(), results.map((r) => r.invite_id).sort());
  for (const event of failedEvents) {
    assert.deepEqual(event.actor, { type: 'system' });
    const shown = (await call(service, 'GET', `/api/v1/invites/${event.data.id}`, { key })).invite;
    assert.deepEqual(event.data, shown);
    assert.deepEqual([shown.status, shown.delivery], ['pending', 'failed']);
  }

  // A server now on that port gets only later email: the failed one is not sent again.
  const smtp = await sink({ port });
  const fence = uniqueEmail('fence');
  await bulkOk(service, key, { invite_method: 'email', email: fence, website_ids: [websites[0].id] });
  await smtp.waitForMessageTo(fence);
  await waitFor(() => count(service, 'SELECT COUNT(*) FROM outbox_emails WHERE status = 0') === 0, { timeoutMs: MAIL_TIMEOUT_MS, what: 'outbox drained' });
  assert.equal(smtp.messagesTo(email).length, 0, 'the failed email stays failed');
  assert.equal(smtp.messages().length, 1);
});

for (const [how, signal] of [['a clean stop (SIGTERM)', 'SIGTERM'], ['a crash (SIGKILL) right after the response', 'SIGKILL']]) {
  test(`restart after ${how} with mail still queued: the restarted service delivers it once`, async () => {
    const deadPort = await freePort();
    const first = await start({
      smtpUrl: `smtp://127.0.0.1:${deadPort}`,
      args: ['--mail-retry-seconds', '0.2', '--mail-max-attempts', '50'],
    });
    const { key, websites } = await orgWithWebsites(first, 2);
    const email = uniqueEmail('queued');
    await bulkOk(first, key, { invite_method: 'email', email, role: 'admin', website_ids: websites.map((w) => w.id) });
    if (signal === 'SIGTERM') {
      // Stop only once the email has certainly failed to go out at least once.
      await waitFor(() => outboxRows(first)[0].attempts >= 1, { timeoutMs: MAIL_TIMEOUT_MS, intervalMs: 20, what: 'a failed attempt' });
      assert.equal(await first.stop('SIGTERM'), 0, 'clean exit');
    } else {
      await first.stop('SIGKILL');
    }
    const [before] = outboxRows(first);
    assert.equal(before.status, 0, 'still queued across the stop');
    if (signal === 'SIGTERM') assert.equal(before.claimed, false, 'a clean stop ends its claim');

    const smtp = await sink();
    const second = await start({ dir: first.dir, smtpUrl: smtp.url, args: ['--mail-retry-seconds', '0.2', '--mail-max-attempts', '50'] });
    await smtp.waitForMessageTo(email);
    await waitFor(() => deliveries(second)[0] === 1, { timeoutMs: MAIL_TIMEOUT_MS, intervalMs: 20, what: 'delivery sent after the restart' });
    assert.equal(smtp.messages().length, 1, 'exactly one message');
    const mail = await parseMail(smtp.messages()[0].raw);
    assert.equal(mail.messageId, `<${before.messageId}@127.0.0.1>`, 'the queued message, same Message-ID');
    for (const site of websites) assert.ok(mail.text.includes(site.name));
    const [row] = outboxRows(second);
    assert.equal(row.status, 1);
    assert.equal(row.claimed, false);
    // The link in that email works against the restarted service.
    const link = new URL(/https?:\/\/\S+\/invites\/accept\?token=[A-Za-z0-9_-]+/.exec(mail.text)[0]);
    const accepted = await second.api('POST', '/api/v1/invitations/accept', { body: { token: link.searchParams.get('token') } });
    assert.equal(accepted.status, 200, accepted.text);
    assert.deepEqual(accepted.body.results.map((r) => r.success), [true, true]);
  });
}
