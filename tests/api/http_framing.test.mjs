// How requests frame themselves (RFC 9112): Host (none in HTTP/1.1, or two, is 400),
// absolute-form targets (served), chunked bodies (malformed is 400, other transfer codings 501,
// chunked not named exactly once 400), the header limit (431, over the request line and fields
// together) and Expect: 100-continue (answered only after the route and key checks). Raw sockets, since
// HTTP clients never send these.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startWithOrg } from '../support/service.mjs';
import { GENEROUS_LIMITS, tableCounts, uniqueEmail } from '../support/assertions.mjs';

let service;
let key;
let websites;

before(async () => {
  ({ service, key, websites } = await startWithOrg({ websiteCount: 1, args: GENEROUS_LIMITS }));
});

after(async () => {
  if (service) assert.equal(await service.stop(), 0);
});

// Sends `bytes` and resolves with everything received until the service closes the connection
// (or, with `untilResponse`, until one whole response header has arrived), parsed.
function exchange(bytes, { untilResponse = false } = {}) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(service.port, '127.0.0.1');
    let received = Buffer.alloc(0);
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(parse(received.toString('latin1')));
    };
    const timer = setTimeout(() => {
      done = true;
      socket.destroy();
      reject(new Error(`no answer within 10 s; got ${JSON.stringify(received.toString('latin1').slice(0, 200))}`));
    }, 10000);
    socket.on('error', () => {});
    socket.on('data', (d) => {
      received = Buffer.concat([received, d]);
      if (untilResponse && received.includes('\r\n\r\n')) finish();
    });
    socket.on('close', finish);
    socket.write(bytes);
  });
}

function parse(text) {
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return { status: 0, raw: text, headers: {}, body: '' };
  const [statusLine, ...lines] = text.slice(0, end).split('\r\n');
  const headers = {};
  for (const line of lines) headers[line.slice(0, line.indexOf(':')).toLowerCase()] = line.slice(line.indexOf(':') + 1).trim();
  const body = text.slice(end + 4);
  let json;
  try {
    json = JSON.parse(body);
  } catch {
    json = undefined;
  }
  return { status: Number(statusLine.split(' ')[1]), statusLine, headers, body, json, raw: text };
}

const bulkBody = () => JSON.stringify({ invite_method: 'direct', email: uniqueEmail('framing'), website_ids: [websites[0].id] });

test('an HTTP/1.1 request without Host is 400', async () => {
  const response = await exchange('GET /healthz HTTP/1.1\r\n\r\n');
  assert.equal(response.status, 400, response.raw);
  assert.equal(response.json.code, 'bad_request');
  assert.match(response.json.error, /Host/);
  // HTTP/1.0 needs none.
  assert.equal((await exchange('GET /healthz HTTP/1.0\r\n\r\n')).status, 200);
});

test('a request with two Host headers is 400, in HTTP/1.1 and 1.0', async () => {
  for (const version of ['1.1', '1.0']) {
    const response = await exchange(`GET /healthz HTTP/${version}\r\nHost: a.example\r\nHost: b.example\r\n\r\n`);
    assert.equal(response.status, 400, response.raw);
    assert.equal(response.json.code, 'bad_request');
    assert.match(response.json.error, /Host/);
  }
});

