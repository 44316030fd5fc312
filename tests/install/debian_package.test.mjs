// The Debian package (`make package`, README "Installing the package"), checked as an operator
// would meet it without installing it on this machine: CPack builds it from the Release build in
// build/ (no compiling: the build is up to date), `dpkg-deb -x` unpacks it into a temporary
// folder, and the unpacked binary answers --version and migrates a database of its own. The unit
// is checked by `systemd-analyze verify` with the unpacked tree as its root (the machines have no
// systemd as PID 1, so the unit is never started here); `cmake --install` into a prefix is
// checked too. Runs once, not per store.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = new URL('../..', import.meta.url).pathname;
const BUILD = process.env.INVITED_PACKAGE_BUILD ?? join(ROOT, 'build');
const UNIT = 'usr/lib/systemd/system/invited.service';

let work;
let deb;
let unpacked;
let control;

const run = (command, args, options = {}) => execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...options });

before(() => {
  work = mkdtempSync(join(tmpdir(), 'invited-package-'));
  run('cmake', ['--build', BUILD, '--target', 'package']);
  const debs = readdirSync(join(BUILD, 'package')).filter((n) => /^invited_.*\.deb$/.test(n));
  assert.equal(debs.length, 1, `one package in ${BUILD}/package: ${debs}`);
  deb = join(BUILD, 'package', debs[0]);
  unpacked = join(work, 'root');
  control = join(work, 'control');
  run('dpkg-deb', ['-x', deb, unpacked]);
  run('dpkg-deb', ['-e', deb, control]);
});

after(() => {
  rmSync(work, { recursive: true, force: true });
});

// The unit's settings, `Key=value` lines, each key's values in order.
function unitSettings(text) {
  const settings = new Map();
  for (const line of text.split('\n')) {
    const match = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (!match) continue;
    settings.set(match[1], [...(settings.get(match[1]) ?? []), match[2]]);
  }
  return settings;
}

test('the package holds the binary, the unit, the environment file (a conffile) and the docs, and names its library dependencies', () => {
  for (const path of ['usr/bin/invited', UNIT, 'etc/default/invited', 'usr/share/doc/invited/README.md', 'usr/share/doc/invited/docs/api.md', 'usr/share/doc/invited/docs/openapi.json']) {
    assert.ok(existsSync(join(unpacked, path)), `${path} in the package`);
  }
  assert.equal(statSync(join(unpacked, 'etc/default/invited')).mode & 0o777, 0o600, 'the environment file may hold passwords: root only');
  assert.equal(readFileSync(join(control, 'conffiles'), 'utf8').trim(), '/etc/default/invited');
  const fields = run('dpkg-deb', ['-f', deb, 'Package', 'Version', 'Depends']);
  assert.match(fields, /^Package: invited$/m);
  for (const library of ['libsqlite3', 'libpq5', 'libcurl4', 'libsodium', 'libc6']) assert.match(fields, new RegExp(`^Depends: .*${library}`, 'm'));
});

test('the unpacked binary prints its version and commit, as the build does', () => {
  const version = run(join(unpacked, 'usr/bin/invited'), ['--version']).trim();
  assert.match(version, /^invited \d+\.\d+\.\d+ \(commit ([0-9a-f]{12}(-dirty)?|unknown)\)$/);
  assert.equal(version, run(join(BUILD, 'invited'), ['--version']).trim());
  const packageVersion = run('dpkg-deb', ['-f', deb, 'Version']).trim();
  assert.equal(version.split(' ')[1], packageVersion);
});

test('the unpacked binary migrates a new database, and a second run applies nothing', () => {
  const env = { ...process.env, INVITED_DATABASE: `sqlite://${join(work, 'state', 'invited.db')}` };
  const first = JSON.parse(run(join(unpacked, 'usr/bin/invited'), ['migrate'], { env }));
  assert.ok(first.applied > 0 && first.schema_version >= first.applied, JSON.stringify(first));
  const second = JSON.parse(run(join(unpacked, 'usr/bin/invited'), ['migrate'], { env }));
  assert.deepEqual(second, { applied: 0, schema_version: first.schema_version });
});

test('the unit is hardened, keeps its state in /var/lib/invited, outwaits the service\'s drain, and passes systemd-analyze verify', () => {
  const text = readFileSync(join(unpacked, UNIT), 'utf8');
  const unit = unitSettings(text);
  const one = (key) => {
    assert.equal(unit.get(key)?.length, 1, `${key} once in the unit`);
    return unit.get(key)[0];
  };
  assert.equal(one('ExecStart'), '/usr/bin/invited serve');
  assert.equal(one('EnvironmentFile'), '-/etc/default/invited');
  assert.equal(one('DynamicUser'), 'yes');
  assert.equal(one('StateDirectory'), 'invited');
  assert.deepEqual(unit.get('Environment'), ['INVITED_DATABASE=sqlite:///var/lib/invited/invited.db', 'INVITED_MAIL_DIR=/var/lib/invited/mail']);
  assert.equal(one('ProtectSystem'), 'strict');
  assert.equal(one('NoNewPrivileges'), 'yes');
  assert.equal(one('PrivateTmp'), 'yes');
  assert.equal(one('Restart'), 'on-failure');
  // SIGTERM stops the service within 10 s (README, "Signals"); systemd must not kill it sooner.
  const stop = /^(\d+)s$/.exec(one('TimeoutStopSec'));
  assert.ok(stop && Number(stop[1]) > 10, `TimeoutStopSec ${one('TimeoutStopSec')} above the 10 s drain`);

  // verify needs the targets a service depends on by default (sysinit.target, ...) under its
  // root: the host's are copied beside the unpacked unit, in a copy of the tree.
  const root = join(work, 'verify-root');
  run('cp', ['-a', unpacked, root]);
  for (const name of readdirSync('/lib/systemd/system').filter((n) => n.endsWith('.target'))) {
    const target = join(root, 'usr/lib/systemd/system', name);
    if (!existsSync(target)) copyFileSync(join('/lib/systemd/system', name), target);
  }
  const verify = spawnSync('systemd-analyze', ['verify', '--man=no', `--root=${root}`, `/${UNIT}`], {
    encoding: 'utf8',
    env: { ...process.env, SYSTEMD_LOG_COLOR: '0' },
  });
  assert.equal(verify.status, 0, verify.stderr);
  // verify only warns (exit 0) of an unknown key or a value it cannot parse: any word fails.
  assert.equal(`${verify.stdout}${verify.stderr}`.trim(), '', 'systemd-analyze verify has nothing to say');
});

test('cmake --install into a prefix installs the binary, a unit pointing at it and PREFIX/etc/default/invited', () => {
  const prefix = join(work, 'prefix');
  run('cmake', ['--install', BUILD, '--prefix', prefix]);
  assert.equal(run(join(prefix, 'bin/invited'), ['--version']), run(join(BUILD, 'invited'), ['--version']));
  const unit = unitSettings(readFileSync(join(prefix, 'lib/systemd/system/invited.service'), 'utf8'));
  assert.deepEqual(unit.get('ExecStart'), [`${prefix}/bin/invited serve`]);
  assert.deepEqual(unit.get('EnvironmentFile'), [`-${prefix}/etc/default/invited`]);
  assert.ok(existsSync(join(prefix, 'etc/default/invited')));
  assert.ok(existsSync(join(prefix, 'share/doc/invited/README.md')));
});
