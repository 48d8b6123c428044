/**
 * History benchmark: p50/p99 latency of one 1,000-tick page for one instrument (ASC and DESC, keyset cursor at
 * a random point) through the TickStore's two read paths (Prisma $queryRaw with a row-value keyset, and
 * findMany), each beside the same SQL on the raw driver, after filling the
 * Tick table with `--rows` rows through the fastest raw path. Prints EXPLAIN of the page query.
 *
 *   npx tsx bench/history.ts [--rows 1000000] [--instruments 200] [--samples 300] [--db sqlite|postgresql|both]
 *
 * 10M rows: `--rows 10000000` (SQLite ≈ 2.5 GB on disk; allow minutes for the fill and index build).
 * Fill: index dropped, rows bulk-loaded (SQLite: prepared INSERT in 50k-row transactions with the journal
 * off; PostgreSQL: COPY in 50k-row chunks), index rebuilt, statistics refreshed — then the queries run.
 * Writes bench/results/history.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import SqliteDatabase from 'better-sqlite3';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { silentLogger } from '../src/logger.js';
import { createDatabase, pgConfig } from '../src/store/prisma.js';
import { createTickStore, type HistoryOrder } from '../src/store/tick-store.js';
import { INSERT_COLUMNS } from '../src/store/tick-writer.js';
import { flag, openBenchDatabase, percentile, postgresUrl } from './lib/store-bench.js';

const argv = process.argv.slice(2);
const ROWS = Number(flag(argv, 'rows') ?? 1_000_000);
const INSTRUMENTS = Number(flag(argv, 'instruments') ?? 200);
const SAMPLES = Number(flag(argv, 'samples') ?? 300);
const PAGE = 1_000;
const which = flag(argv, 'db') ?? 'both';
const pgUrl = postgresUrl(process.env);
const providers = (['sqlite', 'postgresql'] as const).filter(
  (p) => (which === 'both' || which === p) && (p === 'sqlite' || pgUrl),
);
const BASE_TS = 1_763_000_000_000;
const INDEX = 'Tick_instrumentKey_exchangeTs_id_idx';
const INDEX_DDL = `CREATE INDEX "${INDEX}" ON "Tick"("instrumentKey", "exchangeTs", "id")`;
const COLUMNS = INSERT_COLUMNS.map((c) => `"${c}"`).join(', ');

const keyOf = (k: number) => `NSE_EQ|INE${String(k).padStart(6, '0')}`;
/** Row j: instrument j % INSTRUMENTS, one tick per instrument per second, interleaved as a feed writes them. */
function fillRow(j: number, out: (string | number | null)[]): void {
  const ts = BASE_TS + Math.floor(j / INSTRUMENTS) * 1_000;
  out[0] = keyOf(j % INSTRUMENTS);
  out[1] = 'full';
  out[2] = ts;
  out[3] = ts + 2;
  out[4] = 100 + (j % 1000) / 100;
  out[5] = ts - 5;
  out[6] = 25;
  out[7] = 99.5;
  out[8] = 1_000_000 + j;
  // The rest: NULL or a small integer (valid for both the BigInt and the Float columns).
  for (let c = 9; c < INSERT_COLUMNS.length; c++) out[c] = c % 3 === 0 ? null : c * 2;
}

async function fillSqlite(file: string): Promise<number> {
  const db = new SqliteDatabase(file);
  db.exec(`DROP INDEX "${INDEX}"`);
  db.pragma('journal_mode = OFF');
  db.pragma('synchronous = OFF');
  const insert = db.prepare(`INSERT INTO "Tick" (${COLUMNS}) VALUES (${INSERT_COLUMNS.map(() => '?').join(', ')})`);
  const row: (string | number | null)[] = new Array(INSERT_COLUMNS.length).fill(null);
  const chunk = db.transaction((from: number, to: number) => {
    for (let j = from; j < to; j++) {
      fillRow(j, row);
      insert.run(row);
    }
  });
  const started = performance.now();
  for (let j = 0; j < ROWS; j += 50_000) {
    chunk(j, Math.min(ROWS, j + 50_000));
    if (j % 1_000_000 === 0 && j > 0) console.log(`  sqlite: ${j.toLocaleString('en-US')} rows`);
  }
  db.exec(INDEX_DDL);
  db.exec('ANALYZE');
  db.pragma('journal_mode = WAL');
  const ms = performance.now() - started;
  db.close();
  return ms;
}

async function fillPg(connection: Parameters<typeof pgConfig>[0]): Promise<number> {
  const client = new pg.Client({ ...pgConfig(connection, 'tickgraph-bench'), statement_timeout: 0 });
  await client.connect();
  await client.query(`DROP INDEX "${INDEX}"`);
  const row: (string | number | null)[] = new Array(INSERT_COLUMNS.length).fill(null);
  const started = performance.now();
  for (let j = 0; j < ROWS; j += 50_000) {
    const lines: string[] = [];
    for (let i = j; i < Math.min(ROWS, j + 50_000); i++) {
      fillRow(i, row);
      lines.push(row.map((v) => (v === null ? '\\N' : String(v))).join('\t'));
    }
    const text = `${lines.join('\n')}\n`;
    await pipeline(
      (async function* () {
        yield text;
      })(),
      client.query(copyFrom(`COPY "Tick" (${COLUMNS}) FROM STDIN`)),
    );
    if (j % 1_000_000 === 0 && j > 0) console.log(`  postgresql: ${j.toLocaleString('en-US')} rows`);
  }
  await client.query(INDEX_DDL);
  await client.query('VACUUM ANALYZE "Tick"');
  const ms = performance.now() - started;
  await client.end();
  return ms;
}

