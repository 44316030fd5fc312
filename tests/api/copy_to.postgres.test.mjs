// Moving from SQLite to PostgreSQL (`invited admin copy-to TARGET_URL`, README "Running on
// PostgreSQL"): a SQLite database filled through the API is copied into a fresh PostgreSQL
// database, and a service started on the copy answers every read as the SQLite one did, with
// the same ids; old accept links, kept idempotent responses, scoped keys and queued emails carry
// over. A cross-store test: it needs a SQLite database and a PostgreSQL cluster at once, so it
// runs in the PostgreSQL pass only (its SQLite side is the file it creates itself).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, makeTempDir, startService } from '../support/service.mjs';
import { databaseUrlFor, querySqliteFile, tableCounts, testCluster } from '../support/database.mjs';
import { acceptLink, parseMail, startSmtpSink, tokenOf } from '../support/smtp.mjs';
import {
  MAIL_TIMEOUT_MS, GENEROUS_LIMITS,
  addDirect,
  call,
  createGroup,
  createKeyViaApi,
  createWebsites,
  inviteByEmail,
  waitFor,
} from '../support/assertions.mjs';

// The tables of the SQLite schema the copy leaves alone on purpose (src/store/copied_tables.cpp,
// tables_not_copied()). Every other table of the schema must be in the copy's report, so a
// table added to the schema and forgotten by the copy fails this test.
const NOT_COPIED = ['write_probe', 'schema_migrations'];

const sqliteTables = (file) =>
  querySqliteFile(file, "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite%' ORDER BY name").map((r) => r[0]);

function sqliteCounts(file) {
  const tables = sqliteTables(file);
  const rows = querySqliteFile(file, tables.map((t) => `SELECT '${t}', COUNT(*) FROM ${t}`).join(' UNION ALL '));
  return Object.fromEntries(rows.map(([t, n]) => [t, Number(n)]));
}

// Runs `invited admin copy-to` with the source and target given as environment settings (so no
// password shows on a command line); returns {status, stdout, stderr, report}.
function copyTo(sourceUrl, targetUrl, extraArgs = []) {
  const run = spawnSync(BIN, ['admin', 'copy-to', ...extraArgs], {
    env: { ...process.env, INVITED_DATABASE: sourceUrl, INVITED_COPY_TARGET: targetUrl, INVITED_LOG_LEVEL: 'info' },
    encoding: 'utf8',
  });
  let report;
  if (run.status === 0) report = JSON.parse(run.stdout.trim().split('\n').pop());
  return { status: run.status, stdout: run.stdout, stderr: run.stderr, report };
}

