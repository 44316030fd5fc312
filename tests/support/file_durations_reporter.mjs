// How long each test file of a pass spent in its tests.
//
// As a node --test reporter (--test-reporter=./tests/support/file_durations_reporter.mjs): after
// each top-level test, a line "SECONDS<TAB>FILE" with that test's duration. Written as it goes,
// since --test-force-exit ends the runner without waiting for a reporter's last words. (Hooks,
// such as a `before` that starts the service, are not counted: the runner reports no duration
// for them, and with several files at once no wall-clock span of a file is reliable either.)
// As a script: `node tests/support/file_durations_reporter.mjs REPORT [N]` prints the N (10)
// files whose tests took longest in such a report, with their slowest test.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export default async function* fileDurations(source) {
  for await (const event of source) {
    const { file, nesting, details, name } = event.data ?? {};
    if ((event.type === 'test:pass' || event.type === 'test:fail') && nesting === 0 && file && details) {
      const seconds = (details.duration_ms ?? 0) / 1000;
      yield `${seconds.toFixed(1)}\t${file.replace(`${process.cwd()}/`, '')}\t${name}\n`;
    }
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [report, n = '10'] = process.argv.slice(2);
  const files = new Map();
  for (const line of readFileSync(report, 'utf8').split('\n')) {
    const [seconds, file, name] = line.split('\t');
    if (!file || file.endsWith('.test.mjs') === false) continue;
    const entry = files.get(file) ?? { total: 0, slowest: 0, slowestName: '' };
    entry.total += Number(seconds);
    if (Number(seconds) > entry.slowest) Object.assign(entry, { slowest: Number(seconds), slowestName: name });
    files.set(file, entry);
  }
  const rows = [...files].sort((a, b) => b[1].total - a[1].total).slice(0, Number(n));
  for (const [file, { total, slowest, slowestName }] of rows) {
    console.log(`${total.toFixed(1).padStart(7)} s  ${file}  (slowest: ${slowest.toFixed(1)} s ${slowestName.slice(0, 70)})`);
  }
}