/** Deterministic pseudo-random sequence (xorshift), so runs pick the same pages. */
function createRandom(seed: number) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

interface Latency {
  p50: number;
  p99: number;
  max: number;
  samples: number;
}
const summarise = (ms: number[]): Latency => {
  const sorted = [...ms].sort((a, b) => a - b);
  const round = (v: number) => Math.round(v * 100) / 100;
  return {
    p50: round(percentile(sorted, 50)),
    p99: round(percentile(sorted, 99)),
    max: round(sorted.at(-1)!),
    samples: sorted.length,
  };
};

const results: Record<string, unknown> = {
  when: new Date().toISOString(),
  rows: ROWS,
  instruments: INSTRUMENTS,
  rowsPerInstrument: Math.floor(ROWS / INSTRUMENTS),
  pageSize: PAGE,
  node: process.version,
};
const table: Record<string, string | number>[] = [];
const perInstrument = Math.floor(ROWS / INSTRUMENTS);

for (const provider of providers) {
  const db = await openBenchDatabase(provider, 'history', pgUrl);
  try {
    const connection = db.database.connection;
    console.log(`${provider}: filling ${ROWS.toLocaleString('en-US')} rows…`);
    const fillMs = connection.provider === 'sqlite' ? await fillSqlite(connection.filename) : await fillPg(connection);
    console.log(
      `${provider}: filled in ${(fillMs / 1000).toFixed(1)} s (${Math.round(ROWS / (fillMs / 1000)).toLocaleString('en-US')} rows/s incl. index)`,
    );

    let lastSql: { sql: string; params: string } | undefined;
    const database = createDatabase({
      url: db.url,
      logger: silentLogger(),
      onQuery: (q) => {
        if (q.sql.includes('ORDER BY')) lastSql = { sql: q.sql, params: q.params };
      },
    });
    const raw =
      connection.provider === 'sqlite'
        ? { kind: 'sqlite' as const, db: new SqliteDatabase(connection.filename, { readonly: true }) }
        : {
            kind: 'pg' as const,
            client: await (async () => {
              const c = new pg.Client(pgConfig(connection, 'tickgraph-bench'));
              await c.connect();
              return c;
            })(),
          };
    const entry: Record<string, unknown> = { fillSeconds: Math.round(fillMs / 100) / 10 };
    for (const readPath of ['queryRaw', 'findMany'] as const) {
      const store = createTickStore({ database, readPath });
      for (const order of ['ASC', 'DESC'] as const satisfies readonly HistoryOrder[]) {
        const random = createRandom(order === 'ASC' ? 7 : 11);
        const query = () => {
          const k = Math.floor(random() * INSTRUMENTS);
          // A cursor somewhere in the instrument's history, with a full page on the requested side when possible.
          const span = Math.max(1, perInstrument - PAGE);
          const step = order === 'ASC' ? Math.floor(random() * span) : PAGE + Math.floor(random() * span);
          return {
            instrumentKey: keyOf(k),
            order,
            limit: PAGE,
            after: { exchangeTs: BASE_TS + step * 1_000, id: order === 'ASC' ? '0' : '999999999999' },
          };
        };
        for (let i = 0; i < 20; i++) await store.history(query());
        const prismaMs: number[] = [];
        const rawMs: number[] = [];
        let rowsSeen = 0;
        for (let i = 0; i < SAMPLES; i++) {
          const q = query();
          const t0 = performance.now();
          const page = await store.history(q);
          prismaMs.push(performance.now() - t0);
          rowsSeen += page.length;
          // The exact SQL Prisma ran, on the raw driver.
          const { sql, params } = lastSql!;
          const values = JSON.parse(params) as (string | number)[];
          const t1 = performance.now();
          if (raw.kind === 'sqlite') raw.db.prepare(sql).all(...values);
          else await raw.client.query(sql, values);
          rawMs.push(performance.now() - t1);
        }
        const { sql, params } = lastSql!;
        const values = JSON.parse(params) as (string | number)[];
        let plan: string;
        if (raw.kind === 'sqlite') {
          plan = raw.db
            .prepare(`EXPLAIN QUERY PLAN ${sql}`)
            .all(...values)
            .map((r) => (r as { detail: string }).detail)
            .join('\n');
        } else {
          const { rows } = await raw.client.query(`EXPLAIN (ANALYZE, BUFFERS) ${sql}`, values);
          plan = rows.map((r: { 'QUERY PLAN': string }) => r['QUERY PLAN']).join('\n');
        }
        const prisma = summarise(prismaMs);
        const rawLatency = summarise(rawMs);
        entry[`${readPath} ${order}`] = {
          prisma,
          raw: rawLatency,
          avgRowsPerPage: Math.round(rowsSeen / SAMPLES),
          sql,
          params: values,
          plan,
        };
        table.push({
          db: provider,
          read: readPath,
          order,
          rows: ROWS,
          'store p50 ms': prisma.p50,
          'store p99 ms': prisma.p99,
          'same SQL raw p50': rawLatency.p50,
          'same SQL raw p99': rawLatency.p99,
          'rows/page': Math.round(rowsSeen / SAMPLES),
        });
        console.log(`\n${provider} ${readPath} ${order} plan:\n${plan}`);
      }
    }
    results[provider] = entry;
    if (raw.kind === 'sqlite') raw.db.close();
    else await raw.client.end();
    await database.disconnect();
  } finally {
    await db.dispose();
  }
}

console.log('');
console.table(table);
const out = join(dirname(fileURLToPath(import.meta.url)), 'results', 'history.json');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
console.log(`wrote ${out}`);
