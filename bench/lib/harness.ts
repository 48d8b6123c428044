/**
 * The benchmark harness vocabulary: what a benchmark module exports, what it returns, and how a result is
 * printed and saved. Benchmarks are plain modules so `bench/run.ts` can import any of them (ours and the
 * colleagues' bench/persistence.ts, bench/history.ts, bench/bus.ts) and the smoke test can run them small.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';

/**
 * How much work a run does. `quick` fits the whole suite in a few minutes; `full` runs the whole matrix;
 * `smoke` is a tiny size for the integration test (numbers are meaningless, only the shape is checked).
 */
export type Profile = 'smoke' | 'quick' | 'full';

export interface RunOptions {
  readonly profile: Profile;
  /** Progress lines (the runner prints them indented under the benchmark's name). */
  readonly log: (message: string) => void;
}

/** One table row: column name → figure. `null` means "not measured" (printed as an em dash). */
export type Row = Record<string, string | number | boolean | null>;

/** A goal from the issue and whether this run met it (`null` = could not be measured). */
export interface Goal {
  readonly description: string;
  readonly met: boolean | null;
  readonly detail: string;
}

export interface Result {
  /** Rows printed as one table; keep figure, baseline and ratio columns side by side. */
  readonly rows: readonly Row[];
  /** Column order; defaults to the keys of the first row, then any others in first-seen order. */
  readonly columns?: readonly string[];
  readonly goals?: readonly Goal[];
  /** Free-form remarks: what was measured, what was skipped and why. */
  readonly notes?: readonly string[];
}

export interface Benchmark {
  readonly name: string;
  /** One line on what it measures (printed above the table). */
  readonly description?: string;
  run(options: RunOptions): Promise<Result>;
}

export interface MachineInfo {
  readonly cores: number;
  readonly memoryMiB: number;
  readonly node: string;
  readonly cpuModel: string;
  readonly platform: string;
}

export function machineInfo(): MachineInfo {
  const cpuList = cpus();
  return {
    cores: cpuList.length,
    memoryMiB: Math.round(totalmem() / 1024 / 1024),
    node: process.version,
    cpuModel: cpuList[0]?.model.trim() ?? 'unknown',
    platform: `${process.platform} ${process.arch}`,
  };
}

export interface SavedResult extends Result {
  readonly name: string;
  readonly date: string;
  readonly machine: MachineInfo;
  readonly profile: Profile;
  readonly durationMs: number;
  /** 1-minute load average when the benchmark started and ended: other work on the machine skews figures. */
  readonly loadAverage?: { readonly start: number; readonly end: number };
}

/** Writes `<dir>/<name>.json` and returns its path. */
export async function saveResult(dir: string, saved: SavedResult): Promise<string> {
  await mkdir(dir, { recursive: true });
  const file = join(dir, `${saved.name}.json`);
  await writeFile(file, `${JSON.stringify(saved, null, 2)}\n`);
  return file;
}

/** Ratio `a / b`, or null when either side was not measured or b is 0. */
export function ratio(a: number | null | undefined, b: number | null | undefined): number | null {
  if (a == null || b == null || b === 0 || !Number.isFinite(a) || !Number.isFinite(b)) return null;
  return a / b;
}

/** Formats a figure for a table: thousands separators for big numbers, 3 significant digits for small ones. */
export function formatValue(value: Row[string]): string {
  if (value === null || value === undefined) return '—';
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (typeof value === 'string') return value;
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  if (Number.isInteger(value) || abs >= 1000) return Math.round(value).toLocaleString('en-US');
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  if (abs === 0) return '0';
  return value.toPrecision(3);
}

function columnsOf(result: Result): string[] {
  if (result.columns) return [...result.columns];
  const seen = new Set<string>();
  for (const row of result.rows) for (const key of Object.keys(row)) seen.add(key);
  return [...seen];
}

/** Aligned plain-text table: text columns left-aligned, numbers right-aligned. */
export function formatTable(result: Result): string {
  const columns = columnsOf(result);
  if (columns.length === 0) return '(no rows)';
  const cells = result.rows.map((row) => columns.map((column) => formatValue(row[column] ?? null)));
  const numeric = columns.map((column) => result.rows.every((row) => typeof (row[column] ?? 0) === 'number'));
  const widths = columns.map((column, i) => Math.max(column.length, ...cells.map((line) => line[i]!.length)));
  const pad = (text: string, i: number) => (numeric[i] ? text.padStart(widths[i]!) : text.padEnd(widths[i]!));
  const lines = [
    columns.map(pad).join('  '),
    widths.map((width) => '-'.repeat(width)).join('  '),
    ...cells.map((line) => line.map(pad).join('  ')),
  ];
  return lines.map((line) => line.trimEnd()).join('\n');
}

/** The same table as GitHub markdown (for BENCHMARKS.md). */
export function formatMarkdownTable(result: Result): string {
  const columns = columnsOf(result);
  const numeric = columns.map((column) => result.rows.every((row) => typeof (row[column] ?? 0) === 'number'));
  const head = `| ${columns.join(' | ')} |`;
  const rule = `|${numeric.map((n) => (n ? '---:' : '---')).join('|')}|`;
  const body = result.rows.map((row) => `| ${columns.map((c) => formatValue(row[c] ?? null)).join(' | ')} |`);
  return [head, rule, ...body].join('\n');
}

export function formatGoals(goals: readonly Goal[]): string {
  return goals
    .map((goal) => {
      const mark = goal.met === null ? 'NOT MEASURED' : goal.met ? 'MET' : 'MISSED';
      return `  [${mark}] ${goal.description} — ${goal.detail}`;
    })
    .join('\n');
}

/** Narrows an imported module to a Benchmark, or null when it does not export the harness interface. */
export function asBenchmark(module: unknown): Benchmark | null {
  const candidates = [module, (module as { default?: unknown } | null)?.default];
  for (const value of Object.values((module as Record<string, unknown>) ?? {})) candidates.push(value);
  for (const candidate of candidates) {
    const c = candidate as Partial<Benchmark> | null | undefined;
    if (c && typeof c === 'object' && typeof c.name === 'string' && typeof c.run === 'function') return c as Benchmark;
  }
  return null;
}
