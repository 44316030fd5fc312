// Browser clients in a real browser (--cors-origins): a page served from another origin (another
// port of 127.0.0.1, served here by a small HTTP server) calls /api/ with fetch() in Debian's
// Chromium. From a listed origin the browser's preflight passes, the request carries x-api-key,
// content-type and Idempotency-Key, and the page reads the request id and the rate-limit headers;
// from an origin not listed the browser refuses, and nothing is written. (Both pages are on
// loopback: Chromium keeps a page it takes for public from calling a loopback address at all.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { once } from 'node:events';
import { chromium } from 'playwright-core';
import { startService } from '../support/service.mjs';

const CHROMIUM = process.env.INVITED_CHROMIUM ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--disable-quic', '--no-first-run', '--disable-default-apps', '--disable-extensions',
];

let listed; // {server, origin}: the origin in --cors-origins
let other; // another origin, not listed
let service;
let browser;
let key;

// An HTTP server on 127.0.0.1 answering every request with an empty page: an origin of its own.
async function originServer() {
  const server = createServer((request, response) => {
    response.writeHead(200, { 'content-type': 'text/html' });
    response.end('<!DOCTYPE html><title>A product page</title>');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, origin: `http://127.0.0.1:${server.address().port}` };
}

before(async () => {
  listed = await originServer();
  other = await originServer();
  // A rate limit that is on, so the page has x-rate-limit-* headers to read.
  service = await startService({ args: ['--rate-limit-per-minute', '1000', '--cors-origins', listed.origin] });
  key = service.createOrg('Browser Org').api_key;
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 30000 });
});

after(async () => {
  if (browser) await browser.close();
  for (const { server } of [listed, other]) if (server) server.close();
  if (service) assert.equal(await service.stop(), 0);
});

// Opens `origin` in a fresh page and runs fetch(service + path, init) there; returns what the
// page's code can see: {status, headers (the ones asked for), body} or {error}.
async function fetchFrom(origin, path, init, readHeaders = []) {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    page.setDefaultTimeout(10000);
    await page.goto(`${origin}/`);
    return await page.evaluate(async ([url, init, readHeaders]) => {
      try {
        const response = await fetch(url, init);
        const headers = Object.fromEntries(readHeaders.map((name) => [name, response.headers.get(name)]));
        return { status: response.status, headers, body: await response.text() };
      } catch (error) {
        return { error: `${error.name}: ${error.message}` };
      }
    }, [service.url + path, init, readHeaders]);
  } finally {
    await context.close();
  }
}

const READABLE = ['x-request-id', 'x-rate-limit-limit', 'x-rate-limit-remaining', 'x-rate-limit-reset'];

test('a page of a listed origin calls the API with its key and reads the request id and rate-limit headers', async () => {
  const listedGet = await fetchFrom(listed.origin, '/api/v1/websites?limit=5', { headers: { 'x-api-key': key } }, READABLE);
  assert.equal(listedGet.status, 200, JSON.stringify(listedGet));
  assert.deepEqual(JSON.parse(listedGet.body), { websites: [], has_more: false });
  assert.match(listedGet.headers['x-request-id'], /^[A-Za-z0-9._:-]+$/);
  assert.equal(listedGet.headers['x-rate-limit-limit'], '1000');
  assert.match(listedGet.headers['x-rate-limit-remaining'], /^\d+$/);
  assert.match(listedGet.headers['x-rate-limit-reset'], /^\d+$/);

  // A JSON POST with an Idempotency-Key: both headers pass the preflight.
  const created = await fetchFrom(listed.origin, '/api/v1/websites', {
    method: 'POST',
    headers: { 'x-api-key': key, 'content-type': 'application/json', 'idempotency-key': 'browser-create-1' },
    body: JSON.stringify({ url: 'https://from-the-browser.example/', name: 'From the browser' }),
  }, ['x-request-id']);
  assert.equal(created.status, 201, JSON.stringify(created));
  assert.equal(JSON.parse(created.body).website.name, 'From the browser');

  // An error is readable too: the page learns why.
  const refused = await fetchFrom(listed.origin, '/api/v1/websites', { headers: { 'x-api-key': 'not-a-key' } }, ['x-request-id']);
  assert.equal(refused.status, 401);
  assert.equal(JSON.parse(refused.body).code, 'unauthorized');
  assert.ok(refused.headers['x-request-id']);
});

test('a page of an origin not listed cannot call the API, and nothing is written', async () => {
  const before = service.tableCounts();
  const read = await fetchFrom(other.origin, '/api/v1/websites', { headers: { 'x-api-key': key } });
  assert.match(read.error ?? '', /^TypeError/, JSON.stringify(read));
  const write = await fetchFrom(other.origin, '/api/v1/websites', {
    method: 'POST',
    headers: { 'x-api-key': key, 'content-type': 'application/json' },
    body: JSON.stringify({ url: 'https://must-not-exist.example/' }),
  });
  assert.match(write.error ?? '', /^TypeError/, JSON.stringify(write));
  // The browser stopped at the preflight (405 without CORS headers): no request reached a handler.
  assert.deepEqual(service.tableCounts(), before);
  const websites = await service.api('GET', '/api/v1/websites', { key });
  assert.ok(!websites.body.websites.some((w) => w.url === 'https://must-not-exist.example/'), websites.text);
});
