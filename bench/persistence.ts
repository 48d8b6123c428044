/**
 * Persistence benchmark: sustained ticks/s through the recorder (live-path buffer → worker thread → raw
 * driver) beside the raw driver alone, on SQLite and (with BENCH_DATABASE_URL or TEST_DATABASE_URL) PostgreSQL.
 *
 *   npx tsx bench/persistence.ts [--ticks 300000] [--repeat 3] [--db sqlite|postgresql|both]
 *
 * - raw: the driver with nothing around it, rows prepared before the clock starts — SQLite: one prepared
 *   INSERT per row, 10k rows per transaction; PostgreSQL: COPY FROM STDIN of pre-built text.
 * - recorder: `createRecorder()` as the app uses it; ticks handed in as 50-tick frames, yielding to the event
 *   loop every 20 frames like a socket would; the clock stops when `flush()` resolves (everything committed).
 *   Variants of the writer are measured too, which is how the defaults were chosen.
 * - handle ns/tick: main-thread time spent inside `handle()` — what the live path pays per tick; and the
 *   event-loop delay (p99, max) of that thread during the run: the writes themselves must not show up there.
 * Runs are interleaved (raw, variants, raw, …) and the median of `--repeat` is reported.
 * Writes bench/results/persistence.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import SqliteDatabase from 'better-sqlite3';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { pgConfig } from '../src/store/prisma.js';
import { INSERT_COLUMNS, type TickWriter, type TickWriterOptions } from '../src/store/tick-writer.js';
import { createRecorder } from '../src/ticks/recorder.js';
import type { TickBatch } from '../src/ticks/tick.js';
import { benchTick, flag, median, openBenchDatabase, postgresUrl } from './lib/store-bench.js';

const argv = process.argv.slice(2);
const TICKS = Number(flag(argv, 'ticks') ?? 300_000);
const REPEAT = Number(flag(argv, 'repeat') ?? 3);
const which = flag(argv, 'db') ?? 'both';
const pgUrl = postgresUrl(process.env);
const providers = (['sqlite', 'postgresql'] as const).filter(
  (p) => (which === 'both' || which === p) && (p === 'sqlite' || pgUrl),
);
const FRAME = 50;
const INSTRUMENTS = 500;

/** Pre-built 50-tick frames cycling over INSTRUMENTS keys, exchangeTs unique per tick. */
function frames(total: number): TickBatch[] {
  const out: TickBatch[] = [];
  for (let i = 0; i < total; i += FRAME) {
    const updates = [];
    for (let j = i; j < Math.min(total, i + FRAME); j++) {
      updates.push({ tick: benchTick(j % INSTRUMENTS, 1_763_000_000_000 + j), changed: 1, snapshot: false });
    }
    out.push({ exchangeTs: 1_763_000_000_000 + i, receivedAt: 1_763_000_000_000 + i, updates });
  }
  return out;
}

function rowValues(j: number): (string | number | null)[] {
  const t = benchTick(j % INSTRUMENTS, 1_763_000_000_000 + j);
  const d = t.depth![0]!;
  const c = t.candles![0]!;
  const g = t.greeks!;
  return [
    t.instrumentKey,
    t.mode,
    t.exchangeTs,
    t.receivedAt,
    t.ltp,
    t.lastTradeTime,
    t.ltq,
    t.closePrice,
    t.volume,
    t.openInterest,
    t.averagePrice,
    t.impliedVolatility,
    t.totalBuyQty,
    t.totalSellQty,
    d.bidPrice,
    d.bidQty,
    d.askPrice,
    d.askQty,
    c.open,
    c.high,
    c.low,
    g.delta,
    g.theta,
    g.gamma,
    g.vega,
    g.rho,
  ];
}

