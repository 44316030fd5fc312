// The event log with concurrent writers (SPEC §9, PostgreSQL): event ids and row keys are not
// commit order, so the log shows an event only once every event before it in the order is
// visible. One write unit is held open after it recorded its events (its email waits on a table
// lock another client holds); a second unit commits an event meanwhile. A poller with
// ending_before must not be shown the second event before the first unit commits, and then gets
// both, in order: it never skips the event that committed late. The held unit holds back the
// horizon of the whole PostgreSQL server, so the file has a cluster of its own (useOwnCluster):
// on the run's shared one it would hold back every other file's event log too.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startService } from '../support/service.mjs';
import { holdWriteLock, query, useOwnCluster } from '../support/database.mjs';
import { GENEROUS_LIMITS, call, uniqueEmail, waitFor, websitesInOrder } from '../support/assertions.mjs';

let service;
let key;
let sites;

before(async () => {
  useOwnCluster();
  // A long unit timeout: the held unit waits for the lock far longer than the default allows
  // on a loaded machine.
  service = await startService({ args: [...GENEROUS_LIMITS, '--db-timeout-ms', '60000'] });
  key = service.createOrg('Late Commits').api_key;
  sites = await websitesInOrder(service, key, 2, 'late');
});

after(async () => {
  if (service) assert.equal(await service.stop(), 0);
});

async function newer(cursor) {
  return call(service, 'GET', `/api/v1/events?ending_before=${cursor}`, { key });
}

test('an event that commits late is never skipped by a poller: later events wait for it', async () => {
  const mark = (await call(service, 'GET', '/api/v1/events?limit=1', { key })).events[0].id;
  const lock = await holdWriteLock(service, { tables: ['outbox_emails'] });
  let slow;
  try {
    // An email invite records its invitation.created events, then waits to queue its email.
    slow = service.api('POST', '/api/v1/invites/bulk', {
      key, body: { invite_method: 'email', email: uniqueEmail('slow'), website_ids: [sites[0].id] },
    });
    // The pool gives up quick waits twice, then waits its turn without a short lock timeout: the
    // run that holds the advisory turn lock and waits for outbox_emails is the one that stays.
    await waitFor(() => Number(query(service, `
      SELECT count(*) FROM pg_locks w JOIN pg_locks t ON t.pid = w.pid
      WHERE NOT w.granted AND w.relation = 'outbox_emails'::regclass
        AND t.locktype = 'advisory' AND t.granted`)[0][0]) === 1, { timeoutMs: 30000, what: 'the email unit to wait, holding its events' });

    // Another unit commits an event now, with a later transaction id.
    const direct = await call(service, 'POST', '/api/v1/invites/bulk', {
      key, body: { invite_method: 'direct', email: uniqueEmail('fast'), website_ids: [sites[1].id] },
    });
    assert.equal(direct.results[0].success, true);
    const committed = query(service, "SELECT count(*) FROM events WHERE type = 20")[0][0];
    assert.equal(Number(committed), 1, 'the direct add committed its membership.created');

    // The poller sees nothing newer yet: showing the membership would let the invite's event
    // land below its cursor.
    assert.deepEqual((await newer(mark)).events, []);
    assert.equal((await call(service, 'GET', '/api/v1/events?limit=1', { key })).events[0].id, mark);
  } finally {
    await lock.release();
  }
  const answer = await slow;
  assert.equal(answer.status, 200, answer.text);

  // Both now, in the log's order: the invite (whose unit began first) below the membership.
  let page;
  await waitFor(async () => {
    page = await newer(mark);
    return page.events.length === 2;
  }, { what: 'both events to be visible' });
  assert.deepEqual(page.events.map((e) => e.type), ['membership.created', 'invitation.created']);
  assert.equal(page.has_more, false);
});
