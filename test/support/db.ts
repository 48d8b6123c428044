/**
 * Databases for storage tests: a fresh SQLite file per call, and (when TEST_DATABASE_URL is set) a fresh
 * PostgreSQL schema per call, dropped again by `cleanup()`. Tests run `describe.each(backends())`.
 * Also: the Prisma schema's DMMF, computed offline with the schema wasm shipped inside the `prisma` package.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { silentLogger } from '../../src/logger.js';
import { applyMigrations } from '../../src/store/migrate.js';
import { createDatabase, type Database, type DatabaseProvider } from '../../src/store/prisma.js';
import type { Tick, TickBatch } from '../../src/ticks/tick.js';
import { announceSkip, TEST_DATABASE_URL } from './services.js';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface Backend {
  readonly provider: DatabaseProvider;
}

/** SQLite always; PostgreSQL when TEST_DATABASE_URL is set (announced as skipped otherwise). */
export function backends(): Backend[] {
  if (!TEST_DATABASE_URL) announceSkip('PostgreSQL storage tests', 'TEST_DATABASE_URL');
  return TEST_DATABASE_URL ? [{ provider: 'sqlite' }, { provider: 'postgresql' }] : [{ provider: 'sqlite' }];
}

export interface TestDatabase {
  readonly url: string;
  /** SQLite file path or PostgreSQL schema name. */
  readonly where: string;
  /** A connected Database (not migrated unless `migrate` was set). */
  readonly database: Database;
  /** A raw `pg` client on the same schema (PostgreSQL only), for locks and inspection. */
  rawPg(): Promise<pg.Client>;
  /** Disconnects everything opened here and drops the schema / deletes the file. Idempotent. */
  cleanup(): Promise<void>;
}

export async function createTestDatabase(
  provider: DatabaseProvider,
  label: string,
  { migrate = true }: { migrate?: boolean } = {},
): Promise<TestDatabase> {
  const suffix = `${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const clients: pg.Client[] = [];
  let url: string;
  let where: string;
  let drop: () => Promise<void>;
  if (provider === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), `tickgraph-${label}-`));
    where = join(dir, 'test.db');
    url = `file:${where}`;
    drop = async () => rmSync(dir, { recursive: true, force: true });
  } else {
    where = `t_${label.replace(/[^a-z0-9]/gi, '_').toLowerCase()}_${suffix}`;
    const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await admin.connect();
    await admin.query(`CREATE SCHEMA "${where}"`);
    await admin.end();
    const parsed = new URL(TEST_DATABASE_URL);
    parsed.searchParams.set('schema', where);
    url = parsed.toString();
    drop = async () => {
      const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS "${where}" CASCADE`);
      await client.end();
    };
  }
  const database = createDatabase({ url, logger: silentLogger(), poolSize: 4 });
  if (migrate) await applyMigrations({ database });
  let cleaning: Promise<void> | undefined;
  return {
    url,
    where,
    database,
    async rawPg() {
      const client = new pg.Client({ connectionString: TEST_DATABASE_URL, options: `-c search_path="${where}"` });
      await client.connect();
      clients.push(client);
      return client;
    },
    cleanup() {
      cleaning ??= (async () => {
        await Promise.allSettled(clients.map((c) => c.end()));
        await database.disconnect();
        await drop();
      })();
      return cleaning;
    },
  };
}

// --- DMMF, offline ------------------------------------------------------------------------------------------

export interface DmmfField {
  name: string;
  kind: string;
  type: string;
  isRequired: boolean;
  isId: boolean;
  isList: boolean;
  hasDefaultValue: boolean;
  default?: unknown;
  dbName?: string | null;
  isUpdatedAt: boolean;
}
export interface DmmfModel {
  name: string;
  dbName: string | null;
  fields: DmmfField[];
  primaryKey: { name: string | null; fields: string[] } | null;
}
export interface DmmfIndex {
  model: string;
  type: 'id' | 'normal' | 'unique' | 'fulltext';
  dbName?: string | null;
  name?: string | null;
  fields: { name: string }[];
}
export interface Dmmf {
  datamodel: { models: DmmfModel[]; indexes: DmmfIndex[] };
}

/**
 * `getDMMF` without @prisma/internals: instantiates prisma_schema_build_bg.wasm (shipped in the `prisma`
 * package) with the four host functions it imports and calls its `get_dmmf` export, passing strings through
 * the module's own allocator (the wasm-bindgen calling convention).
 */
