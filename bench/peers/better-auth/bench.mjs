// The peer of one bulk-50 direct invite, through better-auth's organization plugin, in process.
//
//   node bench.mjs [REQUESTS] [DB_PATH]
//
// better-auth has no "website": a member belongs to an organization, once. So the 50 websites are
// 50 organizations (created once, through auth.api.createOrganization), and one request is
//   auth.api.createUser({ email, name })            admin plugin, server call, no password
//   50 x auth.api.addMember({ userId, organizationId, role: "member" })
// which is the work of POST /api/v1/invites/bulk {"invite_method":"direct"} with a fresh email:
// one new user, 50 memberships, 50 target lookups. The store is SQLite through better-sqlite3,
// with the same durability as invited (journal_mode=WAL, synchronous=FULL, foreign keys on).
// better-auth commits each write on its own (it has no group commit), which is its normal use.
// The organization plugin's membershipLimit (default 100 members per organization) is raised so
// that the run is not stopped by it; the member count it checks on every addMember still runs.
//
// Prints one human line and one machine line starting with "PEER".
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

import Database from 'better-sqlite3';
import { betterAuth } from 'better-auth';
import { getMigrations } from 'better-auth/db/migration';
import { admin, organization } from 'better-auth/plugins';

const requests = Number(process.argv[2] ?? 200);
const ownFolder = process.argv[3] ? null : mkdtempSync(join(tmpdir(), 'invited-peer-'));
const path = process.argv[3] ?? join(ownFolder, 'better-auth.db');
const TARGETS = 50;

const db = new Database(path);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
db.pragma('foreign_keys = ON');
db.pragma('cache_size = -65536');

const options = {
  database: db,
  secret: 'bench-secret-bench-secret-bench-secret-0123456789',
  baseURL: 'http://127.0.0.1:3000',
  logger: { disabled: true },
  telemetry: { enabled: false },
  emailAndPassword: { enabled: true },
  plugins: [admin(), organization({ membershipLimit: Number.MAX_SAFE_INTEGER })],
};
const auth = betterAuth(options);

try {
  const { runMigrations } = await getMigrations(options);
  await runMigrations();

  // The organization's owner and the 50 "websites".
  const { user: owner } = await auth.api.createUser({
    body: { email: 'owner@bench.example', name: 'Owner' },
  });
  const orgIds = [];
  for (let i = 0; i < TARGETS; i++) {
    const org = await auth.api.createOrganization({
      body: { name: `Bench site ${i}`, slug: `bench-site-${i}`, userId: owner.id },
    });
    orgIds.push(org.id);
  }

  const bulk = async (n) => {
    const { user } = await auth.api.createUser({
      body: { email: `peer-${n}@bench.example`, name: `Peer ${n}` },
    });
    for (const organizationId of orgIds) {
      await auth.api.addMember({ body: { userId: user.id, organizationId, role: 'member' } });
    }
  };

  const warmup = Math.min(5, requests);
  for (let n = 0; n < warmup; n++) await bulk(`w${n}`);

  const latencies = [];
  const t0 = performance.now();
  for (let n = 0; n < requests; n++) {
    const start = performance.now();
    await bulk(n);
    latencies.push(performance.now() - start);
  }
  const seconds = (performance.now() - t0) / 1000;

  const members = db.prepare('SELECT count(*) AS n FROM member').get().n;
  const expected = TARGETS + (warmup + requests) * TARGETS;  // owners + every request's 50
  if (members !== expected) throw new Error(`${members} member rows, expected ${expected}`);

  latencies.sort((a, b) => a - b);
  const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))];
  const rps = requests / seconds;
  const rssKb = process.resourceUsage().maxRSS;
  console.log(
    `better-auth (in process, node ${process.version}): ${requests} requests in ${seconds.toFixed(2)} s: ` +
      `${rps.toFixed(1)} requests/s, ${(rps * TARGETS).toFixed(0)} memberships/s, ` +
      `p50 ${pct(50).toFixed(1)} ms, p99 ${pct(99).toFixed(1)} ms`,
  );
  console.log(
    `PEER name=better-auth requests=${requests} seconds=${seconds.toFixed(3)} rps=${rps.toFixed(2)} ` +
      `memberships_per_s=${(rps * TARGETS).toFixed(1)} p50_ms=${pct(50).toFixed(2)} ` +
      `p99_ms=${pct(99).toFixed(2)} rss_kb=${rssKb}`,
  );
} finally {
  db.close();
  if (ownFolder) rmSync(ownFolder, { recursive: true, force: true });
}
