// Signals (README "Signals"): SIGTERM and SIGINT stop the service gracefully with exit code 0,
// after answering the requests it accepted, and it no longer listens afterwards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startService } from '../support/service.mjs';

test('SIGTERM stops the service with exit code 0', async () => {
  const own = await startService();
  let code;
  try {
    const o = own.createOrg('Short lived');
    const site = await own.createWebsite(o.api_key, 'https://brief.example');
    const response = await own.api('POST', '/api/v1/invites/bulk', {
      key: o.api_key,
      body: { invite_method: 'email', email: 'brief@example.com', website_ids: [site.id] },
    });
    assert.equal(response.status, 200, response.text);
  } finally {
    code = await own.stop('SIGTERM');
  }
  assert.equal(code, 0);
  await assert.rejects(own.fetch('/healthz'), 'no longer listening');
});

test('SIGINT stops the service with exit code 0', async () => {
  const own = await startService();
  assert.equal((await own.api('GET', '/healthz')).status, 200);
  assert.equal(await own.stop('SIGINT'), 0);
});
