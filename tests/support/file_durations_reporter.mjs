// How long each test file of a pass ran.
//
// As a node --test reporter (--test-reporter=./tests/support/file_durations_reporter.mjs): after
// each top-level test, a line "SECONDS<TAB>FILE" with the time since the file was dequeued (it
// got its turn, before its `before` hooks). Written as it goes, since --test-force-exit ends
// the runner without waiting for a reporter's last words.
// As a script: `node tests/support/file_durations_reporter.mjs REPORT [N]` prints the N (10)
// slowest files of such a report, slowest first.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export default async function* fileDurations(source) {
  const firstSeen = new Map();
  for await (const event of source) {
    const file = event.data?.file;
    if (!file) continue;
    // Every file's tests are enqueued when the run starts; a file starts when it is dequeued.
    if (!firstSeen.has(file) && event.type !== 'test:enqueue') firstSeen.set(file, performance.now());
    if ((event.type === 'test:pass' || event.type === 'test:fail') && event.data.nesting === 0) {
      const seconds = (performance.now() - firstSeen.get(file)) / 1000;
      yield `${seconds.toFixed(1)}\t${file.replace(`${process.cwd()}/`, '')}\n`;
    }
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [report, n = '10'] = process.argv.slice(2);
  const longest = new Map();
  for (const line of readFileSync(report, 'utf8').split('\n')) {
    const [seconds, file] = line.split('\t');
    if (file) longest.set(file, Math.max(longest.get(file) ?? 0, Number(seconds)));
  }
  const rows = [...longest].sort((a, b) => b[1] - a[1]).slice(0, Number(n));
  for (const [file, seconds] of rows) console.log(`${seconds.toFixed(1).padStart(7)} s  ${file}`);
}
