/**
 * Finds, runs, prints and saves benchmarks. Ours are imported; a colleague's bench file that does not export
 * the harness interface is run as a child process (`node --import tsx <file> [--full]`) and its output shown.
 */
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  asBenchmark,
  type Benchmark,
  formatGoals,
  formatTable,
  machineInfo,
  type Profile,
  type Result,
  type SavedResult,
  saveResult,
} from './harness.js';

/** Every benchmark the runner knows, in run order; colleagues' files are optional. */
export const BENCHMARK_FILES: readonly { name: string; file: string; owner: 'bench' | 'colleague' }[] = [
  { name: 'decode', file: 'decode.ts', owner: 'bench' },
  { name: 'bus', file: 'bus.ts', owner: 'colleague' },
  // Needs Redis (TEST_REDIS_URL, default redis://127.0.0.1:6379).
  { name: 'relay', file: 'relay.ts', owner: 'colleague' },
  { name: 'fanout', file: 'fanout.ts', owner: 'bench' },
  { name: 'subscribe', file: 'subscribe.ts', owner: 'bench' },
  { name: 'memory', file: 'memory.ts', owner: 'bench' },
  { name: 'persistence', file: 'persistence.ts', owner: 'colleague' },
  { name: 'history', file: 'history.ts', owner: 'colleague' },
];

export const BENCH_DIR = fileURLToPath(new URL('..', import.meta.url));
export const RESULTS_DIR = fileURLToPath(new URL('../results', import.meta.url));

export interface RunnerOptions {
  readonly names: readonly string[];
  readonly profile: Profile;
  /** Where <name>.json goes. @default bench/results */
  readonly outDir?: string;
  /** Output sink (the CLI passes console.log). */
  readonly print: (text: string) => void;
  /** Per child-process benchmark, the longest it may run. @default 20 min (full) / 5 min */
  readonly childTimeoutMs?: number;
}

export interface RunnerOutcome {
  readonly name: string;
  readonly ok: boolean;
  readonly file?: string;
  readonly error?: string;
  readonly result?: SavedResult;
}

/** True when the file's source exports something that could be a harness benchmark (checked before import,
 * so a script-style file is never imported and executed as a side effect). */
async function looksLikeModule(path: string): Promise<boolean> {
  const source = await readFile(path, 'utf8');
  return /export\s+(const|default|function|\{)/.test(source) && /\brun\s*[(:]/.test(source);
}

/** Runs `file` as its own process and captures its output as the result's notes. */
function runAsChild(path: string, profile: Profile, timeoutMs: number, print: (text: string) => void): Promise<Result> {
  return new Promise((resolve, reject) => {
    const args = ['--import', 'tsx', path, ...(profile === 'full' ? ['--full'] : [])];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: string[] = [];
    const onData = (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line) continue;
        lines.push(line);
        print(`    ${line}`);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve({ rows: [], notes: [`ran as a child process; its output:`, ...lines.slice(-200)] });
      else reject(new Error(`${path} exited with ${code ?? signal}`));
    });
  });
}

export async function loadBenchmark(name: string): Promise<{ benchmark: Benchmark | null; path: string | null }> {
  const entry = BENCHMARK_FILES.find((b) => b.name === name);
  if (!entry) return { benchmark: null, path: null };
  const path = `${BENCH_DIR}${entry.file}`;
  if (!existsSync(path)) return { benchmark: null, path: null };
  if (!(await looksLikeModule(path))) return { benchmark: null, path };
  return { benchmark: asBenchmark(await import(pathToFileURL(path).href)), path };
}

export async function runBenchmarks(options: RunnerOptions): Promise<RunnerOutcome[]> {
  const { names, profile, outDir = RESULTS_DIR, print } = options;
  const childTimeoutMs = options.childTimeoutMs ?? (profile === 'full' ? 20 * 60_000 : 5 * 60_000);
  const machine = machineInfo();
  print(
    `tickgraph benchmarks — profile ${profile} — ${machine.cores} cores (${machine.cpuModel}), ${machine.memoryMiB} MiB, Node ${machine.node}`,
  );
  const outcomes: RunnerOutcome[] = [];
  for (const name of names) {
    print(`\n== ${name} ==`);
    const started = performance.now();
    const startedAt = Date.now();
    const loadAtStart = loadavg()[0]!;
    try {
      const { benchmark, path } = await loadBenchmark(name);
      if (!benchmark && !path) {
        print('  (not present yet — skipped)');
        outcomes.push({ name, ok: false, error: 'not present' });
        continue;
      }
      if (benchmark?.description) print(`  ${benchmark.description}`);
      const log = (message: string) => print(`  · ${message}`);
      const result = benchmark
        ? await benchmark.run({ profile, log })
        : await runAsChild(path!, profile, childTimeoutMs, print);
      const saved: SavedResult = {
        name,
        date: new Date().toISOString(),
        machine,
        profile,
        durationMs: Math.round(performance.now() - started),
        loadAverage: { start: loadAtStart, end: loadavg()[0]! },
        ...result,
      };
      if (result.rows.length > 0) print(`\n${formatTable(result)}`);
      if (result.goals?.length) print(`\n${formatGoals(result.goals)}`);
      if (benchmark && result.notes?.length) print(result.notes.map((note) => `  note: ${note}`).join('\n'));
      // A script-style benchmark may write its own <name>.json; keep it rather than overwrite it with its output.
      const ownFile = join(outDir, `${name}.json`);
      const wroteItsOwn = !benchmark && existsSync(ownFile) && statSync(ownFile).mtimeMs >= startedAt;
      const file = wroteItsOwn ? ownFile : await saveResult(outDir, saved);
      print(
        `  → ${file} (${(saved.durationMs / 1000).toFixed(1)} s; load average ${saved.loadAverage!.start.toFixed(1)} → ${saved.loadAverage!.end.toFixed(1)} on ${machine.cores} cores)`,
      );
      outcomes.push({ name, ok: true, file, result: saved });
    } catch (error) {
      const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
      print(`  FAILED: ${message}`);
      outcomes.push({ name, ok: false, error: message });
    }
  }
  return outcomes;
}
