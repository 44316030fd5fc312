// Bytes that are not UTF-8 in a request path are never echoed raw: every response body and every
// log line stays valid UTF-8 JSON. The service's stderr goes to a file here, so the test reads
// the very bytes it wrote.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { openSync, readFileSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import net from 'node:net';
import { BIN, envFor, makeTempDir } from '../support/service.mjs';
import { waitFor } from '../support/assertions.mjs';

const strict = new TextDecoder('utf-8', { fatal: true });

function logLines(path) {
  const text = strict.decode(readFileSync(path)); // throws on invalid UTF-8
  return text.split('\n').filter((l) => l !== '');
}

function exchange(port, bytes) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks = [];
    socket.on('data', (d) => chunks.push(d));
    socket.on('error', () => {});
    socket.on('close', () => resolve(Buffer.concat(chunks)));
    socket.write(bytes);
  });
}

test('a path with bytes ff fe: the 404 body and every log line are valid UTF-8 JSON', async () => {
  const dir = makeTempDir();
  const logPath = join(dir, 'stderr.log');
  const fd = openSync(logPath, 'w');
  const child = spawn(BIN, ['serve', '--listen', '127.0.0.1:0'], {
    env: { ...process.env, ...envFor(dir) },
    stdio: ['ignore', 'ignore', fd],
  });
  closeSync(fd);
  try {
    const listening = await waitFor(() => logLines(logPath).map((l) => JSON.parse(l)).find((e) => e.msg === 'listening'), { what: 'listening' });
    const targets = [
      Buffer.from([...Buffer.from('/api/v1/'), 0xff, 0xfe]),
      Buffer.from([...Buffer.from('/invites/'), 0xc3, 0x28, 0xed, 0xa0, 0x80]),
      Buffer.from([...Buffer.from('/api/v1/websites/'), 0xe2, 0x82]),
    ];
    for (const target of targets) {
      for (const method of ['GET', 'PUT']) {
        const request = Buffer.concat([Buffer.from(`${method} `), target, Buffer.from(' HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')]);
        const answer = await exchange(listening.port, request);
        const end = answer.indexOf('\r\n\r\n');
        assert.ok(end > 0, `an answer to ${method} ${target.toString('hex')}`);
        const status = Number(answer.subarray(0, end).toString('latin1').split(' ')[1]);
        assert.ok(status === 404 || status === 405, `${method} ${target.toString('hex')}: ${status}`);
        const body = strict.decode(answer.subarray(end + 4)); // throws on invalid UTF-8
        if (!target.toString('latin1').startsWith('/invites/')) {
          assert.equal(JSON.parse(body).code, status === 404 ? 'not_found' : 'method_not_allowed');
        }
      }
    }
    const requests = await waitFor(() => {
      const lines = logLines(logPath).filter((l) => l.includes('"msg":"request"'));
      return lines.length >= targets.length * 2 ? lines : undefined;
    }, { what: 'the access-log lines' });
    for (const line of requests) {
      const entry = JSON.parse(line);
      assert.ok(entry.path.includes('\uFFFD'), `the bad bytes show as U+FFFD: ${entry.path}`);
    }
  } finally {
    child.kill('SIGTERM');
    await once(child, 'exit');
  }
  for (const line of logLines(logPath)) JSON.parse(line);
});