test('an absolute-form target is served with the path and query taken from it', async () => {
  const health = await exchange('GET http://127.0.0.1/healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
  assert.equal(health.status, 200, health.raw);
  const page = await exchange(
    `GET HTTP://invites.example:8080/api/v1/websites?page_size=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: ${key}\r\nConnection: close\r\n\r\n`,
  );
  assert.equal(page.status, 200, page.raw);
  assert.equal(page.json.page_size, 1, 'the query came from the absolute target');
});

test('malformed chunked bodies get a 400 answer and write nothing', async () => {
  const before = tableCounts(service);
  const head = `POST /api/v1/invites/bulk HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: ${key}\r\ncontent-type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`;
  for (const [name, chunks] of [
    ['a size overflowing 64 bits', '1ffffffffffffffff\r\n{}\r\n0\r\n\r\n'],
    ['a negative size', '-5\r\n{}\r\n0\r\n\r\n'],
    ['a size with junk', '5x\r\n{}\r\n0\r\n\r\n'],
  ]) {
    const response = await exchange(head + chunks);
    assert.equal(response.status, 400, `${name}: ${response.raw}`);
    assert.equal(response.json.code, 'bad_request', name);
    assert.equal(response.headers.connection, 'close', name);
  }
  assert.deepEqual(tableCounts(service), before);
});

test('a transfer coding other than chunked is 501 not_implemented', async () => {
  const before = tableCounts(service);
  const body = bulkBody();
  const response = await exchange(
    `POST /api/v1/invites/bulk HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: ${key}\r\ncontent-type: application/json\r\nTransfer-Encoding: gzip, chunked\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`,
  );
  assert.equal(response.status, 501, response.raw);
  assert.equal(response.json.code, 'not_implemented');
  assert.match(response.json.error, /gzip/);
  assert.deepEqual(tableCounts(service), before);
});

test('Transfer-Encoding that does not name chunked exactly once is 400, with one answer and nothing written', async () => {
  const before = tableCounts(service);
  const body = bulkBody();
  const head = `POST /api/v1/invites/bulk HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: ${key}\r\ncontent-type: application/json\r\n`;
  const chunked = `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`;
  for (const [name, bytes] of [
    // Chunked twice is not chunked as the last coding: the body's length is unknown, and the
    // chunks must not be read as a next request (a proxy that de-chunks them would disagree).
    ['chunked twice', `${head}Transfer-Encoding: chunked, chunked\r\n\r\n${chunked}`],
    // An empty Transfer-Encoding beside Content-Length: the length is not reliable either.
    ['an empty coding list', `${head}Transfer-Encoding: ,\r\nContent-Length: ${body.length}\r\n\r\n${body}`],
  ]) {
    const response = await exchange(bytes);
    assert.equal(response.status, 400, `${name}: ${response.raw}`);
    assert.equal(response.json?.code, 'bad_request', `${name}: ${response.raw}`);
    assert.match(response.json.error, /Transfer-Encoding/, name);
    assert.equal(response.headers.connection, 'close', name);
    assert.equal(response.raw.split('HTTP/1.1 ').length - 1, 1, `${name}: one answer: ${response.raw}`);
  }
  assert.deepEqual(tableCounts(service), before);
});

test('a transfer coding with bytes that are not a token is 501, not read as chunked', async () => {
  const body = bulkBody();
  const response = await exchange(
    Buffer.concat([
      Buffer.from(`POST /api/v1/invites/bulk HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: ${key}\r\ncontent-type: application/json\r\nTransfer-Encoding: chunked`),
      Buffer.from([0xd1]),
      Buffer.from(`\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`),
    ]),
  );
  assert.equal(response.status, 501, response.raw);
  assert.equal(response.json.code, 'not_implemented');
  // (exchange() reads bytes as latin1: decode the body as the UTF-8 it is.)
  const error = JSON.parse(Buffer.from(response.body, 'latin1').toString('utf8')).error;
  assert.match(error, /^transfer coding chunked\uFFFD is not supported/, 'the byte is named, repaired to U+FFFD');
});

test('the 16 KiB header limit counts the request line and the fields together: 431', async () => {
  // A request line that arrives whole in the server's first read, then 15 KiB of fields: each
  // part is under 16 KiB (the parser limits each on its own), the header is 18 KiB.
  const line = `GET /healthz?pad=${'a'.repeat(3 * 1024)} HTTP/1.1\r\n`;
  const fields = (size) => `Host: 127.0.0.1\r\nConnection: close\r\nX-Pad: ${'b'.repeat(size)}\r\n\r\n`;
  const response = await exchange(line + fields(15 * 1024));
  assert.equal(response.status, 431, response.raw.slice(0, 300));
  assert.equal(response.json?.code, 'bad_request');
  assert.equal(response.headers.connection, 'close');
  // Within 16 KiB together, the same request is served.
  const within = await exchange(line + fields(12 * 1024));
  assert.equal(within.status, 200, within.raw.slice(0, 300));
});

test('Expect: 100-continue with a bad key is answered 401 before the body is sent', async () => {
  const body = bulkBody();
  const head = (apiKey) =>
    `POST /api/v1/invites/bulk HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: ${apiKey}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nExpect: 100-continue\r\n\r\n`;
  // Only the header goes out: the first thing back must be the final answer, not 100 Continue.
  const refused = await exchange(head('ik_wrong'), { untilResponse: true });
  assert.equal(refused.status, 401, refused.raw);
  const missing = await exchange(head(''), { untilResponse: true });
  assert.equal(missing.status, 401, missing.raw);
  // An unknown route is 404 without waiting for the body either.
  const unrouted = await exchange(head(key).replace('/api/v1/invites/bulk', '/api/v1/nothing'), { untilResponse: true });
  assert.equal(unrouted.status, 404, unrouted.raw);
  // A good key gets 100 Continue, then the answer once the body is sent.
  const accepted = await exchange(head(key), { untilResponse: true });
  assert.match(accepted.statusLine, /^HTTP\/1\.1 100 /, accepted.raw);

  // Then the body is read and answered.
  const socket = net.connect(service.port, '127.0.0.1');
  let received = '';
  socket.on('data', (d) => {
    received += d.toString('latin1');
    if (received.startsWith('HTTP/1.1 100 ') && received.indexOf('\r\n\r\n') === received.length - 4) socket.write(body);
  });
  socket.write(`POST /api/v1/invites/bulk HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: ${key}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`);
  await new Promise((resolve) => socket.on('close', resolve));
  const final = parse(received.slice(received.indexOf('\r\n\r\n') + 4));
  assert.equal(final.status, 200, received);
  assert.equal(final.json.success, true);
});
