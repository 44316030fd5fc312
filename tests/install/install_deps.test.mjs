// What each command installs (README, "Quick start"): `make run` (and `make build`,
// `make package`) install only what building and running need; the test tools (Chromium, wrk,
// aiosmtpd, the PostgreSQL server, GoogleTest, clang-14, systemd-analyze, Node.js and the npm
// packages) come with `make test` alone. Read from scripts/install-deps --list and from what make
// would run (make -n), so nothing is installed or removed here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';

const ROOT = new URL('../..', import.meta.url).pathname;
const run = (command, args) => execFileSync(command, args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const list = (...args) => run('scripts/install-deps', ['--list', ...args]).trim().split('\n');

const TEST_TOOLS = ['chromium', 'wrk', 'python3-aiosmtpd', 'postgresql', 'libgtest-dev', 'clang-14', 'clang-format', 'systemd', 'nodejs'];
const BUILD_AND_RUN = ['build-essential', 'cmake', 'ninja-build', 'libsqlite3-dev', 'libpq-dev', 'libcurl4-openssl-dev', 'libsodium-dev', 'libcli11-dev', 'dpkg-dev', 'curl', 'python3'];

test('scripts/install-deps lists what building and running need, and no test tool', () => {
  const packages = list();
  for (const name of BUILD_AND_RUN) assert.ok(packages.includes(name), `${name} in ${packages}`);
  assert.ok(packages.some((p) => /^libboost-json1\.\d+-dev$/.test(p)), 'Boost.JSON');
  for (const name of TEST_TOOLS) assert.ok(!packages.includes(name), `${name} is a test tool`);
});

test('scripts/install-deps --test adds every test tool to the same list', () => {
  const base = list();
  const packages = list('--test');
  for (const name of [...base, ...TEST_TOOLS]) assert.ok(packages.includes(name), `${name} in ${packages}`);
});

test('make run installs without --test, make test with it, once', () => {
  const deps = (goal) => run('make', ['-n', goal]).split('\n').filter((line) => line.includes('scripts/install-deps'));
  assert.deepEqual(deps('run'), ['scripts/install-deps ']);
  assert.deepEqual(deps('package'), ['scripts/install-deps ']);
  assert.deepEqual(deps('test'), ['scripts/install-deps --test']);
});
