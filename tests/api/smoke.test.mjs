import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startWithOrg } from '../support/service.mjs';
import { waitFor } from '../support/assertions.mjs';

test('health, readiness and a direct bulk invite over real HTTP', async () => {
  const { service, key, websites } = await startWithOrg({ websiteCount: 2 });
  try {
    assert.equal((await service.api('GET', '/healthz')).status, 200);
    // Ready once its probe has answered: on PostgreSQL the probe has a 1 s deadline of its own,
    // which a loaded machine can pass now and then, so readiness is waited for.
    await waitFor(async () => (await service.api('GET', '/readyz')).status === 200, { what: '/readyz to answer 200' });
    const response = await service.api('POST', '/api/v1/invites/bulk', {
      key,
      body: { invite_method: 'direct', email: 'jane@example.com', website_ids: websites.map((w) => w.id) },
    });
    assert.equal(response.status, 200);
    assert.equal(response.body.results.length, 2);
    assert.ok(response.body.results.every((r) => r.success && r.message === 'User added to website'));
  } finally {
    assert.equal(await service.stop(), 0);
  }
});
