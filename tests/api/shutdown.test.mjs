// Bounded shutdown (README "Signals"): on SIGTERM the service exits 0 within 10 s even while a
// client is still sending its request (that connection is closed after 5 s), and a request
// already handed to the store is answered.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { startWithOrg } from '../support/service.mjs';
import { waitFor } from '../support/assertions.mjs';
import { holdWriteLock } from '../support/database.mjs';

// Bytes the kernel holds for the server side of the connection from `clientPort` that the
// service has not read yet (/proc/net/tcp rx_queue), or undefined while there is no such socket.
function unreadByServer(serverPort, clientPort) {
  const hex = (n) => n.toString(16).toUpperCase().padStart(4, '0');
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 5) continue;
    if (fields[1].endsWith(`:${hex(serverPort)}`) && fields[2].endsWith(`:${hex(clientPort)}`)) {
      return parseInt(fields[4].split(':')[1], 16);
    }
  }
  return undefined;
}

// Sends `head` and `body` on a fresh connection; resolves with the raw answer (or '' if the
// connection closed without one) and when the connection closed.
function send(port, text) {
  const socket = net.connect(port, '127.0.0.1');
  const answer = new Promise((resolve) => {
    let received = '';
    socket.on('data', (d) => {
      received += d.toString('latin1');
    });
    socket.on('error', () => {});
    socket.on('close', () => resolve({ text: received, closedAt: performance.now() }));
  });
  const connected = new Promise((resolve) => socket.on('connect', resolve));
  socket.write(text);
  return { socket, answer, connected };
}

test('SIGTERM with a client still sending its body: exit 0 within 10 s, the request in the store is answered', async () => {
  const { service, key } = await startWithOrg({ websiteCount: 0 });
  // The key is cached by a first request, so the next one goes straight to the store.
  assert.equal((await service.api('GET', '/api/v1/websites', { key })).status, 200);

  // A slow client: headers and half of a declared body, then nothing.
  const slow = send(
    service.port,
    `POST /api/v1/websites HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: ${key}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"url":`,
  );
  await slow.connected;

  // A request that waits in the store: the database's write lock is held elsewhere.
  const lock = await holdWriteLock(service);
  const body = JSON.stringify({ url: 'https://in-flight.example.com', name: 'In flight' });
  const inFlight = send(
    service.port,
    `POST /api/v1/websites HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: ${key}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  await inFlight.connected;
  const port = inFlight.socket.localPort;
  await waitFor(() => unreadByServer(service.port, port) === 0, { what: 'the service to read the in-flight request' });
  await waitFor(() => unreadByServer(service.port, slow.socket.localPort) === 0, { what: 'the service to read the slow request so far' });

  const signalled = performance.now();
  service.child.kill('SIGTERM');
  await waitFor(() => service.logs.some((l) => l.includes('"shutting down"')), { what: 'the shutdown to begin' });
  const released = lock.release();

  const answered = await inFlight.answer;
  await released;
  assert.match(answered.text, /^HTTP\/1\.1 201 /, `the request in the store is answered: ${answered.text.slice(0, 200)}`);
  assert.match(answered.text, /\r\nconnection: close\r\n/i);

  const code = await service.stop();
  const exitedAfter = performance.now() - signalled;
  assert.equal(code, 0);
  assert.ok(exitedAfter < 10000, `exited ${Math.round(exitedAfter)} ms after SIGTERM`);
  const slowEnd = await slow.answer;
  assert.ok(slowEnd.closedAt - signalled < 6500, `the slow client was cut off after ${Math.round(slowEnd.closedAt - signalled)} ms`);
  assert.equal(slowEnd.text, '', 'the unfinished request is not answered');
  const saved = service.sql("SELECT COUNT(*) FROM websites WHERE url = 'https://in-flight.example.com'");
  assert.equal(Number(saved[0][0]), 1, 'the answered request was committed');
});
