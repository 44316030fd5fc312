// The binary's own command line (README, "The binary"): `--version` names the version and the git
// commit it was built from, `/metrics` carries the same as `invited_build_info`, and every
// subcommand's --help lists the settings, which every subcommand reads (declared once, on the
// top-level command).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { BIN, startService } from '../support/service.mjs';

const ROOT = new URL('../..', import.meta.url).pathname;
const PROJECT_VERSION = /project\(invited VERSION (\d+\.\d+\.\d+)/.exec(readFileSync(`${ROOT}/CMakeLists.txt`, 'utf8'))[1];

const invited = (...args) => {
  const result = spawnSync(BIN, args, { encoding: 'utf8', env: { ...process.env, INVITED_LOG_LEVEL: 'warn' } });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
};

let service;
before(async () => {
  service = await startService();
});
after(async () => {
  assert.equal(await service.stop(), 0);
});

test('invited --version prints the version of CMakeLists.txt and the commit, and /metrics reports both as invited_build_info', async () => {
  const version = invited('--version');
  assert.equal(version.status, 0, version.stderr);
  const match = /^invited (\S+) \(commit (\S+)\)\n$/.exec(version.stdout);
  assert.ok(match, version.stdout);
  assert.equal(match[1], PROJECT_VERSION);
  assert.match(match[2], /^([0-9a-f]{12}(-dirty)?|unknown)$/);

  const metrics = await (await service.fetch('/metrics')).text();
  assert.match(metrics, /^# TYPE invited_build_info gauge$/m);
  const lines = metrics.split('\n').filter((line) => line.startsWith('invited_build_info'));
  assert.deepEqual(lines, [`invited_build_info{version="${match[1]}",commit="${match[2]}"} 1`]);
});

test("every subcommand's --help lists its own flags and every setting", () => {
  for (const [args, own] of [
    [['serve'], []],
    [['migrate'], []],
    [['admin', 'create-key'], ['--org', '--website']],
    [['admin', 'list-keys'], ['--org', '--json']],
    [['admin', 'revoke-key'], ['--key']],
    [['admin', 'list-orgs'], ['--json']],
  ]) {
    const help = invited(...args, '--help');
    assert.equal(help.status, 0, help.stderr);
    for (const flag of [...own, '--database', '--listen', '--mail-dir', '--smtp-url', '--key-cache-ms', '--log-level']) {
      assert.match(help.stdout, new RegExp(`^\\s+${flag}\\b`, 'm'), `${args.join(' ')} --help lists ${flag}:\n${help.stdout}`);
    }
    assert.match(help.stdout, /\(Env:INVITED_DATABASE\)/, 'with its environment variable');
    assert.match(help.stdout, /sqlite:\/\/\.\/data\/invited\.db/, 'and its default');
  }
});

test('a setting after the subcommand and one before it both still apply', () => {
  const after = invited('migrate', '--database', 'bogus://x');
  const before = invited('--database', 'bogus://x', 'migrate');
  for (const result of [after, before]) {
    assert.notEqual(result.status, 0);
    assert.match(result.stderr, /--database/);
  }
});
