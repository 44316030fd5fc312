// The organization budgets of SPEC §6 hold across every instance on one PostgreSQL database
// (README "Several instances"): the budgets live in the database, so three instances behind a
// round-robin balancer admit what one would, and each instance's x-rate-limit-* headers count the
// shared budget. Buckets refill continuously (token buckets, no fixed windows), so nothing here
// depends on where a minute boundary falls: each bound below allows for the refill during the
// time it measured, and every wait is for a condition with a deadline.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startService } from '../support/service.mjs';
import { assertError, createWebsites, uniqueEmail, waitFor } from '../support/assertions.mjs';

const WEBSITES = '/api/v1/websites';
const BULK = '/api/v1/invites/bulk';

// Three instances on the first one's database.
async function threeInstances(args) {
  const first = await startService({ args });
  const instances = [first];
  try {
    for (let i = 0; i < 2; i++) instances.push(await startService({ dir: first.dir, args }));
  } catch (error) {
    for (const instance of instances) await instance.stop();
    throw error;
  }
  return instances;
}

async function stopAll(instances) {
  for (const instance of instances.reverse()) assert.equal(await instance.stop(), 0);
}

const remainingOf = (response) => Number(response.headers.get('x-rate-limit-remaining'));

test('postgres: 60 requests per minute hold across three instances: a burst of 180 spread over them gets 60, and every header counts the shared budget', async () => {
  const instances = await threeInstances(['--rate-limit-per-minute', '60', '--invite-limit-per-hour', '0']);
  try {
    const { api_key: key } = instances[0].createOrg('Shared Budget');

    // One request after another, round-robin: each instance reports what is left of the one
    // budget (59, 58, 57, ... whichever instance answers), give or take the refill (one token a
    // second) since the first request.
    const started = Date.now();
    for (let k = 0; k < 9; k++) {
      const response = await instances[k % 3].api('GET', WEBSITES, { key });
      const elapsed = (Date.now() - started) / 1000;
      assert.equal(response.status, 200, response.text);
      assert.equal(response.headers.get('x-rate-limit-limit'), '60');
      const remaining = remainingOf(response);
      assert.ok(
        remaining >= 59 - k && remaining <= 59 - k + elapsed,
        `request ${k} on instance ${k % 3}: remaining ${remaining}, expected ${59 - k} (+ ${elapsed.toFixed(2)} s of refill)`,
      );
      const reset = Number(response.headers.get('x-rate-limit-reset'));
      // Full again once the k + 1 tokens taken are back, one a second.
      assert.ok(reset >= Math.floor(started / 1000) && reset <= Math.ceil(Date.now() / 1000) + k + 2, `reset ${reset}`);
    }

    // The burst: 180 requests at once, round-robin over the three.
    const burstStart = Date.now();
    const burst = await Promise.all(
      Array.from({ length: 180 }, (_, i) => instances[i % 3].api('GET', WEBSITES, { key })),
    );
    const burstSeconds = (Date.now() - burstStart) / 1000;
    const admitted = burst.filter((r) => r.status === 200);
    const refused = burst.filter((r) => r.status === 429);
    assert.equal(admitted.length + refused.length, 180, burst.map((r) => `${r.status} ${r.text}`).join('\n'));
    // 51 tokens were left after the nine requests above, plus the refill since then. One
    // instance's own budget would have admitted up to 60 + 51 + 51.
    const refill = (Date.now() - started) / 1000;
    const bound = 51 + Math.ceil(refill);
    assert.ok(
      admitted.length <= bound,
      `${admitted.length} of 180 admitted by three instances; the shared budget allows ${bound} (${burstSeconds.toFixed(2)} s burst)`,
    );
    assert.ok(admitted.length >= 51, `${admitted.length} admitted: every token left should be used`);
    // Every admitted request took one token of the one budget, so the remaining counts they
    // report are all different steps of one count-down (up to the refill meanwhile): the n-th
    // highest is at most 50 - n + refill. Per-instance budgets would report each step three times.
    const reported = admitted.map(remainingOf).sort((a, b) => b - a);
    reported.forEach((remaining, n) => {
      assert.ok(remaining <= 50 - n + refill, `the ${n + 1}th highest remaining is ${remaining}: ${reported.join(',')}`);
    });
    for (const response of refused) {
      assertError(response, 429, 'rate_limited');
      assert.equal(response.headers.get('x-rate-limit-limit'), '60');
      assert.equal(response.headers.get('x-rate-limit-remaining'), '0');
      const retryAfter = Number(response.headers.get('retry-after'));
      assert.ok(retryAfter >= 1 && retryAfter <= 2, `retry-after ${retryAfter}: a token comes back every second`);
    }
    console.log(`request burst: ${admitted.length}/180 admitted in ${burstSeconds.toFixed(2)} s (bound ${bound})`);

    // The budget refills on every instance: each admits again once a token is back, and then
    // reports the shared bucket (nearly) empty, where a budget of its own would report 59.
    for (const [i, instance] of instances.entries()) {
      const again = await waitFor(
        async () => {
          const response = await instance.api('GET', WEBSITES, { key });
          if (response.status === 200) return response;
          assertError(response, 429, 'rate_limited');
          return null;
        },
        { timeoutMs: 30000, intervalMs: 100, what: `instance ${i} to admit a request again` },
      );
      // It took the token that came back: next to nothing is left (a poll is 100 ms apart).
      assert.ok(remainingOf(again) <= 1, `instance ${i} after the refill: ${again.headers.get('x-rate-limit-remaining')}`);
    }
  } finally {
    await stopAll(instances);
  }
});

