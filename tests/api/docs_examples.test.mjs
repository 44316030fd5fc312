// docs/api.md runs: every fenced ```sh block whose first line starts with `curl` is an example.
// Its placeholders ($BASE, $API_KEY, ... — the convention at the top of api.md) are replaced by
// real values of a started service, the block runs with bash and the real curl binary, and the
// status must be the one written in the block's `# → NNN` line. The response must match
// /openapi.json too, and every operation of /openapi.json must have at least one example.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startService } from '../support/service.mjs';
import { contractOf } from '../support/openapi.mjs';
import { GENEROUS_LIMITS, waitFor } from '../support/assertions.mjs';
import { addDirect, call, createGroup, createKeyViaApi, inviteByEmail, latestToken, websitesInOrder } from '../support/assertions.mjs';

const API_MD = readFileSync(new URL('../../docs/api.md', import.meta.url), 'utf8');

let service;
let contract;
let values; // placeholder name → value

// The examples of api.md: {line, script, status} in document order.
function examples() {
  const out = [];
  const fence = /^```sh\n([\s\S]*?)^```$/gm;
  for (const match of API_MD.matchAll(fence)) {
    const script = match[1];
    if (!script.startsWith('curl')) continue;
    const line = API_MD.slice(0, match.index).split('\n').length;
    const statuses = [...script.matchAll(/^#\s*→\s*(\d{3})\s*$/gm)].map((m) => Number(m[1]));
    out.push({ line, script, statuses });
  }
  return out;
}

// The placeholder names of api.md's convention table (| `$NAME` | ... |).
function documentedPlaceholders() {
  return new Set([...API_MD.matchAll(/^\|\s*`\$([A-Z0-9_]+)`\s*\|/gm)].map((m) => m[1]));
}

before(async () => {
  service = await startService({ args: [...GENEROUS_LIMITS, '--cors-origins', 'https://app.example.com'] });
  contract = await contractOf(service);
  const org = service.createOrg('Acme', 'owner@acme.example');
  const key = org.api_key;
  const [w1, w2, w3] = await websitesInOrder(service, key, 3, 'acme');
  const g1 = await createGroup(service, key, 'EU storefronts', [w1.id]);
  const g2 = await createGroup(service, key, 'Old campaign', [w2.id]);
  const userId = await addDirect(service, key, 'john.doe@example.com', [w1.id], { first_name: 'John', last_name: 'Doe' });
  await addDirect(service, key, 'john.doe@example.com', [g1.id], { kind: 'group' });
  const admin = await call(service, 'POST', '/api/v1/invites', { key, body: { type: 'organization', invite_method: 'direct', email: 'admin@acme.example', role: 'admin' } });
  const [inviteId] = await inviteByEmail(service, key, 'invitee@example.com', [w1.id, w2.id]);
  await inviteByEmail(service, key, 'page@example.com', [w2.id]);
  await inviteByEmail(service, key, 'accept@example.com', [w2.id, w3.id]);
  await inviteByEmail(service, key, 'decline@example.com', [w2.id]);
  const scoped = service.createKey(org.org_id, [w1.id], 'shop integration');
  const revocable = await createKeyViaApi(service, key, 'old integration');
  // A webhook endpoint whose host cannot be resolved: its own webhook_endpoint.created event is
  // attempted (and fails) at once, which gives the retry example a delivery attempt.
  const hook = await call(service, 'POST', '/api/v1/webhook-endpoints', { key, body: { url: 'https://hooks.invalid/invited' }, status: 201 });
  let attempts = [];
  await waitFor(async () => {
    attempts = (await call(service, 'GET', `/api/v1/webhook-endpoints/${hook.webhook_endpoint.id}/deliveries`, { key })).deliveries;
    return attempts.length > 0;
  }, { timeoutMs: 30000, what: 'a delivery attempt to the example endpoint' });
  values = {
    BASE: service.url,
    API_KEY: key,
    SCOPED_API_KEY: scoped.api_key,
    ORG_ID: org.org_id,
    OWNER_ID: org.owner_user_id,
    WEBSITE_ID: w1.id,
    WEBSITE_ID_2: w2.id,
    WEBSITE_ID_3: w3.id,
    GROUP_ID: g1.id,
    GROUP_ID_2: g2.id,
    USER_ID: userId,
    MEMBER_ID: admin.user_id,
    INVITE_ID: inviteId,
    TOKEN: await latestToken(service, 'page@example.com'),
    ACCEPT_TOKEN: await latestToken(service, 'accept@example.com'),
    DECLINE_TOKEN: await latestToken(service, 'decline@example.com'),
    KEY_ID: revocable.key_id,
    KEY_SECRET: revocable.api_key,
    WEBHOOK_ENDPOINT_ID: hook.webhook_endpoint.id,
    WEBHOOK_DELIVERY_ID: attempts[0].id,
    EVENT_ID: (await call(service, 'GET', '/api/v1/events?limit=1', { key })).events[0].id,
  };
});

after(async () => {
  if (service) assert.equal(await service.stop(), 0);
});

test('api.md documents exactly the placeholders the examples use', () => {
  assert.deepEqual([...documentedPlaceholders()].sort(), Object.keys(values).sort());
  const used = new Set(examples().flatMap(({ script }) => [...script.matchAll(/\$\{?([A-Z][A-Z0-9_]*)\}?/g)].map((m) => m[1])));
  for (const name of used) assert.ok(name in values, `unknown placeholder $${name} in api.md`);
});

function substitute(script) {
  return script.replace(/\$\{?([A-Z][A-Z0-9_]*)\}?/g, (whole, name) => {
    if (!(name in values)) throw new Error(`unknown placeholder ${whole}`);
    return values[name];
  });
}

// The method and URL of a curl command line.
function requestOf(script) {
  const method = /(?:-X|--request)\s+([A-Z]+)/.exec(script)?.[1]
    ?? (/\s(?:-d|--data(?:-raw|-binary|-urlencode)?|-F|--form)\s/.test(script) ? 'POST' : 'GET');
  const url = /["']?(https?:\/\/[^\s"']+)["']?/.exec(script)?.[1];
  return { method, url };
}

function parseHeaders(raw) {
  // -D writes every response's header block (a 100 Continue first, for instance): the last wins.
  const blocks = raw.split(/\r?\n\r?\n/).filter((b) => /^HTTP\//.test(b));
  const block = blocks.at(-1) ?? '';
  const [statusLine, ...lines] = block.split(/\r?\n/);
  const headers = new Headers();
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  return { status: Number(statusLine.split(' ')[1]), headers };
}

test('every curl example of docs/api.md answers its documented status and matches /openapi.json; every operation has one', async () => {
  const all = examples();
  assert.ok(all.length >= 37, `only ${all.length} curl examples`);
  const covered = new Set();
  const failures = [];
  const dir = mkdtempSync(join(tmpdir(), 'invited-docs-'));
  for (const [i, { line, script, statuses }] of all.entries()) {
    const where = `api.md line ${line}`;
    assert.equal(statuses.length, 1, `${where}: one "# → NNN" line`);
    assert.equal([...script.matchAll(/^curl\b/gm)].length, 1, `${where}: one curl command per block`);
    assert.doesNotMatch(script, /\s(-o|-w|-D|-i|--output|--write-out|--dump-header|--include)\s/, `${where}: leave output options to the test`);
    const concrete = substitute(script);
    const { method, url } = requestOf(concrete);
    assert.ok(url, `${where}: no URL`);
    const path = url.slice(values.BASE.length);
    const route = contract.route(method, path);
    if (route.kind === 'operation') covered.add(`${method} ${route.template}`);

    const out = join(dir, `body-${i}`);
    const hdr = join(dir, `headers-${i}`);
    const wrapper = `curl() { command curl -sS -o '${out}' -D '${hdr}' -w '%{http_code}' "$@"; }\n`;
    let code;
    try {
      // /readyz may answer 503 now and then on a loaded machine (on PostgreSQL its probe has a
      // 1 s deadline of its own): that example is run again, a few times, until it is ready.
      for (let attempt = 1; ; attempt++) {
        code = execFileSync('bash', ['-euo', 'pipefail', '-c', wrapper + concrete], { encoding: 'utf8', timeout: 20000 }).trim();
        if (path !== '/readyz' || code !== '503' || attempt === 10) break;
      }
    } catch (error) {
      failures.push(`${where}: ${method} ${path}: ${error.message}`);
      continue;
    }
    if (Number(code) !== statuses[0]) {
      failures.push(`${where}: ${method} ${path} answered ${code}, documented ${statuses[0]}: ${readFileSync(out, 'utf8').slice(0, 300)}`);
      continue;
    }
    const { headers } = parseHeaders(readFileSync(hdr, 'utf8'));
    const text = readFileSync(out, 'utf8');
    let body = text;
    if ((headers.get('content-type') ?? '').includes('application/json')) body = JSON.parse(text);
    const problems = contract.check(method, path, { status: Number(code), headers, body, text }, { rateLimitOn: true });
    if (problems.length) failures.push(`${where}: ${problems.join('; ')}`);
  }
  assert.deepEqual(failures, []);
  const missing = contract.operations().map(({ method, template }) => `${method} ${template}`).filter((op) => !covered.has(op));
  assert.deepEqual(missing, [], 'operations of /openapi.json without a curl example in docs/api.md');
});