// `invited migrate` on a new SQLite file: a source holding the schema and no rows.
function migrateSqlite(url) {
  const run = spawnSync(BIN, ['migrate'], { env: { ...process.env, INVITED_DATABASE: url }, encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
}

// Everything a client can read about the organization of `key` (and, with `scopedKey`, what that
// key sees), as the API answers it.
async function everythingReadable(service, { key, scopedKey, siteIds, deletedSiteId, groupId }) {
  const get = (path, k = key) => call(service, 'GET', path, { key: k });
  const read = {};
  read.websites = await get('/api/v1/websites?limit=100');
  read.groups = await get('/api/v1/groups?limit=100');
  read.group = await get(`/api/v1/groups/${groupId}`);
  read.orgMembers = await get('/api/v1/organizations/members?limit=100');
  read.apiKeys = await get('/api/v1/api-keys?limit=100');
  read.invites = await get('/api/v1/invites?limit=100');
  read.pendingInvites = await get('/api/v1/invites?status=pending&limit=100');
  read.invitesPaged = await get('/api/v1/invites?page_num=0&page_size=100');
  // The event log, in its order (SQLite's commit order, kept by the copy), and a scoped key's.
  read.events = await get('/api/v1/events?limit=100');
  read.eventsPage2 = read.events.has_more ? await get(`/api/v1/events?limit=100&starting_after=${read.events.events.at(-1).id}`) : null;
  read.webhookEndpoints = await get('/api/v1/webhook-endpoints?limit=100');
  read.siteMembers = {};
  for (const id of siteIds.filter((i) => i !== deletedSiteId)) {
    read.siteMembers[id] = await get(`/api/v1/websites/${id}/members?limit=100`);
  }
  read.groupMembers = await get(`/api/v1/groups/${groupId}/members?limit=100`);
  read.userWebsites = {};
  for (const member of read.orgMembers.members) {
    read.userWebsites[member.user_id] = await get(`/api/v1/users/${member.user_id}/websites?limit=100`);
  }
  for (const member of Object.values(read.siteMembers).flatMap((page) => page.members)) {
    read.userWebsites[member.user_id] ??= await get(`/api/v1/users/${member.user_id}/websites?limit=100`);
  }
  read.deletedSite = (await service.api('GET', `/api/v1/websites/${deletedSiteId}`, { key })).status;
  read.scoped = {
    websites: await get('/api/v1/websites?limit=100', scopedKey),
    invites: await get('/api/v1/invites?limit=100', scopedKey),
    events: await get('/api/v1/events?limit=100', scopedKey),
    outside: (await service.api('GET', `/api/v1/websites/${siteIds[2]}`, { key: scopedKey })).status,
    globalOnly: (await service.api('GET', '/api/v1/api-keys', { key: scopedKey })).status,
  };
  return read;
}

test('postgres: a SQLite database copied with admin copy-to serves the same organizations, websites, groups, members, invites and keys on PostgreSQL', async () => {
  const sink = await startSmtpSink();
  let laterSink;
  const sourceDir = makeTempDir('copy-source-');
  const sourceFile = join(sourceDir, 'source.db');
  const sourceUrl = `sqlite://${sourceFile}`;
  const sourceEnv = { INVITED_DATABASE: sourceUrl };
  const source = await startService({
    dir: sourceDir, env: sourceEnv, smtpUrl: sink.url, args: [...GENEROUS_LIMITS, '--mail-retry-seconds', '0.2'],
  });
  let target;
  try {
    // --- fill the SQLite database through the API ---------------------------------------------
    const acme = source.createOrg('Acme Moves', 'owner@acme-moves.example');
    const beta = source.createOrg('Beta Stays');
    const key = acme.api_key;
    const sites = await createWebsites(source, key, 4, 'moving');
    const siteIds = sites.map((s) => s.id);
    const group = await createGroup(source, key, 'Moving group', [siteIds[0], siteIds[1]]);
    const scoped = source.createKey(acme.org_id, [siteIds[0]], 'scoped by command');
    const scopedViaApi = await createKeyViaApi(source, key, 'scoped by api', [siteIds[1]]);
    await createWebsites(source, beta.api_key, 1, 'beta');

    await addDirect(source, key, 'direct@acme-moves.example', [siteIds[0], siteIds[1]], { first_name: 'Dee', last_name: 'Rect' });
    await addDirect(source, key, 'grouped@acme-moves.example', [group.id], { kind: 'group', role: 'admin' });
    await inviteByEmail(source, key, 'accepted@acme-moves.example', [siteIds[0]]);
    await inviteByEmail(source, key, 'pending@acme-moves.example', [siteIds[1], siteIds[2]], { role: 'admin' });
    await inviteByEmail(source, key, 'group-pending@acme-moves.example', [group.id], { kind: 'group' });
    // A pending invite to a website that is then deleted: revoked with it.
    await inviteByEmail(source, key, 'revoked@acme-moves.example', [siteIds[3]]);
    await call(source, 'DELETE', `/api/v1/websites/${siteIds[3]}`, { key });

    const accepted = await parseMail((await sink.waitForMessageTo('accepted@acme-moves.example')).raw);
    await call(source, 'POST', '/api/v1/invitations/accept', { body: { token: tokenOf(acceptLink(accepted)) } });
    const pending = await parseMail((await sink.waitForMessageTo('pending@acme-moves.example')).raw);
    // A resent invitation: its first link is replaced (retired_tokens), the second one works.
    const firstGroupMail = await parseMail((await sink.waitForMessageTo('group-pending@acme-moves.example')).raw);
    const groupInvite = (await call(source, 'GET', '/api/v1/invites?email=group-pending@acme-moves.example', { key })).invites[0];
    await call(source, 'POST', `/api/v1/invites/${groupInvite.id}/resend`, { key });
    await waitFor(() => sink.messagesTo('group-pending@acme-moves.example').length === 2, { timeoutMs: MAIL_TIMEOUT_MS, what: 'the resent email' });
    const resentGroupMail = await parseMail(sink.messagesTo('group-pending@acme-moves.example').at(-1).raw);
    assert.notEqual(acceptLink(resentGroupMail), acceptLink(firstGroupMail));
    // A removed member (removed_memberships), a revoked key.
    const leaver = await addDirect(source, key, 'leaver@acme-moves.example', [siteIds[2]]);
    await call(source, 'DELETE', `/api/v1/websites/${siteIds[2]}/members/${leaver}`, { key });
    const revoked = await createKeyViaApi(source, key, 'revoked key');
    await call(source, 'DELETE', `/api/v1/api-keys/${revoked.key_id}`, { key });

    const keyed = {
      path: '/api/v1/invites/bulk',
      body: { invite_method: 'direct', email: 'keyed@acme-moves.example', website_ids: [siteIds[2]] },
      headers: { 'idempotency-key': 'move-me-once' },
    };
    const kept = await source.api('POST', keyed.path, { key, body: keyed.body, headers: keyed.headers });
    assert.equal(kept.status, 200, kept.text);

    // A webhook endpoint with a delivery and a recorded attempt (hooks.example.com does not
    // resolve here, so the attempt fails and the delivery waits for its retry).
    const { webhook_endpoint: hook } = await call(source, 'POST', '/api/v1/webhook-endpoints', {
      key, body: { url: 'https://hooks.example.com/moving', event_types: ['website.created'], description: 'moves too' }, status: 201,
    });
    await createWebsites(source, key, 1, 'hooked');
    await waitFor(
      async () => (await call(source, 'GET', `/api/v1/webhook-endpoints/${hook.id}/deliveries`, { key })).deliveries.length >= 1,
      { timeoutMs: 30000, what: 'the webhook attempt recorded' },
    );

    // One email still queued at the move: the SMTP server is gone, so it waits for a retry.
    await sink.stop();
    await inviteByEmail(source, key, 'queued@acme-moves.example', [siteIds[0]]);
    await waitFor(
      () => querySqliteFile(sourceFile, "SELECT COUNT(*) FROM outbox_emails WHERE status = 0 AND attempts >= 1 AND claimed_until IS NULL")[0][0] === '1',
      { what: 'the queued email to have failed one attempt' },
    );

    const scopes = { key, scopedKey: scoped.api_key, siteIds, deletedSiteId: siteIds[3], groupId: group.id };
    const before = await everythingReadable(source, scopes);
    const betaWebsites = await call(source, 'GET', '/api/v1/websites', { key: beta.api_key });
    const cluster = testCluster();
    const database = cluster.freshDatabase();
    // Not while a service serves the file: what it wrote after the snapshot would be lost.
    const whileServing = copyTo(sourceUrl, database.url);
    assert.equal(whileServing.status, 1, whileServing.stdout);
    assert.match(whileServing.stderr, /is already serving the database .*source\.db .*stop it before copying/);
    assert.deepEqual(cluster.sql(database.name, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"), []);
    assert.equal(await source.stop(), 0);

    // --- copy into a fresh PostgreSQL database (no schema yet: the copy migrates it) -----------
    const sourceCounts = sqliteCounts(sourceFile);
    const copy = copyTo(sourceUrl, database.url);
    assert.equal(copy.status, 0, copy.stderr);
    for (const output of [copy.stdout, copy.stderr]) {
      assert.ok(!output.includes(cluster.password), 'the target password never appears in the output');
    }
    const expected = Object.fromEntries(Object.entries(sourceCounts).filter(([t]) => !NOT_COPIED.includes(t)));
    // Every table of the SQLite schema is copied (NOT_COPIED aside), row for row.
    assert.deepEqual(Object.keys(copy.report.copied).sort(), Object.keys(expected).sort());
    assert.deepEqual(copy.report.copied, Object.fromEntries(Object.keys(copy.report.copied).map((t) => [t, expected[t]])));
    // Every table held rows, so the copy of each was put to the test.
    assert.deepEqual(Object.entries(copy.report.copied).filter(([, rows]) => rows === 0), []);
    assert.equal(copy.report.copied.idempotent_responses, 1);
    assert.equal(copy.report.target.includes(cluster.password), false);

    // --- start on PostgreSQL and read everything back ------------------------------------------
    const targetDir = makeTempDir('copy-target-');
    writeFileSync(join(targetDir, 'postgres_database'), `${database.name}\n`);
    const targetCounts = tableCounts(targetDir);
    for (const [table, rows] of Object.entries(expected)) assert.equal(targetCounts[table], rows, `rows of ${table}`);

    laterSink = await startSmtpSink();
    target = await startService({ dir: targetDir, smtpUrl: laterSink.url, args: GENEROUS_LIMITS });
    // The email queued at the move is sent by the PostgreSQL service, at its next attempt: the
    // source kept failing it until it stopped, each failure doubling the wait (0.2 s, 0.4 s, ...),
    // so on a slow machine that attempt can be 10 s or more away.
    const queued = await parseMail((await laterSink.waitForMessageTo('queued@acme-moves.example', { timeoutMs: 60000 })).raw);
    await waitFor(async () => (await call(target, 'GET', '/api/v1/invites?status=pending&limit=100', { key })).invites
      .filter((i) => i.email === 'queued@acme-moves.example').every((i) => i.delivery === 'sent'), { timeoutMs: MAIL_TIMEOUT_MS, what: 'the queued email to be recorded as sent' });
    // Everything reads back as it did on SQLite, that one email's delivery aside.
    const after = await everythingReadable(target, scopes);
    // (An event's data is the invite as it was when the event was recorded: it stays queued.)
    const sentSince = JSON.parse(JSON.stringify(before), (name, value) =>
      name !== 'data' && value && value.email === 'queued@acme-moves.example' && value.delivery === 'queued' ? { ...value, delivery: 'sent' } : value);
    assert.notDeepEqual(sentSince, before, 'the queued email was among what was read before the move');
    assert.deepEqual(after, sentSince);
    assert.deepEqual(await call(target, 'GET', '/api/v1/websites', { key: beta.api_key }), betaWebsites);
    // A scoped key stays scoped (everythingReadable compared what it sees; the API-made one too).
    assert.deepEqual(
      (await call(target, 'GET', '/api/v1/websites', { key: scopedViaApi.api_key })).websites.map((w) => w.id),
      [siteIds[1]],
    );

    // The kept idempotent response replays.
    const replay = await target.api('POST', keyed.path, { key, body: keyed.body, headers: keyed.headers });
    assert.equal(replay.status, 200, replay.text);
    assert.equal(replay.headers.get('idempotent-replayed'), 'true');
    assert.deepEqual(replay.body, kept.body);

    // A link replaced before the move stays replaced; its replacement works.
    assert.equal((await target.api('POST', '/api/v1/invitations/accept', { body: { token: tokenOf(acceptLink(firstGroupMail)) } })).status, 410);
    await call(target, 'POST', '/api/v1/invitations/accept', { body: { token: tokenOf(acceptLink(resentGroupMail)) } });
    // A revoked key stays revoked.
    assert.equal((await target.api('GET', '/api/v1/websites', { key: revoked.api_key })).status, 401);

    // The link of an email sent before the move still works after it.
    const oldLink = new URL(acceptLink(pending));
    const acceptedAfter = await call(target, 'POST', '/api/v1/invitations/accept', { body: { token: oldLink.searchParams.get('token') } });
    assert.deepEqual(acceptedAfter.results.map((r) => [r.website_id, r.success]).sort(), [[siteIds[1], true], [siteIds[2], true]].sort());
    const members = await call(target, 'GET', `/api/v1/websites/${siteIds[2]}/members?limit=100`, { key });
    assert.ok(members.members.some((m) => m.email === 'pending@acme-moves.example' && m.role === 'admin'), JSON.stringify(members));

    // The link of the email queued at the move works.
    await call(target, 'POST', '/api/v1/invitations/accept', { body: { token: tokenOf(acceptLink(queued)) } });

    // New rows get keys after the copied ones (the identity sequences moved past them).
    const added = await createWebsites(target, key, 2, 'after-move');
    const created = target.createOrg('Born On PostgreSQL');
    await addDirect(target, created.api_key, 'newcomer@acme-moves.example', [(await createWebsites(target, created.api_key, 1, 'new'))[0].id]);
    await inviteByEmail(target, key, 'later@acme-moves.example', [added[0].id]);
    // The copied websites first, in their order; then the two new ones, in either order: created
    // in the same second, they are ordered by id (a version 7 uuid is random within its ms).
    const listed = (await call(target, 'GET', '/api/v1/websites?limit=100', { key })).websites.map((w) => w.id);
    const copiedIds = before.websites.websites.map((w) => w.id);
    assert.deepEqual(listed.slice(0, copiedIds.length), copiedIds);
    assert.deepEqual(listed.slice(copiedIds.length).sort(), added.map((w) => w.id).sort());
  } finally {
    if (target) assert.equal(await target.stop(), 0);
    if (source.child.exitCode === null) await source.stop();
    await sink.stop();
    if (laterSink) await laterSink.stop();
  }
});

test('postgres: copy-to refuses a target that holds any row and writes nothing to it', async () => {
  const sourceDir = makeTempDir('copy-source-');
  const sourceUrl = `sqlite://${join(sourceDir, 'source.db')}`;
  migrateSqlite(sourceUrl);
  const made = spawnSync(BIN, ['admin', 'create-org', '--name', 'Would Be Copied'], { env: { ...process.env, INVITED_DATABASE: sourceUrl }, encoding: 'utf8' });
  assert.equal(made.status, 0, made.stderr);

  // A database in use: migrated, with one organization of its own.
  const occupied = await startService();
  try {
    occupied.createOrg('Already Here');
    const counts = tableCounts(occupied);
    const copy = copyTo(sourceUrl, databaseUrlFor(occupied.dir));
    assert.equal(copy.status, 1, copy.stdout);
    assert.match(copy.stderr, /is not empty \(rows in [a-z_, ]*organizations/);
    assert.match(copy.stderr, /new database/);
    assert.ok(!copy.stderr.includes(testCluster().password));
    assert.equal(copy.stdout, '');
    assert.deepEqual(tableCounts(occupied), counts);
  } finally {
    assert.equal(await occupied.stop(), 0);
  }

  // A database holding a table of someone else's, with a row: refused before anything is
  // migrated into it.
  const cluster = testCluster();
  const foreign = cluster.freshDatabase();
  cluster.sql(foreign.name, 'CREATE TABLE notes (body text); INSERT INTO notes VALUES (\'keep me\'); ALTER TABLE notes OWNER TO ' + cluster.user);
  const refused = copyTo(sourceUrl, foreign.url);
  assert.equal(refused.status, 1, refused.stdout);
  assert.match(refused.stderr, /not empty \(rows in notes\)/);
  assert.deepEqual(cluster.sql(foreign.name, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"), [['notes']]);
});

test('postgres: copy-to with a bad source or target URL says what to fix, and never shows the password', async () => {
  const sourceDir = makeTempDir('copy-source-');
  const sourceUrl = `sqlite://${join(sourceDir, 'source.db')}`;
  migrateSqlite(sourceUrl);
  const cluster = testCluster();
  const target = cluster.freshDatabase();
  const secret = 'n0t-4-l0g-Secret';
  const cases = [
    { target: `mysql://invited:${secret}@127.0.0.1/invited`, message: /TARGET_URL must name the PostgreSQL database .*postgresql:\/\/user:password@host:port\/dbname.*got a mysql:\/\/ URL/ },
    { target: `${sourceUrl}`, message: /TARGET_URL must name the PostgreSQL database.*got a sqlite:\/\/ URL/ },
    { target: `postgresql://invited:${secret}@127.0.0.1:1/nowhere`, message: /cannot connect to postgresql:\/\/invited:\*\*\*@127\.0\.0\.1:1\/nowhere/ },
    { target: `postgresql://${cluster.user}:${secret}@127.0.0.1:${cluster.port}/${target.name}`, message: /cannot connect to .*password authentication failed/ },
    { source: `sqlite://${join(sourceDir, 'missing.db')}`, target: target.url, message: /source database .*missing\.db does not exist: --database must name the SQLite file/ },
    { source: target.url, target: target.url, message: /copy-to copies from a SQLite database: give it with --database sqlite:/ },
  ];
  for (const { source: from = sourceUrl, target: to, message } of cases) {
    const copy = copyTo(from, to);
    assert.equal(copy.status, 1, `${to}: ${copy.stdout}`);
    assert.match(copy.stderr, message);
    assert.equal(copy.stdout, '');
    assert.ok(!copy.stderr.includes(secret) && !copy.stderr.includes(cluster.password), copy.stderr);
  }
  // Nothing was written to the target by any of them.
  assert.deepEqual(cluster.sql(target.name, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"), []);
});

test('postgres: copy-to refuses a SQLite schema with a table it does not know or a column the PostgreSQL schema lacks, naming what to change', async () => {
  const sourceDir = makeTempDir('copy-source-');
  const sourceFile = join(sourceDir, 'source.db');
  const sourceUrl = `sqlite://${sourceFile}`;
  migrateSqlite(sourceUrl);
  const made = spawnSync(BIN, ['admin', 'create-org', '--name', 'Drifted'], { env: { ...process.env, INVITED_DATABASE: sourceUrl }, encoding: 'utf8' });
  assert.equal(made.status, 0, made.stderr);
  const cluster = testCluster();
  const target = cluster.freshDatabase();

  // A table a later migration adds and nobody added to the copy.
  querySqliteFile(sourceFile, 'CREATE TABLE later_notes (pk INTEGER PRIMARY KEY, body TEXT)', { write: true });
  const unknownTable = copyTo(sourceUrl, target.url);
  assert.equal(unknownTable.status, 1, unknownTable.stdout);
  assert.match(unknownTable.stderr, /the SQLite schema has tables copy-to does not know \(later_notes\): add each to copied_tables\(\) in src\/store\/copied_tables\.cpp/);

  // A column one store's migration added and its twin did not.
  querySqliteFile(sourceFile, 'DROP TABLE later_notes; ALTER TABLE websites ADD COLUMN color TEXT', { write: true });
  const extraColumn = copyTo(sourceUrl, target.url);
  assert.equal(extraColumn.status, 1, extraColumn.stdout);
  assert.match(extraColumn.stderr, /table websites has columns on one side only \(color only in the SQLite schema\)/);
  // The target got the schema (it had none) but no row: the copy's transaction rolled back.
  assert.deepEqual(cluster.sql(target.name, 'SELECT count(*) FROM organizations'), [['0']]);
});