test('postgres: the hourly target budget holds across three instances: 360 targets an hour admit 36 bulk requests of 10, not 3 x 36', async () => {
  const instances = await threeInstances(['--rate-limit-per-minute', '0', '--invite-limit-per-hour', '360']);
  try {
    const { api_key: key } = instances[0].createOrg('Shared Targets');
    const siteIds = (await createWebsites(instances[0], key, 10, 'targets')).map((s) => s.id);
    const invite = (instance, ids) =>
      instance.api('POST', BULK, { key, body: { invite_method: 'direct', email: uniqueEmail('shared'), website_ids: ids } });

    const started = Date.now();
    const burst = await Promise.all(Array.from({ length: 72 }, (_, i) => invite(instances[i % 3], siteIds)));
    const seconds = (Date.now() - started) / 1000;
    const admitted = burst.filter((r) => r.status === 200);
    const refused = burst.filter((r) => r.status === 429);
    assert.equal(admitted.length + refused.length, 72, burst.map((r) => `${r.status} ${r.text}`).join('\n'));
    // 360 tokens, 10 per request; the refill is one token every 10 s.
    const bound = 36 + Math.floor(seconds / 100);
    assert.ok(admitted.length <= bound, `${admitted.length} of 72 admitted; the shared budget allows ${bound}`);
    assert.ok(admitted.length >= 35, `${admitted.length} admitted: the budget should be used up`);
    for (const response of admitted) assert.equal(response.body.results.filter((r) => r.success).length, 10, response.text);
    for (const response of refused) {
      assertError(response, 429, 'rate_limited');
      assert.match(response.headers.get('retry-after') ?? '', /^[1-9]\d*$/);
    }
    // Only the admitted requests wrote: 10 memberships each.
    const members = Number(
      instances[0].sql(`SELECT COUNT(*) FROM website_members m JOIN users u ON u.pk = m.user_pk WHERE u.email LIKE 'shared.%'`)[0][0],
    );
    assert.equal(members, admitted.length * 10);
    console.log(`target burst: ${admitted.length}/72 admitted in ${seconds.toFixed(2)} s (bound ${bound})`);

    // Use up what is left one target at a time, until all three instances refuse in a row (an
    // instance that refuses has given back whatever it had leased), then wait for the refill:
    // one target every 10 s, admitted by any instance.
    let refusalsInRow = 0;
    for (let i = 0; refusalsInRow < 3; i++) {
      assert.ok(i < 60, 'the budget never ran out');
      const response = await invite(instances[i % 3], siteIds.slice(0, 1));
      refusalsInRow = response.status === 429 ? refusalsInRow + 1 : 0;
      if (response.status === 429) {
        const retryAfter = Number(response.headers.get('retry-after'));
        assert.ok(retryAfter >= 1 && retryAfter <= 10, `retry-after ${retryAfter} for one target at one per 10 s`);
      } else {
        assert.equal(response.status, 200, response.text);
      }
    }
    await waitFor(
      async () => {
        const response = await invite(instances[2], siteIds.slice(0, 1));
        if (response.status === 200) return true;
        assertError(response, 429, 'rate_limited');
        return false;
      },
      { timeoutMs: 30000, intervalMs: 250, what: 'the target budget to refill' },
    );
  } finally {
    await stopAll(instances);
  }
});
