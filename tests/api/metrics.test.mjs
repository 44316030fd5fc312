// GET /metrics as an operator scrapes it: the Prometheus text format (one HELP and TYPE per
// family, histograms with cumulative buckets up to +Inf, _sum and _count), request durations and
// status classes per route pattern and method (never per raw path), the store's read and write
// latencies, open connections by state, and --metrics-listen, which moves /metrics to a listener
// of its own (the main one then answers 404 for it) and refuses an address it cannot use.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { connect } from 'node:net';
import { once } from 'node:events';
import { join } from 'node:path';
import { BIN, makeTempDir, startService, startWithOrg } from '../support/service.mjs';
import { newId, waitFor } from '../support/assertions.mjs';

let service;
let key;
let website;

before(async () => {
  ({ service, key, websites: [website] } = await startWithOrg({ websiteCount: 1 }));
});

after(async () => {
  await service?.stop();
});

// The samples of an exposition, checked against the text format as it is read: every sample
// belongs to a family whose HELP and TYPE came first (once each, families not interleaved), and
// each histogram series has cumulative buckets with ascending bounds ending at +Inf, whose last
// count is its _count. Returns {types, samples: [{name, labels, value}]}.
function parseExposition(text) {
  assert.ok(text.endsWith('\n'), 'the text ends with a newline');
  const types = new Map();
  const helped = new Set();
  const finished = new Set(); // families whose samples are over
  let current = null;
  const samples = [];
  const familyOf = (name) => {
    if (types.has(name)) return name;
    const base = name.replace(/_(bucket|sum|count)$/, '');
    if (base !== name && types.get(base) === 'histogram') return base;
    return null;
  };
  for (const line of text.slice(0, -1).split('\n')) {
    const help = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) \S/.exec(line);
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram)$/.exec(line);
    if (help) {
      assert.ok(!helped.has(help[1]), `one HELP for ${help[1]}`);
      helped.add(help[1]);
      continue;
    }
    if (type) {
      assert.ok(!types.has(type[1]), `one TYPE for ${type[1]}`);
      assert.ok(helped.has(type[1]), `HELP before TYPE for ${type[1]}`);
      types.set(type[1], type[2]);
      if (current) finished.add(current);
      current = type[1];
      continue;
    }
    assert.ok(!line.startsWith('#'), `no other comment: ${line}`);
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(sample, `a sample line: ${JSON.stringify(line)}`);
    const labels = {};
    if (sample[2] !== undefined) {
      const pair = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/y;
      let match;
      while ((match = pair.exec(sample[2])) !== null) {
        labels[match[1]] = match[2];
        if (match[3] === '') break;
      }
      assert.equal(pair.lastIndex, sample[2].length, `labels of ${line}`);
    }
    const family = familyOf(sample[1]);
    assert.ok(family, `${sample[1]} follows its TYPE line`);
    assert.equal(family, current, `${sample[1]} is in its own family's block`);
    assert.ok(!finished.has(family), `${family}: one block`);
    const value = sample[3] === '+Inf' ? Infinity : Number(sample[3]);
    assert.ok(!Number.isNaN(value), `a number: ${line}`);
    samples.push({ name: sample[1], labels, value });
  }
  // Histograms: per series (labels without le), buckets ascending and cumulative, +Inf = _count.
  for (const [family, type] of types) {
    if (type !== 'histogram') continue;
    const series = new Map();
    for (const s of samples) {
      if (!s.name.startsWith(family + '_')) continue;
      const { le, ...rest } = s.labels;
      const id = JSON.stringify(rest);
      if (!series.has(id)) series.set(id, { buckets: [], count: NaN, sum: NaN });
      const entry = series.get(id);
      if (s.name === `${family}_bucket`) entry.buckets.push({ le: le === '+Inf' ? Infinity : Number(le), count: s.value });
      if (s.name === `${family}_count`) entry.count = s.value;
      if (s.name === `${family}_sum`) entry.sum = s.value;
    }
    for (const [id, { buckets, count, sum }] of series) {
      assert.ok(buckets.length > 1, `${family}${id}: buckets`);
      assert.equal(buckets.at(-1).le, Infinity, `${family}${id}: the last bucket is +Inf`);
      for (let i = 1; i < buckets.length; i++) {
        assert.ok(buckets[i].le > buckets[i - 1].le, `${family}${id}: bounds ascend`);
        assert.ok(buckets[i].count >= buckets[i - 1].count, `${family}${id}: cumulative`);
      }
      assert.equal(buckets.at(-1).count, count, `${family}${id}: +Inf holds _count`);
      assert.ok(sum >= 0, `${family}${id}: _sum`);
    }
  }
  return { types, samples };
}

