// A greedy client for the connection-limit tests, run as its own process (with its open-file
// limit raised by the caller's `ulimit -n`) so that it can hold thousands of sockets:
//   node connection_holder.mjs PORT COUNT MODE [LOCAL_ADDRESS] [HEADER_LINE]
// MODE `idle`: each connection sends one keep-alive GET /healthz and, once answered 200, stays open
// and silent (an idle keep-alive connection). MODE `silent`: each connection only connects and
// never sends a byte. HEADER_LINE (e.g. `X-Forwarded-For: 10.0.0.7`) is added to each request.
// Prints one JSON line once every connection is settled (answered 200, or closed) — {"ok",
// "refused", "refusedWithRetryAfter", "closed", "open", "ms" (from the first connection on)} — then holds
// its open connections until stdin closes or it is killed.
import net from 'node:net';

const [port, count, mode, localAddress = '127.0.0.1', headerLine] = process.argv.slice(2);
const total = Number(count);
const tally = { ok: 0, refused: 0, refusedWithRetryAfter: 0, other: 0, closed: 0, failed: 0 };
const sockets = [];

function openOne() {
  return new Promise((resolve) => {
    const socket = net.connect({ port: Number(port), host: '127.0.0.1', localAddress });
    let received = '';
    let settled = false;
    const settle = () => {
      if (!settled) {
        settled = true;
        resolve();
      }
    };
    socket.on('error', () => {});
    socket.on('close', () => {
      tally.closed += 1;
      settle();
    });
    socket.on('connect', () => {
      sockets.push(socket);
      if (mode === 'silent') return settle();
      const extra = headerLine ? `${headerLine}\r\n` : '';
      socket.write(`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n${extra}\r\n`);
    });
    socket.on('data', (chunk) => {
      received += chunk.toString('latin1');
      const end = received.indexOf('\r\n\r\n');
      if (end < 0 || settled) return;
      const head = received.slice(0, end);
      const length = Number(/content-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
      if (received.length < end + 4 + length) return;
      const status = Number(head.split(' ')[1]);
      if (status === 200) tally.ok += 1;
      else if (status === 503) {
        tally.refused += 1;
        if (/\r\nretry-after:\s*\d+/i.test(head)) tally.refusedWithRetryAfter += 1;
        settled = true; // a refusal settles once the service has closed the connection
        socket.on('close', resolve);
        return;
      } else tally.other += 1;
      settle();
    });
  });
}

// Connections go out in batches, so that neither the listen backlog nor the service's queue of
// requests grows long (on a busy machine a long queue would let the service's own header timeout
// close connections still waiting to be read).
const batchSize = mode === 'silent' ? 500 : 100;
const started = performance.now();
for (let first = 0; first < total; first += batchSize) {
  const batch = [];
  for (let i = first; i < Math.min(total, first + batchSize); i++) batch.push(openOne());
  await Promise.all(batch);
}
const open = sockets.filter((s) => !s.destroyed && s.readyState === 'open').length;
process.stdout.write(`${JSON.stringify({ ...tally, open, ms: Math.round(performance.now() - started) })}\n`);
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
