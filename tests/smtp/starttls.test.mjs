// STARTTLS is required for an smtp:// server that is not on this machine's loopback: a server (or
// a man in the middle who strips STARTTLS from its EHLO reply) that does not offer it gets
// neither the password nor any message, unless --smtp-allow-plaintext says so. The send is
// retried and the log says why; loopback servers (local relays, test sinks) are exempt. The real
// SMTP sink offers no STARTTLS, so it stands for the stripped server here; it listens on an IPv4
// address of this machine outside 127.0.0.0/8.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { nonLoopbackIPv4 } from '../support/service.mjs';
import { uniqueEmail, bulkOk, waitFor } from '../support/assertions.mjs';
import { peersOfThisFile } from '../support/file_peers.mjs';

let external;
const { start, sink } = peersOfThisFile({ onEnd: () => external?.remove() });

before(() => {
  external = nonLoopbackIPv4();
});

// Queues one invitation email to a fresh address; returns the address.
async function inviteByEmail(service) {
  const org = service.createOrg('Acme');
  const website = await service.createWebsite(org.api_key, 'https://site.acme.example/', 'Site');
  const email = uniqueEmail('tls');
  await bulkOk(service, org.api_key, { invite_method: 'email', email, website_ids: [website.id] });
  return email;
}

const logEntries = (service, msg) =>
  service.logs.flatMap((line) => {
    try {
      const entry = JSON.parse(line);
      return entry.msg === msg ? [entry] : [];
    } catch {
      return [];
    }
  });

const RETRY = ['--mail-retry-seconds', '0.05', '--mail-max-attempts', '100'];

test('smtp:// to a non-loopback server without STARTTLS sends nothing, retries and says why; with --smtp-allow-plaintext the queued email goes out', async () => {
  const server = await sink({ host: external.address });
  assert.equal(server.url, `smtp://${external.address}:${server.port}`);
  const service = await start({ smtpUrl: server.url, args: RETRY });
  const email = await inviteByEmail(service);

  // Two refused attempts: the failure is retryable, and each is logged with its reason.
  const retries = await waitFor(() => logEntries(service, 'email will be retried').length >= 2 && logEntries(service, 'email will be retried'), {
    what: 'two retried sends',
  });
  for (const entry of retries) {
    assert.equal(entry.transport, 'smtp');
    assert.match(entry.error, /STARTTLS is required for an SMTP server that is not on this machine/);
    assert.match(entry.error, /STARTTLS not supported/, 'libcurl reached the server and saw no STARTTLS');
    assert.match(entry.error, /nothing was sent/);
    assert.match(entry.error, /--smtp-allow-plaintext \(INVITED_SMTP_ALLOW_PLAINTEXT=true\)/);
  }
  assert.deepEqual(logEntries(service, 'email failed'), [], 'not given up: retried');
  assert.deepEqual(server.mailCommands(), [], 'no MAIL FROM reached the server');
  assert.equal(server.count(), 0);
  const [[status, attempts, lastError]] = service.sql(`SELECT status, attempts, last_error FROM outbox_emails WHERE to_address = '${email}'`);
  assert.equal(status, '0', 'the email stays queued');
  assert.ok(Number(attempts) >= 2, `attempts ${attempts}`);
  assert.match(lastError, /STARTTLS is required/);
  assert.deepEqual(logEntries(service, 'SMTP without STARTTLS allowed'), []);
  assert.equal(await service.stop(), 0);

  // The operator allows plaintext: the same queued email is delivered on the next start.
  const allowed = await start({ dir: service.dir, smtpUrl: server.url, args: [...RETRY, '--smtp-allow-plaintext'] });
  assert.equal(logEntries(allowed, 'SMTP without STARTTLS allowed').length, 1, 'a warning at start');
  // It goes at its next attempt, which each failure put twice as far out (0.05 s, 0.1 s, ...): on
  // a slow machine the first service may have failed several more times before it stopped.
  const message = await server.waitForMessageTo(email, { timeoutMs: 60000 });
  assert.equal(message.envelope.rcpt_tos.length, 1);
  assert.equal(server.count(), 1);
});

test('INVITED_SMTP_ALLOW_PLAINTEXT=true allows plaintext like the flag', async () => {
  const server = await sink({ host: external.address });
  const service = await start({ smtpUrl: server.url, args: RETRY, env: { INVITED_SMTP_ALLOW_PLAINTEXT: 'true' } });
  assert.equal(logEntries(service, 'SMTP without STARTTLS allowed').length, 1, 'a warning at start');
  const email = await inviteByEmail(service);
  await server.waitForMessageTo(email);
  assert.deepEqual(logEntries(service, 'email will be retried'), []);
});

// The exemption (unchanged behaviour for loopback servers, so this one also passes on the code
// before the rule): localhost and ::1 count as loopback, not only 127.0.0.1.
test('loopback servers are exempt: smtp://localhost and smtp://[::1] deliver without STARTTLS and without the flag', async () => {
  for (const [host, url] of [
    ['127.0.0.1', (port) => `smtp://localhost:${port}`],
    ['::1', (port) => `smtp://[::1]:${port}`],
  ]) {
    const server = await sink({ host });
    const service = await start({ smtpUrl: url(server.port), args: RETRY });
    const email = await inviteByEmail(service);
    await server.waitForMessageTo(email);
    assert.deepEqual(logEntries(service, 'email will be retried'), [], `${url(server.port)}: sent at the first attempt`);
    assert.deepEqual(logEntries(service, 'SMTP without STARTTLS allowed'), []);
  }
});