async function rawSqlite(file: string, rows: (string | number | null)[][]): Promise<number> {
  const db = new SqliteDatabase(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  const insert = db.prepare(
    `INSERT INTO "Tick" (${INSERT_COLUMNS.map((c) => `"${c}"`).join(', ')}) VALUES (${INSERT_COLUMNS.map(() => '?').join(', ')})`,
  );
  const tx = db.transaction((chunk: (string | number | null)[][]) => {
    for (const row of chunk) insert.run(row);
  });
  const started = performance.now();
  for (let i = 0; i < rows.length; i += 10_000) tx(rows.slice(i, i + 10_000));
  const ms = performance.now() - started;
  db.close();
  return (rows.length / ms) * 1_000;
}

async function rawPg(connection: Parameters<typeof pgConfig>[0], rows: (string | number | null)[][]): Promise<number> {
  const chunks: string[] = [];
  for (let i = 0; i < rows.length; i += 10_000) {
    chunks.push(
      rows
        .slice(i, i + 10_000)
        .map((r) => r.map((v) => (v === null ? '\\N' : String(v))).join('\t'))
        .join('\n')
        .concat('\n'),
    );
  }
  const client = new pg.Client(pgConfig(connection, 'tickgraph-bench'));
  await client.connect();
  const started = performance.now();
  for (const chunk of chunks) {
    const stream = client.query(copyFrom(`COPY "Tick" (${INSERT_COLUMNS.map((c) => `"${c}"`).join(', ')}) FROM STDIN`));
    await pipeline(
      (async function* () {
        yield chunk;
      })(),
      stream,
    );
  }
  const ms = performance.now() - started;
  await client.end();
  return (rows.length / ms) * 1_000;
}

interface RecorderRun {
  ticksPerSec: number;
  handleNsPerTick: number;
  /** Event-loop delay of the live thread while the recorder wrote, ms (p99 / max). */
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
  dropped: number;
  written: number;
}

async function recorderRun(
  database: Parameters<typeof createRecorder>[0]['database'],
  batches: readonly TickBatch[],
  total: number,
  writerOptions: Partial<Pick<TickWriterOptions, 'pgMethod' | 'sqliteRowsPerStatement'>>,
  writer?: TickWriter,
): Promise<RecorderRun> {
  const recorder = createRecorder({
    database,
    maxBufferedTicks: Math.max(200_000, total),
    writerOptions,
    ...(writer ? { writer } : {}),
  });
  // Warm the worker (thread start, connection, prepared statements) outside the clock.
  recorder.handle(batches[0]!);
  await recorder.flush();
  const warm = recorder.stats().written;
  let handleMs = 0;
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const started = performance.now();
  for (let i = 1; i < batches.length; i++) {
    const t0 = performance.now();
    recorder.handle(batches[i]!);
    handleMs += performance.now() - t0;
    if (i % 20 === 0) await new Promise<void>((resolve) => setImmediate(resolve));
  }
  await recorder.flush();
  const ms = performance.now() - started;
  loop.disable();
  const stats = recorder.stats();
  await recorder.stop();
  const handled = total - warm;
  return {
    ticksPerSec: (handled / ms) * 1_000,
    handleNsPerTick: (handleMs * 1e6) / handled,
    loopDelayP99Ms: loop.percentile(99) / 1e6,
    loopDelayMaxMs: loop.max / 1e6,
    dropped: stats.dropped.buffer_full,
    written: stats.written,
  };
}

interface Variant {
  name: string;
  options: Partial<Pick<TickWriterOptions, 'pgMethod' | 'sqliteRowsPerStatement'>>;
  writer?: TickWriter;
}

const variants: Record<'sqlite' | 'postgresql', Variant[]> = {
  sqlite: [
    { name: 'prepared INSERT ×1 row/statement (default)', options: { sqliteRowsPerStatement: 1 } },
    { name: 'prepared INSERT ×32 rows/statement', options: { sqliteRowsPerStatement: 32 } },
  ],
  postgresql: [
    { name: 'COPY FROM STDIN (default)', options: { pgMethod: 'copy' as const } },
    { name: 'INSERT … unnest(arrays)', options: { pgMethod: 'unnest' as const } },
  ],
};

/**
 * Baseline for the live thread: the same producer and recorder with a writer that discards everything, so the
 * event-loop delay and handle() cost of the real variants can be compared with what the producer alone causes.
 */
const NO_OP: Variant = {
  name: 'no-op writer (live-thread baseline, not a database)',
  options: {},
  writer: {
    write: async (segments) => segments.reduce((n, s) => n + s.count, 0),
    close: async () => undefined,
  },
};

const results: Record<string, unknown> = {
  when: new Date().toISOString(),
  ticks: TICKS,
  repeat: REPEAT,
  node: process.version,
  cores: (await import('node:os')).cpus().length,
};
const batches = frames(TICKS);
const rawRows = Array.from({ length: TICKS }, (_, j) => rowValues(j));
for (const provider of providers) {
  const raw: number[] = [];
  const byVariant = new Map<string, RecorderRun[]>();
  for (let r = 0; r < REPEAT; r++) {
    {
      const db = await openBenchDatabase(provider, 'raw', pgUrl);
      raw.push(
        db.database.connection.provider === 'sqlite'
          ? await rawSqlite(db.database.connection.filename, rawRows)
          : await rawPg(db.database.connection, rawRows),
      );
      await db.dispose();
    }
    for (const variant of [...variants[provider], NO_OP]) {
      const db = await openBenchDatabase(provider, 'rec', pgUrl);
      const run = await recorderRun(db.database, batches, TICKS, variant.options, variant.writer);
      const rows = await db.database.prisma.tick.count();
      if (!variant.writer && rows !== run.written) {
        throw new Error(`${variant.name}: ${rows} rows but ${run.written} reported written`);
      }
      byVariant.set(variant.name, [...(byVariant.get(variant.name) ?? []), run]);
      await db.dispose();
    }
  }
  const rawRate = median(raw);
  const table = [...byVariant].map(([name, runs]: [string, RecorderRun[]]) => {
    const rate = median(runs.map((x) => x.ticksPerSec));
    return {
      writer: name,
      ticksPerSec: Math.round(rate),
      percentOfRaw: Math.round((rate / rawRate) * 100),
      handleNsPerTick: Math.round(median(runs.map((x) => x.handleNsPerTick))),
      loopDelayP99Ms: Math.round(median(runs.map((x) => x.loopDelayP99Ms)) * 10) / 10,
      loopDelayMaxMs: Math.round(Math.max(...runs.map((x) => x.loopDelayMaxMs)) * 10) / 10,
      dropped: Math.max(...runs.map((x) => x.dropped)),
      runs: runs.map((x) => Math.round(x.ticksPerSec)),
    };
  });
  results[provider] = { rawTicksPerSec: Math.round(rawRate), rawRuns: raw.map(Math.round), recorder: table };
  console.log(
    `\n${provider}: raw driver ${Math.round(rawRate).toLocaleString('en-US')} ticks/s (runs ${raw.map(Math.round).join(', ')})`,
  );
  console.table(table.map(({ runs: _runs, ...row }) => row));
}

const out = join(dirname(fileURLToPath(import.meta.url)), 'results', 'persistence.json');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
console.log(`\nwrote ${out}`);
