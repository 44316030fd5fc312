// A real SMTP server for the black-box tests (tests/support/smtp_sink.py on Debian's
// python3-aiosmtpd), started and stopped from Node, and a MIME reader for what it receives.
//
//   const sink = await startSmtpSink();            // kernel-chosen port
//   const sink = await startSmtpSink({ port });    // a given port (e.g. one invited already uses)
//   const sink = await startSmtpSink({ host });    // another address of this machine ('::1', ...)
//   sink.url                                       // smtp://127.0.0.1:PORT for --smtp-url
//   sink.mailCommands()                            // every MAIL FROM the sink was sent
//   await sink.waitForMessages(2)                  // polls the folder with a deadline (MAIL_TIMEOUT_MS), no sleeps
//   const held = await startSmtpSink({ hold: true }) // stalls after DATA until held.release()
//   sink.arrivals(), sink.deliveriesByMessageId()  // what reached DATA; what was accepted, per id
//   const mail = await parseMail(message.raw)      // mailparser + the MIME tree (mailsplit)
//   await sink.stop()                              // SIGTERM, waits, returns the exit code
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import { simpleParser } from 'mailparser';
import { Splitter } from '@zone-eu/mailsplit';
import { makeTempDir, freePort } from './service.mjs';
import { MAIL_TIMEOUT_MS, waitFor } from './assertions.mjs';

// Debian's interpreter: python3-aiosmtpd belongs to it, not to whatever `python3` is first on PATH.
export const SINK_PYTHON = process.env.INVITED_SINK_PYTHON ?? '/usr/bin/python3';
const SINK_SCRIPT = new URL('./smtp_sink.py', import.meta.url).pathname;

// freePort() lives beside startService(), which needs it too; tests import it from either module.
export { freePort };

export class SmtpSink {
  constructor(child, host, port, dir, stderr, holdFile) {
    this.child = child;
    this.port = port;
    this.dir = dir;
    this.url = host.includes(':') ? `smtp://[${host}]:${port}` : `smtp://${host}:${port}`;
    this.stderr = stderr;
    this.holdFile = holdFile;
    this.exited = once(child, 'exit');
  }

  // A sink started with `hold: true` answers DATA only from now on (the held message and every
  // later one are then stored and accepted).
  release() {
    if (!this.holdFile) throw new Error('this sink was not started with hold: true');
    writeFileSync(this.holdFile, '');
  }

  // Every MAIL FROM command received (a client that sends one is about to send a message), oldest
  // first: {k, mail_from, received_at}.
  mailCommands() {
    if (!existsSync(this.dir)) return [];
    return readdirSync(this.dir)
      .filter((name) => /^m\d+\.json$/.test(name))
      .map((name) => JSON.parse(readFileSync(join(this.dir, name), 'utf8')))
      .sort((a, b) => a.k - b.k);
  }

  // Every message that reached the end of DATA, accepted or not, oldest first:
  // {k, message_id, raw (Buffer)}.
  arrivals() {
    if (!existsSync(this.dir)) return [];
    return readdirSync(this.dir)
      .filter((name) => /^a\d+\.json$/.test(name))
      .map((name) => JSON.parse(readFileSync(join(this.dir, name), 'utf8')))
      .sort((a, b) => a.k - b.k)
      .map((arrival) => ({ ...arrival, raw: readFileSync(join(this.dir, `a${arrival.k}.eml`)) }));
  }

  // Waits until at least `count` messages reached the end of DATA; returns the arrivals.
  async waitForArrivals(count, { timeoutMs = MAIL_TIMEOUT_MS } = {}) {
    await waitFor(() => this.arrivals().length >= count, {
      timeoutMs,
      intervalMs: 20,
      what: `${count} message(s) to reach the end of DATA (have ${this.arrivals().length})`,
    });
    return this.arrivals();
  }

