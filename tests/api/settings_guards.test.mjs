// The settings an operator gets wrong on the way to production: --smtp-url without --public-url
// (emails would carry links to the listen address), a --public-url that is not an absolute
// http(s) URL, and the forms --listen accepts. A refused setting stops every subcommand before it
// touches anything, with a message that names the setting and shows an accepted form; each
// accepted --listen form serves on the address it names, and the default public URL reaches it.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, makeTempDir, startService, freePort, nonLoopbackIPv4 } from '../support/service.mjs';
import { MAIL_TIMEOUT_MS, GENEROUS_LIMITS, uniqueEmail, bulkOk, waitFor } from '../support/assertions.mjs';
import { parseMail, acceptLink } from '../support/smtp.mjs';
import { startPostgres } from '../support/postgres.mjs';

const running = [];
let external; // a non-loopback IPv4 address of this machine, added for the test if need be

after(async () => {
  for (const service of running) await service.stop();
  external?.remove();
});

// Runs the binary with `args` in a fresh folder; returns {status, stderr, dir} and whether it
// created the database (a refused setting must stop it before that). On a SQLite database in a
// folder that does not exist yet, on both passes: whether anything was written is then whether
// the folder exists. (The settings are checked before any store is opened, whichever it is.)
function run(args, env = {}) {
  const dir = makeTempDir();
  const result = spawnSync(BIN, args, {
    env: {
      ...process.env,
      INVITED_DATABASE: `sqlite://${join(dir, 'data', 'invited.db')}`,
      INVITED_MAIL_DIR: join(dir, 'mail'),
      ...env,
    },
    encoding: 'utf8',
    timeout: 30000,
  });
  return { status: result.status, stderr: result.stderr, wroteDatabase: existsSync(join(dir, 'data')) };
}

// The refusal of `args` by `serve`: a non-zero exit, one message naming `setting` and matching
// every pattern of `says`, nothing written.
function assertRefused(args, setting, says, { env = {}, subcommand = ['serve'] } = {}) {
  const { status, stderr, wroteDatabase } = run([...subcommand, ...args], env);
  const context = `${JSON.stringify(args)} ${JSON.stringify(env)}:\n${stderr}`;
  assert.notEqual(status, 0, `refused with a non-zero exit: ${context}`);
  assert.equal(status, 2, `a settings error exits 2: ${context}`);
  assert.match(stderr, new RegExp(`^invited: ${setting} `), context);
  for (const pattern of says) assert.match(stderr, pattern, context);
  assert.equal(wroteDatabase, false, `nothing written: ${context}`);
  return stderr;
}

test('--smtp-url without --public-url refuses to start, saying what to set and why', () => {
  const says = [
    /needs --public-url \(INVITED_PUBLIC_URL\)/,
    /accept links/,
    /such as --public-url https:\/\/invites\.example\.com/,
    /would point at the listen address \(http:\/\/127\.0\.0\.1:8080\)/,
  ];
  const message = assertRefused(['--smtp-url', 'smtp://user:s3cret@mail.example.com:587'], '--smtp-url', says);
  assert.ok(!message.includes('s3cret'), 'the SMTP password is never shown');
  // The same words from every subcommand, and from the environment variable.
  for (const subcommand of [['migrate'], ['admin', 'create-org', '--name', 'Acme'], ['serve']]) {
    const again = assertRefused([], '--smtp-url', says, { env: { INVITED_SMTP_URL: 'smtp://127.0.0.1:25' }, subcommand });
    assert.equal(again, message);
  }
  // Set, it starts: a public URL given in the environment counts too.
  const fine = run(['migrate'], { INVITED_SMTP_URL: 'smtp://127.0.0.1:25', INVITED_PUBLIC_URL: 'https://invites.example.com' });
  assert.equal(fine.status, 0, fine.stderr);
});

test('--smtp-url must be an smtp:// or smtps:// URL with a host, and a refusal never shows it', () => {
  const example = /smtp:\/\/user:password@mail\.example\.com:587/;
  for (const url of ['https://user:s3cret@mail.example.com', 'mail.example.com:587', 'smtp://', 'smtp://user:s3cret@/']) {
    const message = assertRefused(['--smtp-url', url, '--public-url', 'https://invites.example.com'], '--smtp-url', [example, /not shown/]);
    assert.ok(!message.includes('s3cret'), message);
  }
});