async function scrape(target = service, path = '/metrics') {
  const response = await target.fetch(path);
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
  return parseExposition(await response.text());
}

// The value of the sample `name` whose labels include `labels`; 0 when there is none.
function valueOf({ samples }, name, labels = {}) {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  assert.ok(found.length <= 1, `one ${name} ${JSON.stringify(labels)}`);
  return found[0]?.value ?? 0;
}

// A request-duration histogram series of one route and method: its buckets by bound, count, sum.
function requestSeries(metrics, route, method) {
  const labels = { route, method };
  const buckets = {};
  for (const s of metrics.samples) {
    if (s.name === 'invited_http_request_duration_seconds_bucket' && s.labels.route === route && s.labels.method === method) {
      buckets[s.labels.le] = s.value;
    }
  }
  return {
    buckets,
    count: valueOf(metrics, 'invited_http_request_duration_seconds_count', labels),
    sum: valueOf(metrics, 'invited_http_request_duration_seconds_sum', labels),
  };
}

test('a request counts under its route pattern and method, with its status class; unknown paths share one label', async () => {
  const route = '/api/v1/websites/{id}';
  const before = await scrape();
  const was = requestSeries(before, route, 'GET');
  const wasUnmatched = requestSeries(before, 'unmatched', 'GET').count;

  assert.equal((await service.api('GET', `/api/v1/websites/${website.id}`, { key })).status, 200);
  const missing = newId();
  assert.equal((await service.api('GET', `/api/v1/websites/${missing}`, { key })).status, 404);
  // Paths no route serves: junk, and an id that is not one.
  assert.equal((await service.fetch('/no/such/path-4f2a')).status, 404);
  assert.equal((await service.fetch('/api/v1/websites/not-an-id')).status, 404);

  // Each response is counted once written (its duration, then its status class): wait until
  // every count asserted below has moved, then read once.
  const classes = (metrics, statusClass) => valueOf(metrics, 'invited_http_responses_total', { route, method: 'GET', status_class: statusClass });
  let now;
  await waitFor(async () => {
    now = await scrape();
    return (
      requestSeries(now, route, 'GET').count >= was.count + 2 &&
      requestSeries(now, 'unmatched', 'GET').count >= wasUnmatched + 2 &&
      classes(now, '2xx') >= classes(before, '2xx') + 1 &&
      classes(now, '4xx') >= classes(before, '4xx') + 1
    );
  }, { what: 'the four requests counted' });

  const after = requestSeries(now, route, 'GET');
  assert.equal(after.count, was.count + 2, 'two requests to the route');
  assert.ok(after.sum > was.sum, 'their durations are added to _sum');
  // Every bucket whose bound holds both durations grew by two; +Inf surely does.
  assert.equal(after.buckets['+Inf'], (was.buckets['+Inf'] ?? 0) + 2);
  const grown = Object.keys(after.buckets).filter((le) => after.buckets[le] > (was.buckets[le] ?? 0));
  assert.ok(grown.length >= 1 && grown.includes('+Inf'));
  assert.equal(requestSeries(now, 'unmatched', 'GET').count, wasUnmatched + 2, 'both unknown paths under route="unmatched"');

  assert.equal(classes(now, '2xx'), classes(before, '2xx') + 1, 'the 200 counted as 2xx');
  assert.equal(classes(now, '4xx'), classes(before, '4xx') + 1, 'the 404 counted as 4xx');
  assert.equal(classes(now, '5xx'), classes(before, '5xx'), 'no 5xx');
  assert.equal(now.types.get('invited_http_responses_total'), 'counter');
  assert.equal(now.types.get('invited_http_request_duration_seconds'), 'histogram');

  // The labels are patterns, never paths: no id and no junk path became a label.
  for (const sample of now.samples) {
    const routeLabel = sample.labels.route;
    if (routeLabel === undefined) continue;
    assert.ok(routeLabel === 'unmatched' || routeLabel.startsWith('/'), routeLabel);
    for (const raw of [website.id, missing, 'no/such', 'not-an-id']) {
      assert.ok(!routeLabel.includes(raw), `route label ${routeLabel} holds no raw path`);
    }
  }
  // The old unlabelled counters are still there.
  assert.ok(valueOf(now, 'invited_http_requests_total') >= 4);
  assert.ok(valueOf(now, 'invited_http_responses_4xx_total') >= 3);
});

