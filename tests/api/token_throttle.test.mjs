// The token endpoints (accept and decline pages, JSON accept) share a budget per client address
// (--token-limit-per-minute, default 30 per instance): over it, 429 with Retry-After — an HTML
// page for the pages, JSON rate_limited for the API. The client address is the one
// --trusted-proxies defines, so one client's guessing does not lock out others behind the same
// balancer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startService } from '../support/service.mjs';
import { assertError } from '../support/assertions.mjs';

const from = (client) => ({ 'x-forwarded-for': client });

test('over --token-limit-per-minute a client gets 429 with Retry-After on every token endpoint; others are served', async () => {
  const service = await startService({ args: ['--token-limit-per-minute', '4', '--trusted-proxies', '127.0.0.1'] });
  try {
    const client = from('203.0.113.10');
    for (let i = 0; i < 4; i++) {
      const page = await service.api('GET', '/invites/accept?token=guess' + i, { headers: client });
      assert.equal(page.status, 404, `attempt ${i + 1} is within the budget`);
    }
    const page = await service.api('GET', '/invites/accept?token=guess', { headers: client });
    assert.equal(page.status, 429);
    assert.match(page.headers.get('content-type'), /^text\/html/);
    assert.match(page.headers.get('retry-after'), /^[1-9]\d*$/);
    assert.match(page.text, /Too many attempts/);

    const form = { ...client, 'content-type': 'application/x-www-form-urlencoded' };
    for (const path of ['/invites/accept', '/invites/decline']) {
      const post = await service.api('POST', path, { headers: form, raw: 'token=guess' });
      assert.equal(post.status, 429, path);
      assert.match(post.headers.get('content-type'), /^text\/html/);
      assert.match(post.headers.get('retry-after'), /^[1-9]\d*$/);
    }
    const json = await service.api('POST', '/api/v1/invitations/accept', { headers: client, body: { token: 'guess' } });
    assertError(json, 429, 'rate_limited');
    assert.match(json.headers.get('retry-after'), /^[1-9]\d*$/);
    assert.equal(json.headers.get('x-rate-limit-limit'), null, 'no organization budget headers');

    // Another client address behind the same proxy still has its whole budget.
    const other = await service.api('POST', '/api/v1/invitations/accept', { headers: from('203.0.113.11'), body: { token: 'guess' } });
    assertError(other, 404, 'not_found');
  } finally {
    assert.equal(await service.stop(), 0);
  }
});

test('the default budget is 30 per minute; 0 switches it off', async () => {
  const service = await startService();
  try {
    // The bucket refills continuously, one attempt every 2 s: a loaded machine that takes longer
    // than that for the first 30 has earned one more attempt per 2 s since the first was sent
    // (the bucket was made at the first attempt, after `started`), and no more.
    const started = performance.now();
    for (let i = 0; i < 30; i++) {
      assert.equal((await service.api('GET', `/invites/accept?token=t${i}`)).status, 404, `attempt ${i + 1}`);
    }
    for (let extra = 1; ; extra++) {
      const status = (await service.api('GET', `/invites/accept?token=x${extra}`)).status;
      if (status === 429) break;
      const ms = performance.now() - started;
      assert.equal(status, 404, `attempt ${30 + extra}`);
      assert.ok(extra <= Math.floor(ms / 2000), `attempt ${30 + extra} was served ${Math.round(ms)} ms after the first: over the budget of 30 a minute`);
    }
  } finally {
    assert.equal(await service.stop(), 0);
  }
  const unlimited = await startService({ env: { INVITED_TOKEN_LIMIT_PER_MINUTE: '0' } });
  try {
    for (let i = 0; i < 40; i++) {
      assert.equal((await unlimited.api('POST', '/api/v1/invitations/accept', { body: { token: `t${i}` } })).status, 404);
    }
  } finally {
    assert.equal(await unlimited.stop(), 0);
  }
});
