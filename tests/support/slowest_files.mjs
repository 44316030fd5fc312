// Prints the slowest test files of a black-box pass from its TAP report (node --test
// --test-reporter=tap): `node tests/support/slowest_files.mjs REPORT.tap [N]`.
import { readFileSync } from 'node:fs';

const [report, n = '10'] = process.argv.slice(2);
const lines = readFileSync(report, 'utf8').split('\n');
const files = [];
let current;
for (const line of lines) {
  // A file is a top-level subtest, named by its path; its duration follows at the top level.
  const subtest = /^# Subtest: (.*\.test\.mjs)$/.exec(line);
  if (subtest) current = subtest[1];
  const duration = /^ {2}duration_ms: ([\d.]+)$/.exec(line);
  if (duration && current) {
    files.push({ file: current, seconds: Number(duration[1]) / 1000 });
    current = undefined;
  }
}
files.sort((a, b) => b.seconds - a.seconds);
for (const { file, seconds } of files.slice(0, Number(n))) {
  console.log(`${seconds.toFixed(1).padStart(7)} s  ${file.replace(`${process.cwd()}/`, '')}`);
}
