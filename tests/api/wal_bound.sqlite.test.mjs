// The SQLite write-ahead log stays bounded under sustained writes (docs/architecture.md): the
// writer checkpoints and restarts it once it passes its threshold, so the -wal file never grows
// much beyond it, however long the load lasts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { startService } from '../support/service.mjs';
import { GENEROUS_LIMITS, bulk, createWebsites } from '../support/assertions.mjs';

const MiB = 1024 * 1024;
// The writer restarts the log once a commit leaves more than --wal-restart-mib in it; if its copier
// thread is busy copying at that moment, the writer lets it finish unless the log has grown by
// another eighth of the threshold meanwhile. The test runs with 1 MiB instead of the default 192
// so that a run of a few seconds passes the threshold many times (bench/run --sustained holds the
// default under 256 MiB for 60 s of full load). The load lasts until the log has restarted RESTARTS times, or
// at most LOAD_SECONDS: a loaded machine takes longer to get there, a quiet one stops early.
const RESTART_MIB = 1;
const RESTART_THRESHOLD = RESTART_MIB * MiB;
// What may land past 9/8 of the threshold: one group of requests (at most 32 here; bulk-50
// requests write ~40 KiB of pages each in a full group, more in small ones) and the frame headers.
const GROUP_ALLOWANCE = 1.5 * MiB;
const BOUND = RESTART_THRESHOLD + RESTART_THRESHOLD / 8 + GROUP_ALLOWANCE;
const LOAD_SECONDS = Number(process.env.INVITED_WAL_TEST_SECONDS ?? 90);
// Without restarts the log would have grown to more than four times its bound (12 restarts of
// 1 MiB against a bound of 2.625 MiB).
const RESTARTS = 12;
const CONNECTIONS = 32;

// The WAL header's checkpoint sequence number: SQLite adds one each time the log restarts.
function walRestarts(walPath) {
  const fd = openSync(walPath, 'r');
  try {
    const header = Buffer.alloc(16);
    if (readSync(fd, header, 0, 16, 0) < 16) return 0;
    return header.readUInt32BE(12);
  } finally {
    closeSync(fd);
  }
}

// A Prometheus histogram NAME_seconds of the /metrics text: its buckets (cumulative, by upper
// bound), count and sum, and the NAME_max_seconds gauge beside it; null when absent.
function parseHistogram(text, name) {
  const lines = text.split('\n');
  if (!lines.includes(`# TYPE ${name}_seconds histogram`)) return null;
  const value = (series) => {
    const line = lines.find((l) => l.startsWith(`${series} `));
    return line === undefined ? NaN : Number(line.slice(series.length + 1));
  };
  const buckets = [];
  for (const line of lines) {
    const match = line.match(new RegExp(`^${name}_seconds_bucket\\{le="([^"]+)"\\} (\\d+)$`));
    if (match) buckets.push({ le: match[1] === '+Inf' ? Infinity : Number(match[1]), count: Number(match[2]) });
  }
  return {
    buckets,
    count: value(`${name}_seconds_count`),
    sum: value(`${name}_seconds_sum`),
    max: value(`${name}_max_seconds`),
  };
}

function walSize(walPath) {
  try {
    return statSync(walPath).size;
  } catch (error) {
    if (error.code === 'ENOENT') return 0;
    throw error;
  }
}

test('sqlite: sustained bulk writes keep the WAL under its bound: it is checkpointed and restarted over and over', async (t) => {
  const service = await startService({
    args: GENEROUS_LIMITS,
    env: { INVITED_WAL_RESTART_MIB: String(RESTART_MIB) },
    validateResponses: false,
  });
  const walPath = join(service.dir, 'invited.db-wal');
  try {
    const org = service.createOrg('WAL Org');
    const websites = await createWebsites(service, org.api_key, 50, 'wal');
    const ids = websites.map((w) => w.id);
    const restartsBefore = walRestarts(walPath);

    let peak = 0;
    let enough = false;
    const sampler = setInterval(() => {
      peak = Math.max(peak, walSize(walPath));
      try {
        enough = walRestarts(walPath) - restartsBefore >= RESTARTS;
      } catch (error) {
        if (error.code !== 'ENOENT') throw error; // between a truncation and the next write
      }
    }, 100);
    const started = Date.now();
    const deadline = started + LOAD_SECONDS * 1000;
    let requests = 0;
    const failures = [];
    const client = async (c) => {
      for (let i = 0; Date.now() < deadline && !enough; i++) {
        const response = await bulk(service, org.api_key, {
          invite_method: 'direct',
          email: `wal-${c}-${i}-${process.pid}@example.com`,
          website_ids: ids,
        });
        requests += 1;
        if (response.status !== 200 && failures.length < 5) failures.push(`${response.status} ${response.text}`);
      }
    };
    try {
      await Promise.all(Array.from({ length: CONNECTIONS }, (_, c) => client(c)));
    } finally {
      clearInterval(sampler);
    }
    peak = Math.max(peak, walSize(walPath));
    const restarts = walRestarts(walPath) - restartsBefore;
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    t.diagnostic(`${requests} requests in ${seconds} s, ${restarts} WAL restarts, WAL peak ${(peak / MiB).toFixed(1)} MiB`);

    assert.deepEqual(failures, [], 'every request succeeds');
    assert.ok(peak <= BOUND, `the WAL file reached ${(peak / MiB).toFixed(1)} MiB (bound ${BOUND / MiB} MiB) in ${requests} requests`);
    // The load was heavy enough to matter.
    assert.ok(
      restarts >= RESTARTS,
      `the WAL restarted ${restarts} times in ${requests} requests (${seconds} s): the load did not pass the threshold several times over, or checkpoints did not keep up`,
    );

    // What the restarts cost is measured: /metrics has the writer's stall per restart and every
    // write's latency in the store as histograms. Each unit's latency is recorded before its
    // answer is sent, so every request answered above is counted.
    const text = await (await service.fetch('/metrics')).text();
    for (const name of ['invited_store_wal_restart_stall', 'invited_store_write_latency']) {
      const histogram = parseHistogram(text, name);
      assert.ok(histogram, `${name}_seconds is a histogram in /metrics`);
      assert.equal(histogram.buckets.at(-1).le, Infinity, `${name}: the last bucket is +Inf`);
      assert.equal(histogram.buckets.at(-1).count, histogram.count, `${name}: +Inf holds every one`);
      for (let i = 1; i < histogram.buckets.length; i++) {
        assert.ok(histogram.buckets[i].count >= histogram.buckets[i - 1].count, `${name}: cumulative buckets`);
      }
      assert.ok(histogram.max >= 0 && histogram.sum >= 0, `${name}: max and sum`);
    }
    const latency = parseHistogram(text, 'invited_store_write_latency');
    assert.ok(latency.count >= requests, `${latency.count} write latencies recorded for ${requests} requests`);
    assert.ok(latency.sum > 0 && latency.max > 0, 'the latencies are measured');
  } finally {
    assert.equal(await service.stop(), 0);
  }
});
