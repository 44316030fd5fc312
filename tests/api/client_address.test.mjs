// The client address (SPEC §6): the peer's address, or — when the peer is in --trusted-proxies —
// the right-most X-Forwarded-For address that is not itself trusted. Seen through the access
// log's `client` field and through the per-client connection bound.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startService } from '../support/service.mjs';
import { waitFor } from '../support/assertions.mjs';

// GET /healthz with `headers`; resolves with the access-log line of that request.
async function loggedClient(service, headers = {}) {
  const id = `client-${randomUUID()}`;
  const response = await service.fetch('/healthz', { headers: { ...headers, 'x-request-id': id } });
  assert.equal(response.status, 200);
  await response.text();
  const line = await waitFor(() => service.logs.find((l) => l.includes(`"request_id":"${id}"`)), { what: 'the access-log line' });
  return JSON.parse(line).client;
}

test('without --trusted-proxies, X-Forwarded-For is ignored: the client is the peer', async () => {
  const service = await startService({ validateResponses: false });
  try {
    assert.equal(await loggedClient(service), '127.0.0.1');
    assert.equal(await loggedClient(service, { 'x-forwarded-for': '203.0.113.9' }), '127.0.0.1');
  } finally {
    assert.equal(await service.stop(), 0);
  }
});

test('X-Forwarded-For from an untrusted peer is ignored', async () => {
  const service = await startService({ args: ['--trusted-proxies', '10.0.0.0/8, fd00::/8'], validateResponses: false });
  try {
    assert.equal(await loggedClient(service, { 'x-forwarded-for': '203.0.113.9' }), '127.0.0.1');
  } finally {
    assert.equal(await service.stop(), 0);
  }
});

test('from a trusted peer, the right-most untrusted X-Forwarded-For address is the client', async () => {
  const service = await startService({ env: { INVITED_TRUSTED_PROXIES: '127.0.0.0/8,10.1.0.0/16' }, validateResponses: false });
  try {
    assert.equal(await loggedClient(service), '127.0.0.1', 'no X-Forwarded-For: the peer');
    assert.equal(await loggedClient(service, { 'x-forwarded-for': '203.0.113.9' }), '203.0.113.9');
    // A client may send its own X-Forwarded-For: only what trusted hops appended counts.
    assert.equal(await loggedClient(service, { 'x-forwarded-for': '198.51.100.1, 203.0.113.9' }), '203.0.113.9');
    assert.equal(await loggedClient(service, { 'x-forwarded-for': '203.0.113.9, 10.1.2.3' }), '203.0.113.9');
    assert.equal(await loggedClient(service, { 'x-forwarded-for': '2001:db8::7' }), '2001:db8::7');
    assert.equal(await loggedClient(service, { 'x-forwarded-for': 'not-an-address, 10.1.2.3' }), '10.1.2.3');
  } finally {
    assert.equal(await service.stop(), 0);
  }
});

test('behind a trusted proxy, the per-client connection bound counts the forwarded client', async () => {
  const { spawn } = await import('node:child_process');
  const holderPath = new URL('../support/connection_holder.mjs', import.meta.url).pathname;
  const hold = (port, count, header) =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [holderPath, String(port), String(count), 'idle', '127.0.0.1', header], {
        stdio: ['pipe', 'pipe', 'inherit'],
      });
      let out = '';
      child.stdout.on('data', (d) => {
        out += d;
        if (out.includes('\n')) resolve({ tally: JSON.parse(out.slice(0, out.indexOf('\n'))), child });
      });
      child.on('exit', (code) => reject(new Error(`holder exited ${code}`)));
    });
  const service = await startService({
    args: ['--trusted-proxies', '127.0.0.1', '--max-connections-per-client', '5'],
    validateResponses: false,
  });
  const held = [];
  try {
    const greedy = await hold(service.port, 8, 'X-Forwarded-For: 198.51.100.7');
    held.push(greedy.child);
    assert.equal(greedy.tally.ok, 5, JSON.stringify(greedy.tally));
    assert.equal(greedy.tally.refused, 3, JSON.stringify(greedy.tally));
    // Another client behind the same proxy is served: the proxy's address is not the client.
    const other = await hold(service.port, 5, 'X-Forwarded-For: 198.51.100.8');
    held.push(other.child);
    assert.equal(other.tally.ok, 5, JSON.stringify(other.tally));
  } finally {
    for (const child of held) child.stdin.end();
    assert.equal(await service.stop(), 0);
  }
});

test('a malformed --trusted-proxies refuses to start, naming the setting', async () => {
  for (const list of ['10.0.0.0/33', 'example.com', '10.0.0.0/8,,', '::1/129', '1.2.3.4:80']) {
    await assert.rejects(startService({ args: ['--trusted-proxies', list], validateResponses: false }), /--trusted-proxies/, list);
  }
});
