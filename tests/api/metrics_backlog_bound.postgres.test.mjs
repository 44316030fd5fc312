// GET /metrics reads the outbox's backlog from the database with a short bound of its own (1 s,
// queue wait included; docs/api.md, "Metrics"), not the store's whole --db-timeout-ms: when that
// read cannot finish (here another client holds the outbox's table in ACCESS EXCLUSIVE mode, so
// even a SELECT waits), the scrape answers soon, with the process's counters and without the two
// outbox gauges, and the gauges come back once the table is free. PostgreSQL only: SQLite's
// readers work on a snapshot of the WAL, and no other client's lock stops them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { holdTableLock } from '../support/database.mjs';
import { peersOfThisFile } from '../support/file_peers.mjs';

const { start } = peersOfThisFile();

// The store's timeout, long, so that a scrape that waited for it is told apart from one that
// kept its own bound of 1 s, with room for a slow, loaded machine (CI runs about 2x slower).
const DB_TIMEOUT_MS = 15000;
const ANSWERED_WITHIN_MS = 7500;

const gauges = (text) => text.split('\n').filter((line) => line.startsWith('invited_outbox_queued_emails') || line.startsWith('invited_outbox_oldest_queued_age_seconds'));

test('postgres: /metrics answers within its own bound when the backlog cannot be read, without the outbox gauges, and with them again once it can', async (t) => {
  const service = await start({ args: ['--db-timeout-ms', String(DB_TIMEOUT_MS)] });
  const free = await service.fetch('/metrics');
  assert.equal(free.status, 200);
  assert.equal(gauges(await free.text()).length, 2, 'both gauges while the table is free');

  const lock = await holdTableLock(service, 'outbox_emails');
  try {
    const began = Date.now();
    const held = await service.fetch('/metrics');
    const took = Date.now() - began;
    t.diagnostic(`/metrics with the outbox locked: ${took} ms`);
    assert.equal(held.status, 200);
    const text = await held.text();
    assert.ok(took < ANSWERED_WITHIN_MS, `answered after ${took} ms (the store's timeout is ${DB_TIMEOUT_MS} ms)`);
    assert.deepEqual(gauges(text), [], 'the gauges are left out, never reported as 0');
    assert.match(text, /^invited_http_requests_total \d+$/m, 'the process counters are still there');
  } finally {
    await lock.release();
  }
  const again = await service.fetch('/metrics');
  assert.equal(gauges(await again.text()).length, 2, 'both gauges once the table is free');
});