test('the store reports read and write latency histograms, which move with a write and a read', async () => {
  const before = await scrape();
  for (const kind of ['read', 'write']) {
    const name = `invited_store_${kind}_latency_seconds`;
    assert.equal(before.types.get(name), 'histogram', `${name} is a histogram`);
    assert.equal(before.types.get(`invited_store_${kind}_latency_max_seconds`), 'gauge');
  }
  // The same buckets for both.
  const bounds = (kind) => before.samples.filter((s) => s.name === `invited_store_${kind}_latency_seconds_bucket`).map((s) => s.labels.le);
  assert.deepEqual(bounds('read'), bounds('write'));

  const count = (metrics, kind) => valueOf(metrics, `invited_store_${kind}_latency_seconds_count`);
  const created = await service.api('POST', '/api/v1/websites', { key, body: { url: 'https://latency.example' } });
  assert.equal(created.status, 201, created.text);
  assert.equal((await service.api('GET', `/api/v1/websites/${created.body.website.id}`, { key })).status, 200);
  // Each unit is counted before its completion reaches the handler, so before its answer.
  const now = await scrape();
  for (const kind of ['read', 'write']) {
    assert.ok(count(now, kind) >= count(before, kind) + 1, `${kind}: ${count(before, kind)} → ${count(now, kind)}`);
    assert.ok(valueOf(now, `invited_store_${kind}_latency_seconds_sum`) > valueOf(before, `invited_store_${kind}_latency_seconds_sum`));
    assert.ok(valueOf(now, `invited_store_${kind}_latency_max_seconds`) > 0);
  }
});

test('open connections are counted by state: idle, reading, handling, writing', async () => {
  const states = (metrics) =>
    Object.fromEntries(['idle', 'reading', 'handling', 'writing'].map((state) => [state, valueOf(metrics, 'invited_http_connections', { state })]));
  assert.equal((await scrape()).types.get('invited_http_connections'), 'gauge');
  // A connection that has sent half a request is reading; the scrape's own is being handled.
  const socket = connect(service.port, '127.0.0.1');
  await once(socket, 'connect');
  try {
    socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
    const during = await waitFor(async () => {
      const s = states(await scrape());
      return s.reading >= 1 ? s : null;
    }, { what: 'a connection in the reading state' });
    assert.ok(during.handling >= 1, `the scrape is handled: ${JSON.stringify(during)}`);
  } finally {
    socket.destroy();
  }
  await waitFor(async () => states(await scrape()).reading === 0, { what: 'the half-sent request gone' });
  // An idle connection (this client's keep-alive ones at least) is idle.
  const idle = connect(service.port, '127.0.0.1');
  await once(idle, 'connect');
  try {
    await waitFor(async () => states(await scrape()).idle >= 1, { what: 'an idle connection' });
  } finally {
    idle.destroy();
  }
});

