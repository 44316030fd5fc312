// The services and SMTP sinks a test file starts, stopped in reverse order when the file ends,
// whatever happened (a failed test included).
//
//   const { start, sink } = peersOfThisFile();
//   const service = await start({ smtp: ... });   // startService with GENEROUS_LIMITS first
//   const smtp = await sink();                     // startSmtpSink
//
// `onEnd` runs after every peer has stopped (e.g. to remove an address the file added).
import { after } from 'node:test';
import { startService } from './service.mjs';
import { GENEROUS_LIMITS } from './assertions.mjs';
import { startSmtpSink } from './smtp.mjs';

export function peersOfThisFile({ onEnd } = {}) {
  const running = [];
  after(async () => {
    for (const peer of running.reverse()) await peer.stop();
    onEnd?.();
  });
  return {
    async start(options) {
      const service = await startService({ ...options, args: [...GENEROUS_LIMITS, ...(options.args ?? [])] });
      running.push(service);
      return service;
    },
    async sink(options) {
      const started = await startSmtpSink(options);
      running.push(started);
      return started;
    },
  };
}
