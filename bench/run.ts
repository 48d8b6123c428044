/**
 * `npm run bench`                       quick profile of every benchmark (a few minutes)
 * `npm run bench -- --full`             the whole matrix
 * `npm run bench -- decode fanout`      only the named ones (combine with --full)
 * `npm run bench -- --out /tmp/results` write the JSON elsewhere (default bench/results/)
 * `npm run bench -- --markdown`         print the saved results as markdown tables (for BENCHMARKS.md)
 */

import type { Profile } from './lib/harness.js';
import { markdownReport } from './lib/report.js';
import { BENCHMARK_FILES, RESULTS_DIR, runBenchmarks } from './lib/runner.js';

const argv = process.argv.slice(2);
const known = new Set(BENCHMARK_FILES.map((b) => b.name));
let profile: Profile = 'quick';
let outDir = RESULTS_DIR;
let markdown = false;
const names: string[] = [];
for (let i = 0; i < argv.length; i++) {
  const arg = argv[i]!;
  if (arg === '--full') profile = 'full';
  else if (arg === '--quick') profile = 'quick';
  else if (arg === '--smoke') profile = 'smoke';
  else if (arg === '--out') outDir = argv[++i] ?? outDir;
  else if (arg === '--markdown') markdown = true;
  else if (arg === '--help' || arg === '-h') {
    console.log(`usage: npm run bench -- [--full|--smoke] [--out dir] [--markdown] [${[...known].join('|')} ...]`);
    process.exit(0);
  } else if (known.has(arg)) names.push(arg);
  else {
    console.error(`unknown benchmark or option: ${arg} (known: ${[...known].join(', ')})`);
    process.exit(2);
  }
}

if (markdown) {
  console.log(await markdownReport(outDir, names.length > 0 ? names : [...known]));
  process.exit(0);
}

const outcomes = await runBenchmarks({
  names: names.length > 0 ? names : [...known],
  profile,
  outDir,
  print: (text) => console.log(text),
});
const failed = outcomes.filter((o) => !o.ok && o.error !== 'not present');
console.log(
  `\n${outcomes.filter((o) => o.ok).length} ran, ${failed.length} failed, ${outcomes.length - outcomes.filter((o) => o.ok).length - failed.length} not present`,
);
process.exit(failed.length > 0 ? 1 : 0);