export function loadDmmf(schemaPath = join(repoRoot, 'prisma', 'schema.prisma')): Dmmf {
  const require = createRequire(import.meta.url);
  const wasmPath = join(dirname(require.resolve('prisma/package.json')), 'build', 'prisma_schema_build_bg.wasm');
  const decoder = new TextDecoder();
  interface SchemaWasm {
    memory: WebAssembly.Memory;
    __wbindgen_externrefs: WebAssembly.Table;
    __wbindgen_start(): void;
    __wbindgen_malloc(len: number, align: number): number;
    __wbindgen_free(ptr: number, len: number, align: number): void;
    get_dmmf(ptr: number, len: number): [number, number, number, number];
  }
  let exports: SchemaWasm;
  const read = (ptr: number, len: number) => decoder.decode(new Uint8Array(exports.memory.buffer, ptr, len));
  type HostFn = (ptr: number, len: number) => unknown;
  const byPrefix = (prefix: string, fn: HostFn) => ({ prefix, fn });
  const hosts = [
    byPrefix('__wbg_set_message_', () => undefined),
    byPrefix('__wbg_Error_', (ptr: number, len: number) => new Error(read(ptr, len))),
    byPrefix('__wbg___wbindgen_throw_', (ptr: number, len: number) => {
      throw new Error(read(ptr, len));
    }),
    byPrefix('__wbindgen_init_externref_table', () => {
      const table = exports.__wbindgen_externrefs;
      const base = table.grow(4);
      table.set(0, undefined);
      table.set(base, undefined);
      table.set(base + 1, null);
      table.set(base + 2, true);
      table.set(base + 3, false);
    }),
  ];
  const module = new WebAssembly.Module(readFileSync(wasmPath));
  const imports: Record<string, Record<string, HostFn>> = {};
  for (const imp of WebAssembly.Module.imports(module)) {
    const host = hosts.find((h) => imp.name.startsWith(h.prefix));
    if (!host) throw new Error(`prisma schema wasm imports ${imp.module}.${imp.name}, which loadDmmf does not provide`);
    imports[imp.module] ??= {};
    imports[imp.module]![imp.name] = host.fn;
  }
  exports = new WebAssembly.Instance(module, imports as WebAssembly.Imports).exports as unknown as SchemaWasm;
  exports.__wbindgen_start();
  const input = new TextEncoder().encode(JSON.stringify({ prismaSchema: readFileSync(schemaPath, 'utf8') }));
  const ptr = exports.__wbindgen_malloc(input.length, 1);
  new Uint8Array(exports.memory.buffer, ptr, input.length).set(input);
  const [outPtr, outLen, errRef, isErr] = exports.get_dmmf(ptr, input.length);
  if (isErr) throw exports.__wbindgen_externrefs.get(errRef);
  const json = read(outPtr, outLen);
  exports.__wbindgen_free(outPtr, outLen, 1);
  return JSON.parse(json) as Dmmf;
}

// --- ticks ---------------------------------------------------------------------------------------------------

/** A full-mode tick with every stored field set, distinct per `i` (exchangeTs = base + i). */
export function sampleTick(i: number, overrides: Partial<Tick> = {}): Tick {
  const ts = 1_763_000_000_000 + i;
  return {
    instrumentKey: `NSE_EQ|INE${String(i % 7).padStart(6, '0')}`,
    mode: 'full',
    isIndex: false,
    exchangeTs: ts,
    receivedAt: ts + 3,
    ltp: 100 + i / 100,
    lastTradeTime: ts - 10,
    ltq: 25,
    closePrice: 99.5,
    iep: null,
    depth: [
      { bidQty: 40, bidPrice: 100.05, askQty: 60, askPrice: 100.1 },
      { bidQty: 41, bidPrice: 100.0, askQty: 61, askPrice: 100.15 },
    ],
    candles: [
      { interval: 'I1', open: 1, high: 2, low: 0.5, close: 1.5, volume: 10, ts: ts - 60_000 },
      { interval: '1d', open: 98.25, high: 101.5, low: 97.75, close: 100, volume: 123_456, ts: ts - 3_600_000 },
    ],
    greeks: { delta: 0.51, theta: -2.5, gamma: 0.002, vega: 7.25, rho: 1.125 },
    averagePrice: 99.9,
    volume: 1_234_567 + i,
    openInterest: 5_000,
    impliedVolatility: 0.1334,
    totalBuyQty: 10_000,
    totalSellQty: 12_000,
    auction: null,
    ...overrides,
  };
}

/** Wraps ticks as one pipeline batch. */
export function batchOf(ticks: readonly Tick[]): TickBatch {
  const last = ticks[ticks.length - 1];
  return {
    exchangeTs: last?.exchangeTs ?? 0,
    receivedAt: last?.receivedAt ?? 0,
    updates: ticks.map((tick) => ({ tick, changed: 1, snapshot: false })),
  };
}

/** Rows in the Tick table, through Prisma. */
export async function countTicks(database: Database): Promise<number> {
  return database.prisma.tick.count();
}
