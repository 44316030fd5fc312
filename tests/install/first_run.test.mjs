// `make run`'s first minutes (scripts/run-demo, README "Quick start"): the banner's commands work
// as printed. The direct-mode curl adds a member; the email-mode curl writes a .eml into the
// folder the banner names, and the banner's grep prints an accept link that opens the
// invitation page. A second run prints an address of its own, so its direct-mode curl adds a
// member again instead of answering "already a member". Runs the Release binary of build/ (the
// one `make run` runs), on a folder and port of its own. Runs once, not per store.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, makeTempDir } from '../support/service.mjs';
import { waitFor } from '../support/assertions.mjs';

const ROOT = new URL('../..', import.meta.url).pathname;
const data = makeTempDir('invited-demo-');
let demo; // the running scripts/run-demo, if any
let firstDirect; // the direct-mode command of the first run's banner

after(async () => {
  if (demo) await stop(demo);
  rmSync(data, { recursive: true, force: true });
});

// Starts scripts/run-demo (stopping one still running from a failed test first) and waits for
// its whole banner; returns { child, banner, port }.
async function start() {
  if (demo) await stop(demo);
  const port = await freePort();
  const child = spawn(join(ROOT, 'scripts/run-demo'), [], {
    cwd: ROOT,
    env: { ...process.env, INVITED_LISTEN: `127.0.0.1:${port}`, INVITED_DEMO_DATA: data, INVITED_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let banner = '';
  let errors = '';
  child.stdout.setEncoding('utf8').on('data', (chunk) => (banner += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk) => (errors += chunk));
  let exited = false;
  child.on('exit', () => (exited = true));
  demo = child;
  await waitFor(() => banner.includes('Press Ctrl-C to stop.') || exited, { timeoutMs: 30000, what: 'the banner of scripts/run-demo' });
  assert.ok(!exited, `scripts/run-demo exited:\n${banner}\n${errors}`);
  return { child, banner, port };
}

// Stops it as Ctrl-C would (its trap stops the service and waits for it).
async function stop(child) {
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGINT');
    await once(child, 'exit');
  }
  demo = undefined;
}

// The banner's curl commands (each a `curl` line and its `\` continuations), by invite method.
function curls(banner) {
  const commands = {};
  for (const match of banner.matchAll(/^curl (?:[^\n]*\\\n)*[^\n]*/gm)) {
    const method = /"invite_method": "(\w+)"/.exec(match[0])?.[1];
    commands[method] = match[0];
  }
  return commands;
}

const sh = (command) => execFileSync('bash', ['-c', command], { cwd: ROOT, encoding: 'utf8' });

test("the banner's direct and email examples work as printed, and its grep prints the email's accept link", async () => {
  const { child, banner, port } = await start();
  const commands = curls(banner);
  assert.deepEqual(Object.keys(commands).sort(), ['direct', 'email'], banner);
  firstDirect = commands.direct;

  const direct = JSON.parse(sh(commands.direct));
  assert.equal(direct.success, true, JSON.stringify(direct));
  assert.ok(direct.results.every((r) => r.success), JSON.stringify(direct));

  const mailDir = join(data, 'mail');
  assert.ok(banner.includes(`emails in ${mailDir}`) && banner.includes(`.eml file in ${mailDir}/`), banner);
  const emailed = JSON.parse(sh(commands.email));
  assert.equal(emailed.success, true, JSON.stringify(emailed));
  await waitFor(() => existsSync(mailDir) && readdirSync(mailDir).some((n) => n.endsWith('.eml')), {
    timeoutMs: 20000,
    what: `the invitation's .eml in ${mailDir}`,
  });

  const grep = /^grep .*$/m.exec(banner)?.[0];
  assert.ok(grep, banner);
  const link = sh(grep).trim();
  assert.match(link, new RegExp(`^http://127\\.0\\.0\\.1:${port}/invites/accept\\?token=[A-Za-z0-9_-]{43,}$`));
  const page = await fetch(link);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /Demo Organization/);
  await stop(child);
});

test('a second run invites a new address, so its direct example adds a member again', async () => {
  if (!firstDirect) {
    const first = await start(); // the first test failed before it saw a banner
    firstDirect = curls(first.banner).direct;
    await stop(first.child);
  }
  const second = await start();
  const secondDirect = curls(second.banner).direct;
  const address = (command) => /"email": "([^"]+)"/.exec(command)[1];
  assert.notEqual(address(secondDirect), address(firstDirect));
  const answer = JSON.parse(sh(secondDirect));
  assert.equal(answer.success, true, JSON.stringify(answer));
  assert.ok(answer.results.every((r) => r.success), JSON.stringify(answer));
  await stop(second.child);
});