test('--metrics-listen serves /metrics on its own address; the main address then answers 404 for it', async () => {
  const split = await startService({ args: ['--metrics-listen', '127.0.0.1:0'] });
  try {
    const line = split.logs.map((l) => { try { return JSON.parse(l); } catch { return {}; } }).find((e) => e.msg === 'metrics listening');
    assert.ok(line, `a "metrics listening" log line:\n${split.logs.join('\n')}`);
    assert.equal(line.address, '127.0.0.1');
    assert.notEqual(line.port, split.port);
    const metricsUrl = `http://127.0.0.1:${line.port}`;

    const main = await split.api('GET', '/metrics');
    assert.equal(main.status, 404, main.text);
    assert.equal(main.body.code, 'not_found');
    assert.equal((await split.api('GET', '/healthz')).status, 200, 'the rest of the API stays on the main address');

    // The main address's 404 for /metrics is counted there as an unknown path (once written).
    await waitFor(async () => {
      const served = await fetch(`${metricsUrl}/metrics`);
      assert.equal(served.status, 200);
      const metrics = parseExposition(await served.text());
      return (
        requestSeries(metrics, 'unmatched', 'GET').count >= 1 &&
        valueOf(metrics, 'invited_http_responses_total', { route: 'unmatched', method: 'GET', status_class: '4xx' }) >= 1
      );
    }, { what: 'the 404 counted on the metrics address' });
    // The metrics address serves nothing else.
    assert.equal((await fetch(`${metricsUrl}/healthz`)).status, 404);
    assert.equal((await fetch(`${metricsUrl}/api/v1/websites`)).status, 404);
  } finally {
    assert.equal(await split.stop(), 0);
  }
});

// `invited serve` with `args` in a fresh folder, on a SQLite file (the address is checked
// before any store is opened, whichever it is).
function serve(args, listen = '127.0.0.1:0') {
  const dir = makeTempDir();
  return spawnSync(BIN, ['serve', '--listen', listen, ...args], {
    env: { ...process.env, INVITED_DATABASE: `sqlite://${join(dir, 'invited.db')}`, INVITED_MAIL_DIR: join(dir, 'mail') },
    encoding: 'utf8',
    timeout: 30000,
  });
}

test('--metrics-listen refuses an address it cannot use, naming the setting', () => {
  for (const [address, why] of [
    ['9100', /needs a port/],
    ['example.com:9100', /host must be an IPv4 address, a bracketed IPv6 address, localhost or nothing/],
    ['127.0.0.1:99999', /port must be a number from 0 to 65535/],
  ]) {
    const run = serve(['--metrics-listen', address]);
    assert.equal(run.status, 2, run.stderr);
    assert.match(run.stderr, /^invited: --metrics-listen /, run.stderr);
    assert.match(run.stderr, why, run.stderr);
    assert.ok(run.stderr.includes(`(got "${address}")`), run.stderr);
  }
  // The environment variable too.
  const fromEnv = spawnSync(BIN, ['serve'], { env: { ...process.env, INVITED_METRICS_LISTEN: 'nowhere' }, encoding: 'utf8', timeout: 30000 });
  assert.equal(fromEnv.status, 2, fromEnv.stderr);
  assert.match(fromEnv.stderr, /^invited: --metrics-listen needs a port/);
  // The main address itself.
  const same = serve(['--metrics-listen', '127.0.0.1:8123'], '127.0.0.1:8123');
  assert.equal(same.status, 2, same.stderr);
  assert.match(same.stderr, /^invited: --metrics-listen must be another address than --listen/);
  // An address another process holds (the running service's): refused at start, named.
  const taken = serve(['--metrics-listen', `127.0.0.1:${service.port}`]);
  assert.equal(taken.status, 1, taken.stderr);
  assert.ok(taken.stderr.includes(`--metrics-listen 127.0.0.1:${service.port}: cannot listen there`), taken.stderr);
});
