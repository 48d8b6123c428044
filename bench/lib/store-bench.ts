/**
 * Shared helpers for the storage benchmarks (bench/persistence.ts, bench/history.ts): throwaway databases
 * (a temp SQLite file, a fresh PostgreSQL schema), deterministic ticks, flags, percentiles.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { silentLogger } from '../../src/logger.js';
import { applyMigrations } from '../../src/store/migrate.js';
import { createDatabase, type Database, type DatabaseProvider } from '../../src/store/prisma.js';
import type { Tick } from '../../src/ticks/tick.js';

export interface BenchDatabase {
  readonly provider: DatabaseProvider;
  readonly url: string;
  /** SQLite file or PostgreSQL schema. */
  readonly where: string;
  readonly database: Database;
  dispose(): Promise<void>;
}

/** PostgreSQL URL for benchmarks: BENCH_DATABASE_URL, else TEST_DATABASE_URL; undefined skips PostgreSQL. */
export function postgresUrl(env: NodeJS.ProcessEnv): string | undefined {
  return env.BENCH_DATABASE_URL || env.TEST_DATABASE_URL || undefined;
}

export async function openBenchDatabase(
  provider: DatabaseProvider,
  label: string,
  pgUrl: string | undefined,
): Promise<BenchDatabase> {
  const suffix = Math.random().toString(36).slice(2, 8);
  if (provider === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), `tickgraph-bench-${label}-`));
    const where = join(dir, 'bench.db');
    const url = `file:${where}`;
    const database = createDatabase({ url, logger: silentLogger() });
    await applyMigrations({ database });
    return {
      provider,
      url,
      where,
      database,
      async dispose() {
        await database.disconnect();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  if (!pgUrl) throw new Error('PostgreSQL benchmark needs BENCH_DATABASE_URL or TEST_DATABASE_URL');
  const where = `bench_${label}_${suffix}`;
  const admin = new pg.Client({ connectionString: pgUrl });
  await admin.connect();
  await admin.query(`CREATE SCHEMA "${where}"`);
  await admin.end();
  const parsed = new URL(pgUrl);
  parsed.searchParams.set('schema', where);
  const url = parsed.toString();
  const database = createDatabase({ url, logger: silentLogger() });
  await applyMigrations({ database });
  return {
    provider,
    url,
    where,
    database,
    async dispose() {
      await database.disconnect();
      const client = new pg.Client({ connectionString: pgUrl });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS "${where}" CASCADE`);
      await client.end();
    },
  };
}

/** A full-mode tick (every stored column set) for instrument `k`, at exchangeTs `ts`. */
export function benchTick(k: number, ts: number): Tick {
  return {
    instrumentKey: `NSE_EQ|INE${String(k).padStart(6, '0')}`,
    mode: 'full',
    isIndex: false,
    exchangeTs: ts,
    receivedAt: ts + 2,
    ltp: 100 + (ts % 1000) / 100,
    lastTradeTime: ts - 5,
    ltq: 25,
    closePrice: 99.5,
    iep: null,
    depth: [{ bidQty: 40, bidPrice: 100.05, askQty: 60, askPrice: 100.1 }],
    candles: [
      { interval: '1d', open: 98.25, high: 101.5, low: 97.75, close: 100, volume: 123_456, ts: ts - 3_600_000 },
    ],
    greeks: { delta: 0.51, theta: -2.5, gamma: 0.002, vega: 7.25, rho: 1.125 },
    averagePrice: 99.9,
    volume: 1_234_567,
    openInterest: 5_000,
    impliedVolatility: 0.1334,
    totalBuyQty: 10_000,
    totalSellQty: 12_000,
    auction: null,
  };
}

/** `--name value` / `--name=value` flags. */
export function flag(argv: readonly string[], name: string): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === `--${name}`) return argv[i + 1];
    if (arg.startsWith(`--${name}=`)) return arg.slice(name.length + 3);
  }
  return undefined;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export function median(values: readonly number[]): number {
  return percentile(
    [...values].sort((a, b) => a - b),
    50,
  );
}
