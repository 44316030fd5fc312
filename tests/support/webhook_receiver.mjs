// A real HTTP receiver for webhook tests: node:http on 127.0.0.1, recording every request it
// gets (headers, the raw body as received, the path) and answering what the test says for that
// path (default 200). The service reaches it only with --webhook-allow-insecure.
import { createServer } from 'node:http';
import { createHmac } from 'node:crypto';

export async function startReceiver() {
  const requests = [];
  // delayMs: answer each request that much later; onAnswered(entry): called once it is answered.
  const receiver = { delayMs: 0, onAnswered: null };
  const answers = new Map(); // path → array of statuses to answer in turn (the last repeats), or a function
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      const path = req.url;
      const entry = { path, method: req.method, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      requests.push(entry);
      const plan = answers.get(path);
      let status = 200;
      let headers = {};
      if (typeof plan === 'function') {
        ({ status, headers = {} } = plan(entry));
      } else if (Array.isArray(plan) && plan.length > 0) {
        status = plan.length > 1 ? plan.shift() : plan[0];
      }
      const respond = () => {
        res.writeHead(status, { 'content-type': 'text/plain', ...headers });
        res.end(status >= 200 && status < 300 ? 'ok' : `answer ${status} from the test receiver`);
        if (receiver.onAnswered) receiver.onAnswered(entry);
      };
      if (receiver.delayMs > 0) setTimeout(respond, receiver.delayMs);
      else respond();
    });
  });
  let connections = 0;
  server.on('connection', () => { connections += 1; });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  Object.assign(receiver, {
    port,
    url: (path) => `http://127.0.0.1:${port}${path}`,
    requests,
    connections: () => connections, // TCP connections accepted, whatever came over them
    to: (path) => requests.filter((r) => r.path === path),
    answer: (path, plan) => answers.set(path, plan),
    close: () => new Promise((resolve) => server.close(resolve)),
  });
  return receiver;
}

// The Standard Webhooks check, written here from the specification (not the service's code):
// the signed content is "<webhook-id>.<webhook-timestamp>.<body>", the key the base64-decoded
// part of the secret after "whsec_", each signature "v1,<base64 HMAC-SHA256>". Returns which of
// `secrets` signed the request (in the order of `secrets`).
export function signersOf(request, secrets) {
  const id = request.headers['webhook-id'];
  const timestamp = request.headers['webhook-timestamp'];
  const given = (request.headers['webhook-signature'] ?? '').split(' ');
  return secrets.filter((secret) => {
    const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
    const expected = 'v1,' + createHmac('sha256', key).update(`${id}.${timestamp}.${request.body}`).digest('base64');
    return given.includes(expected);
  });
}