  // How many times each Message-ID (as written, with its angle brackets) was accepted.
  deliveriesByMessageId() {
    const counts = new Map();
    for (const message of this.messages()) {
      const id = rawHeaderLines(message.raw).find((h) => h.name === 'message-id')?.value;
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    return counts;
  }

  // Every received message, oldest first: {n, raw (Buffer), envelope {mail_from, rcpt_tos, ...}}.
  messages() {
    if (!existsSync(this.dir)) return [];
    return readdirSync(this.dir)
      .filter((name) => /^\d+\.eml$/.test(name))
      .map((name) => Number.parseInt(name, 10))
      .sort((a, b) => a - b)
      .map((n) => ({
        n,
        raw: readFileSync(join(this.dir, `${n}.eml`)),
        envelope: JSON.parse(readFileSync(join(this.dir, `${n}.json`), 'utf8')),
      }));
  }

  count() {
    if (!existsSync(this.dir)) return 0;
    return readdirSync(this.dir).filter((name) => /^\d+\.eml$/.test(name)).length;
  }

  // Waits (polling every 20 ms, up to timeoutMs) until at least `count` messages arrived.
  async waitForMessages(count, { timeoutMs = MAIL_TIMEOUT_MS } = {}) {
    await waitFor(() => this.count() >= count, {
      timeoutMs,
      intervalMs: 20,
      what: `${count} message(s) at the SMTP sink (have ${this.count()})`,
    });
    return this.messages();
  }

  // Waits until a message whose envelope names `address` as a recipient arrived; returns it.
  async waitForMessageTo(address, { timeoutMs = MAIL_TIMEOUT_MS } = {}) {
    const wanted = address.toLowerCase();
    const find = () => this.messages().find((m) => m.envelope.rcpt_tos.some((r) => r.toLowerCase() === wanted));
    return waitFor(find, { timeoutMs, intervalMs: 20, what: `a message to ${address} at the SMTP sink` });
  }

  messagesTo(address) {
    const wanted = address.toLowerCase();
    return this.messages().filter((m) => m.envelope.rcpt_tos.some((r) => r.toLowerCase() === wanted));
  }

  // SIGTERM and wait; returns the exit code (the sink exits 0 on SIGTERM).
  async stop(signal = 'SIGTERM') {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.child.exitCode;
    this.child.kill(signal);
    const [code] = await this.exited;
    return code;
  }
}

// Starts the sink on `host`:`port` (default 127.0.0.1; port 0: a free one) writing into `dir` (a
// fresh temporary folder by default). `rejectFirst`: answer the first N DATA commands with a transient 451.
// `hold`: stall after DATA (no reply, nothing stored) until sink.release(). `delayMs`: answer
// each DATA that much later.
export async function startSmtpSink({ host = '127.0.0.1', port = 0, dir = makeTempDir('smtp-sink-'), rejectFirst = 0, hold = false, delayMs = 0 } = {}) {
  const args = [SINK_SCRIPT, '--host', host, '--port', String(port), '--dir', dir];
  if (rejectFirst) args.push('--reject-first', String(rejectFirst));
  const holdFile = hold ? join(makeTempDir('smtp-hold-'), 'release') : undefined;
  if (holdFile) args.push('--hold-until', holdFile);
  if (delayMs) args.push('--delay-ms', String(delayMs));
  const child = spawn(SINK_PYTHON, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const stderr = [];
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => stderr.push(chunk));
  const chosen = await new Promise((resolve, reject) => {
    let buffered = '';
    const fail = (why) => {
      clearTimeout(timer);
      reject(new Error(`SMTP sink ${why}:\n${stderr.join('')}`));
    };
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      fail('did not start within 10 s');
    }, 10000);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      buffered += chunk;
      const newline = buffered.indexOf('\n');
      if (newline < 0) return;
      try {
        const { port: listening } = JSON.parse(buffered.slice(0, newline));
        clearTimeout(timer);
        resolve(listening);
      } catch (error) {
        fail(`printed something unexpected: ${buffered} (${error.message})`);
      }
    });
    child.on('exit', (code) => fail(`exited with ${code} before listening`));
  });
  return new SmtpSink(child, host, chosen, dir, stderr, holdFile);
}

// The MIME tree of a message: one entry per node, depth-first, with its content type, multipart
// subtype, transfer encoding, charset and depth (0 for the message itself).
export function mimeTree(raw) {
  return new Promise((resolve, reject) => {
    const splitter = new Splitter();
    const nodes = [];
    const depths = new Map();
    splitter.on('data', (data) => {
      if (data.type !== 'node') return;
      const depth = data.parentNode ? depths.get(data.parentNode) + 1 : 0;
      depths.set(data, depth);
      nodes.push({
        depth,
        contentType: data.contentType,
        multipart: data.multipart || null,
        encoding: data.encoding || null,
        charset: data.charset || null,
      });
    });
    splitter.on('end', () => resolve(nodes));
    splitter.on('error', reject);
    splitter.end(Buffer.isBuffer(raw) ? raw : Buffer.from(raw, 'utf8'));
  });
}

// The header block as sent (before any decoding): unfolded lines {name, value}, in order.
export function rawHeaderLines(raw) {
  const text = (Buffer.isBuffer(raw) ? raw : Buffer.from(raw, 'utf8')).toString('latin1');
  const end = text.search(/\r?\n\r?\n/);
  const block = end < 0 ? text : text.slice(0, end);
  return block
    .replace(/\r?\n[ \t]+/g, ' ')
    .split(/\r?\n/)
    .map((line) => {
      const colon = line.indexOf(':');
      return { name: line.slice(0, colon).trim().toLowerCase(), value: line.slice(colon + 1).trim(), line };
    });
}

// A received message decoded by a real MIME parser (mailparser) plus its MIME tree and raw
// header lines. Fields: subject, from/to ({value:[{address,name}], text}), date (Date),
// messageId, text, html, headers (Map of decoded headers), tree, headerLines, raw (string).
export async function parseMail(raw) {
  const buffer = Buffer.isBuffer(raw) ? raw : Buffer.from(raw, 'utf8');
  const parsed = await simpleParser(buffer, { skipHtmlToText: true, skipTextToHtml: true, skipTextLinks: true });
  return {
    subject: parsed.subject,
    from: parsed.from,
    to: parsed.to,
    cc: parsed.cc,
    bcc: parsed.bcc,
    date: parsed.date,
    messageId: parsed.messageId,
    text: parsed.text ?? '',
    html: typeof parsed.html === 'string' ? parsed.html : '',
    headers: parsed.headers,
    attachments: parsed.attachments,
    tree: await mimeTree(buffer),
    headerLines: rawHeaderLines(buffer),
    raw: buffer.toString('utf8'),
  };
}

// The accept link of a decoded invitation email (from its text part).
export function acceptLink(mail) {
  const match = /(https?:\/\/\S+\/invites\/accept\?token=[A-Za-z0-9_\-]+)/.exec(mail.text);
  if (!match) throw new Error(`no accept link in:\n${mail.text}`);
  return match[1];
}

export function tokenOf(link) {
  return new URL(link).searchParams.get('token');
}

// The counters of GET /metrics, as {name: number} (series without labels only).
export async function metrics(service) {
  const response = await service.fetch('/metrics');
  const text = await response.text();
  const values = {};
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\s+(\S+)$/.exec(line);
    if (match) values[match[1]] = Number(match[2]);
  }
  return values;
}