test('--database picks the store by its scheme; any other is refused by every subcommand without showing a password', () => {
  const cases = [
    ['mysql://root:s3cret@db.example.com/invited', [/must start with sqlite:\/\//, /got a mysql:\/\/ URL/]],
    ['sqlite://', [/sqlite:\/\/ needs a file path/]],
    ['data/invited.db', [/must start with sqlite:\/\/ \(got data\/invited\.db\)/]],
  ];
  for (const [url, says] of cases) {
    for (const subcommand of [['serve'], ['migrate'], ['admin', 'create-org', '--name', 'Acme']]) {
      const message = assertRefused([], '--database', says, { env: { INVITED_DATABASE: url }, subcommand });
      assert.ok(!message.includes('s3cret'), message);
    }
  }
});

test('--database postgresql:// migrates a PostgreSQL database; an unreachable one fails without showing the password', async () => {
  const pg = await startPostgres();
  try {
    const db = pg.freshDatabase();
    for (const url of [db.url, db.url.replace('postgresql://', 'postgres://')]) {
      const migrated = spawnSync(BIN, ['migrate'], { env: { ...process.env, INVITED_DATABASE: url }, encoding: 'utf8', timeout: 60000 });
      assert.equal(migrated.status, 0, migrated.stderr);
      const out = JSON.parse(migrated.stdout.trim());
      assert.equal(out.schema_version, Number(pg.sql(db.name, 'SELECT max(version) FROM schema_migrations')[0][0]));
      // The second run finds nothing left to do.
      if (url !== db.url) assert.equal(out.applied, 0);
    }
    assert.ok(pg.sql(db.name, "SELECT to_regclass('invites_one_pending') IS NOT NULL")[0][0] === 't');
    // Nothing listens on port 1: refused at once, the URL shown with its password masked.
    const down = spawnSync(BIN, ['migrate'], {
      env: { ...process.env, INVITED_DATABASE: 'postgresql://invited:s3cret@127.0.0.1:1/invited' },
      encoding: 'utf8',
      timeout: 30000,
    });
    assert.equal(down.status, 1, down.stderr);
    assert.match(down.stderr, /cannot connect to postgresql:\/\/invited:\*\*\*@127\.0\.0\.1:1\/invited/);
    assert.ok(!down.stderr.includes('s3cret'), down.stderr);
  } finally {
    await pg.stop();
  }
});

test('--public-url must be an absolute http(s) URL with a host, without query, fragment or blanks', () => {
  const example = /such as https:\/\/invites\.example\.com/;
  const cases = [
    ['invites.example.com', /must start with http:\/\/ or https:\/\//],
    ['ftp://invites.example.com', /must start with http:\/\/ or https:\/\//],
    ['/invites', /must start with http:\/\/ or https:\/\//],
    ['https://', /needs a host/],
    ['https:///path', /needs a host/],
    ['https://:8443', /needs a host/],
    ['https://invites.example.com?ref=mail', /query \(\?\) or a fragment \(#\)/],
    ['https://invites.example.com/app#top', /query \(\?\) or a fragment \(#\)/],
    ['https://invites.example.com/my app', /space or a control character/],
    ['https://invites.example.com/\tapp', /space or a control character/],
    ['https://invites.example.com/app\r\nX-Injected: 1', /space or a control character/],
    ['https://admin:pw@invites.example.com', /user:password@/],
    ['https://invites.example.com:99999', /port must be a number from 1 to 65535/],
    ['https://invites.example.com:x', /port must be a number from 1 to 65535/],
    ['https://[::1', /'\[' without its '\]'/],
    ['https://[invites]/', /not an IPv6 address/],
    ['https://invites.example.com/<b>', /percent-encoded/],
    ['https://invites.example.com/100%', /%XX escape/],
  ];
  for (const [url, why] of cases) assertRefused(['--public-url', url], '--public-url', [why, example]);
  // The same check reads the environment variable.
  assertRefused([], '--public-url', [/must start with http/, example], { env: { INVITED_PUBLIC_URL: 'invites.example.com' } });
});

test('--listen refuses what it cannot bind, naming the setting and the accepted forms', () => {
  const forms = /127\.0\.0\.1:8080, localhost:8080 \(127\.0\.0\.1\), \[::1\]:8080, 0\.0\.0\.0:8080 or :8080 \(every IPv4 interface\), \[::\]:8080 \(every interface\)/;
  const cases = [
    ['8080', /needs a port/],
    ['127.0.0.1', /needs a port/],
    ['127.0.0.1:', /port must be a number from 0 to 65535/],
    ['127.0.0.1:65536', /port must be a number from 0 to 65535/],
    ['127.0.0.1:80x', /port must be a number from 0 to 65535/],
    ['127.0.0.1:-1', /port must be a number from 0 to 65535/],
    ['::1:8080', /IPv6 address in brackets/],
    ['[::1]', /needs a port after the bracketed IPv6 address/],
    ['[::1:8080', /'\[' without its '\]'/],
    ['[127.0.0.1]:8080', /not an IPv6 address/],
    ['example.com:8080', /host must be an IPv4 address, a bracketed IPv6 address, localhost or nothing/],
    ['256.0.0.1:8080', /host must be an IPv4 address/],
  ];
  for (const [listen, why] of cases) {
    const message = assertRefused(['--listen', listen], '--listen', [why, forms]);
    assert.ok(message.includes(`(got "${listen}")`), message);
  }
  assertRefused([], '--listen', [/IPv6 address in brackets/, forms], { env: { INVITED_LISTEN: '::1:8080' } });
});

// Whether GET /healthz answers 200 at `base`; false when the connection is refused.
async function healthy(base) {
  try {
    const response = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(5000) });
    await response.arrayBuffer();
    return response.status === 200;
  } catch (error) {
    if (error.cause?.code === 'ECONNREFUSED') return false;
    throw error;
  }
}

// Every accepted form of --listen: the address it binds (as the "listening" line names it), the
// addresses that must and must not reach it, and its default public URL's host.
const LISTEN_FORMS = [
  { listen: '127.0.0.1', bound: '127.0.0.1', reaches: ['127.0.0.1'], not: ['[::1]', 'external'], publicHost: '127.0.0.1' },
  { listen: 'localhost', bound: '127.0.0.1', reaches: ['127.0.0.1'], not: ['[::1]', 'external'], publicHost: '127.0.0.1' },
  { listen: '[::1]', bound: '::1', reaches: ['[::1]'], not: ['127.0.0.1', 'external'], publicHost: '[::1]' },
  { listen: '0.0.0.0', bound: '0.0.0.0', reaches: ['127.0.0.1', 'external'], not: ['[::1]'], publicHost: '127.0.0.1' },
  { listen: '', bound: '0.0.0.0', reaches: ['127.0.0.1', 'external'], not: ['[::1]'], publicHost: '127.0.0.1' },
  { listen: '[::]', bound: '::', reaches: ['[::1]', '127.0.0.1', 'external'], not: [], publicHost: '[::1]' },
];

for (const form of LISTEN_FORMS) {
  test(`--listen ${form.listen}:0 serves on ${form.bound} at a free port, and its default public URL reaches it`, async () => {
    external ??= nonLoopbackIPv4();
    const service = await startService({ listen: `${form.listen}:0`, args: GENEROUS_LIMITS });
    running.push(service);
    const listening = service.logs.map((line) => JSON.parse(line)).find((entry) => entry.msg === 'listening');
    assert.equal(listening.address, form.bound);
    assert.ok(listening.port > 0, `port 0 picks a free port, got ${listening.port}`);
    assert.equal(listening.public_url, `http://${form.publicHost}:${listening.port}`);
    const base = (host) => `http://${host === 'external' ? external.address : host}:${listening.port}`;
    for (const host of form.reaches) assert.equal(await healthy(base(host)), true, `${base(host)} serves /healthz`);
    for (const host of form.not) assert.equal(await healthy(base(host)), false, `${base(host)} is not served`);
    assert.equal(await healthy(listening.public_url), true, 'the default public URL reaches the service');
    await service.stop();
  });
}

test('--listen with a named port serves on that port (localhost:PORT)', async () => {
  const port = await freePort();
  const service = await startService({ listen: `localhost:${port}`, args: GENEROUS_LIMITS });
  running.push(service);
  assert.equal(service.port, port);
  assert.equal(service.publicUrl, `http://127.0.0.1:${port}`);
  assert.equal(await healthy(`http://127.0.0.1:${port}`), true);
  await service.stop();
});

// The accept link of the only email to `email` the folder transport wrote.
async function emailedLink(service, email) {
  const mails = await waitFor(
    async () => {
      const parsed = await Promise.all(service.mails().map((raw) => parseMail(raw)));
      const found = parsed.filter((m) => m.to.value.some((v) => v.address === email));
      return found.length > 0 && found;
    },
    { timeoutMs: MAIL_TIMEOUT_MS, what: `the email to ${email}`, intervalMs: 50 },
  );
  assert.equal(mails.length, 1);
  return acceptLink(mails[0]);
}

for (const [listen, host] of [[':0', '127.0.0.1'], ['[::1]:0', '[::1]']]) {
  test(`without --public-url, an email from a service on --listen ${listen} links to http://${host}:PORT, which serves the page`, async () => {
    const service = await startService({ listen, args: GENEROUS_LIMITS });
    running.push(service);
    const org = service.createOrg('Acme');
    const website = await service.createWebsite(org.api_key, 'https://site.acme.example', 'Site');
    const email = uniqueEmail('default-url');
    await bulkOk(service, org.api_key, { invite_method: 'email', email, website_ids: [website.id] });
    const link = await emailedLink(service, email);
    assert.equal(new URL(link).origin, `http://${host}:${service.port}`, link);
    const page = await fetch(link);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /Site/);
    await service.stop();
  });
}

test('--public-url with a path prefix is the base of the accept link (scheme folded, trailing slash dropped)', async () => {
  const service = await startService({ args: [...GENEROUS_LIMITS, '--public-url', 'HTTPS://invites.acme.example:8443/team/invited/'] });
  running.push(service);
  assert.equal(service.publicUrl, 'https://invites.acme.example:8443/team/invited');
  const org = service.createOrg('Acme');
  const website = await service.createWebsite(org.api_key, 'https://site.acme.example', 'Site');
  const email = uniqueEmail('prefix');
  await bulkOk(service, org.api_key, { invite_method: 'email', email, website_ids: [website.id] });
  assert.match(await emailedLink(service, email), /^https:\/\/invites\.acme\.example:8443\/team\/invited\/invites\/accept\?token=[A-Za-z0-9_-]{43,}$/);
  await service.stop();
});
