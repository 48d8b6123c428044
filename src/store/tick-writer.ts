/**
 * The hot write path for ticks, on the raw drivers (Prisma stays the schema owner and the read side).
 *
 * Ticks travel from the recorder to the writer as {@link TickSegment}s: columnar, row-major Float64Arrays
 * plus a small per-segment dictionary of instrument keys. A segment is cheap to fill on the live path
 * (a handful of stores per tick, no per-tick objects), and cheap to post to the writer's worker thread.
 *
 * Measured on this machine (2 shared cores; bench/persistence.ts has the current numbers):
 * - SQLite: one prepared INSERT run per row inside one `BEGIN IMMEDIATE` transaction, WAL journal and
 *   `synchronous = NORMAL` — the raw driver's own fastest pattern, so the writer runs at the raw rate; Prisma's
 *   createMany (≈ 5–9k rows/s) and multi-row INSERTs through Prisma's raw query path (≈ 55–67k rows/s on a
 *   quiet machine) are far slower than the raw driver (200–420k rows/s there).
 * - PostgreSQL: `COPY "Tick" (…) FROM STDIN` in text format via pg-copy-streams; one statement, so a
 *   failed write leaves nothing behind. INSERT … SELECT FROM unnest(typed arrays) measured at about half
 *   COPY's rate (pgMethod: 'unnest' keeps it for comparison).
 */
import type { Candle, Tick } from '../ticks/tick.js';
import type { ConnectionInfo } from './connection.js';

/** Numeric columns of the `Tick` model, in segment order (NaN encodes NULL). */
export const NUMERIC_COLUMNS = [
  'exchangeTs',
  'receivedAt',
  'ltp',
  'lastTradeTime',
  'ltq',
  'closePrice',
  'volume',
  'openInterest',
  'averagePrice',
  'impliedVolatility',
  'totalBuyQty',
  'totalSellQty',
  'bestBidPrice',
  'bestBidQty',
  'bestAskPrice',
  'bestAskQty',
  'dayOpen',
  'dayHigh',
  'dayLow',
  'delta',
  'theta',
  'gamma',
  'vega',
  'rho',
] as const;
export const NUMERIC_WIDTH = NUMERIC_COLUMNS.length;

/** Columns typed BigInt in schema.prisma: written as integers (fractions truncated, non-finite → NULL). */
const BIGINT_COLUMNS = new Set<string>([
  'exchangeTs',
  'receivedAt',
  'lastTradeTime',
  'ltq',
  'volume',
  'bestBidQty',
  'bestAskQty',
]);
const IS_BIGINT: readonly boolean[] = NUMERIC_COLUMNS.map((c) => BIGINT_COLUMNS.has(c));

/** Every inserted column, in the order writers bind them. */
export const INSERT_COLUMNS = ['instrumentKey', 'mode', ...NUMERIC_COLUMNS] as const;

export const MODE_CODES = ['ltpc', 'full', 'option_greeks', 'full_d30'] as const;
const MODE_INDEX: Readonly<Record<string, number>> = Object.fromEntries(MODE_CODES.map((m, i) => [m, i]));

/** A run of ticks ready for the writer. Plain data: survives structured clone to a worker. */
export interface TickSegment {
  count: number;
  /** Distinct instrument keys of this segment. */
  keys: string[];
  /** Per row: index into `keys`. */
  keyIndex: Uint32Array;
  /** Per row: index into MODE_CODES. */
  modes: Uint8Array;
  /** Row-major: row r's column c is at `r * NUMERIC_WIDTH + c`. NaN = NULL. */
  nums: Float64Array;
}

/** A segment being filled on the live path. */
export interface SegmentBuilder {
  readonly capacity: number;
  readonly count: number;
  /** Appends one tick; returns false (and stores nothing) when full. */
  push(tick: Tick): boolean;
  /** The filled part as a {@link TickSegment}; the builder starts over empty. */
  seal(): TickSegment;
}

export function createSegmentBuilder(capacity: number): SegmentBuilder {
  let keys: string[] = [];
  let keyMap = new Map<string, number>();
  let keyIndex = new Uint32Array(capacity);
  let modes = new Uint8Array(capacity);
  let nums = new Float64Array(capacity * NUMERIC_WIDTH);
  let count = 0;
  return {
    capacity,
    get count() {
      return count;
    },
    push(tick) {
      if (count === capacity) return false;
      let k = keyMap.get(tick.instrumentKey);
      if (k === undefined) {
        k = keys.length;
        keys.push(tick.instrumentKey);
        keyMap.set(tick.instrumentKey, k);
      }
      keyIndex[count] = k;
      modes[count] = MODE_INDEX[tick.mode] ?? 0;
      const best = tick.depth?.[0];
      let day: Candle | undefined;
      if (tick.candles) for (const candle of tick.candles) if (candle.interval === '1d') day = candle;
      const g = tick.greeks;
      // `?? NaN`: NULL travels as NaN (see TickSegment.nums).
      const o = count * NUMERIC_WIDTH;
      nums[o] = tick.exchangeTs;
      nums[o + 1] = tick.receivedAt;
      nums[o + 2] = tick.ltp ?? NaN;
      nums[o + 3] = tick.lastTradeTime ?? NaN;
      nums[o + 4] = tick.ltq ?? NaN;
      nums[o + 5] = tick.closePrice ?? NaN;
      nums[o + 6] = tick.volume ?? NaN;
      nums[o + 7] = tick.openInterest ?? NaN;
      nums[o + 8] = tick.averagePrice ?? NaN;
      nums[o + 9] = tick.impliedVolatility ?? NaN;
      nums[o + 10] = tick.totalBuyQty ?? NaN;
      nums[o + 11] = tick.totalSellQty ?? NaN;
      nums[o + 12] = best?.bidPrice ?? NaN;
      nums[o + 13] = best?.bidQty ?? NaN;
      nums[o + 14] = best?.askPrice ?? NaN;
      nums[o + 15] = best?.askQty ?? NaN;
      nums[o + 16] = day?.open ?? NaN;
      nums[o + 17] = day?.high ?? NaN;
      nums[o + 18] = day?.low ?? NaN;
      nums[o + 19] = g?.delta ?? NaN;
      nums[o + 20] = g?.theta ?? NaN;
      nums[o + 21] = g?.gamma ?? NaN;
      nums[o + 22] = g?.vega ?? NaN;
      nums[o + 23] = g?.rho ?? NaN;
      count++;
      return true;
    },
    seal() {
      // A partial segment is copied to its exact size: posting a view to a worker would clone the whole buffer.
      const full = count === capacity;
      const segment: TickSegment = {
        count,
        keys,
        keyIndex: full ? keyIndex : keyIndex.slice(0, count),
        modes: full ? modes : modes.slice(0, count),
        nums: full ? nums : nums.slice(0, count * NUMERIC_WIDTH),
      };
      keys = [];
      keyMap = new Map();
      keyIndex = new Uint32Array(capacity);
      modes = new Uint8Array(capacity);
      nums = new Float64Array(capacity * NUMERIC_WIDTH);
      count = 0;
      return segment;
    },
  };
}

/** Column c of a segment value as the database should get it: null, an integer, or a float. */
function cell(value: number, column: number): number | null {
  if (Number.isNaN(value)) return null;
  if (IS_BIGINT[column]) return Number.isFinite(value) ? Math.trunc(value) : null;
  return value;
}

export interface TickWriter {
  /** Writes all rows of the segments atomically (all or none). Resolves with the row count. */
  write(segments: readonly TickSegment[]): Promise<number>;
  /** Closes the connection. Idempotent. */
  close(): Promise<void>;
}

export interface TickWriterOptions {
  connection: ConnectionInfo;
  /**
   * How long one write may wait for locks before failing (and being retried by the recorder): SQLite busy
   * timeout / PostgreSQL statement_timeout, ms. @default 5_000
   */
  writeTimeoutMs?: number;
  /** PostgreSQL only: `copy` (COPY FROM STDIN) or `unnest` (INSERT … SELECT FROM unnest($1::text[], …)). @default 'copy' */
  pgMethod?: 'copy' | 'unnest';
  /**
   * SQLite only: rows bound per prepared multi-row INSERT (1 = one `run()` per row). 32 measured no faster than
   * 1 here (≈ 46k rows/s each, interleaved runs), so the simpler statement is the default. @default 1
   */
  sqliteRowsPerStatement?: number;
}

const quote = (name: string) => `"${name}"`;

/** Opens the raw-driver writer for the database's provider. */
export async function createTickWriter(options: TickWriterOptions): Promise<TickWriter> {
  return options.connection.provider === 'sqlite' ? createSqliteTickWriter(options) : createPgTickWriter(options);
}

async function createSqliteTickWriter({
  connection,
  writeTimeoutMs = 5_000,
  sqliteRowsPerStatement: rowsPerStatement = 1,
}: TickWriterOptions): Promise<TickWriter> {
  if (connection.provider !== 'sqlite') throw new Error('not a SQLite connection');
  if (connection.filename === ':memory:') {
    throw new Error('the tick writer needs a SQLite file (an in-memory database is private to one connection)');
  }
  const { default: SqliteDatabase } = await import('better-sqlite3');
  const db = new SqliteDatabase(connection.filename, { timeout: writeTimeoutMs });
  // WAL lets Prisma's connection read while this one writes; NORMAL sync is durable across application
  // crashes (an OS crash may lose the last transactions), the usual trade for a tick log.
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  // Rows per INSERT statement (see sqliteRowsPerStatement): more rows per `run()` would amortise the per-call
  // cost of the driver, but binding dominates and the measured rates were equal.
  const insertSql = (n: number) =>
    `INSERT INTO "Tick" (${INSERT_COLUMNS.map(quote).join(', ')}) VALUES ${Array.from(
      { length: n },
      () => `(${INSERT_COLUMNS.map(() => '?').join(', ')})`,
    ).join(', ')}`;
  const insertMany = db.prepare(insertSql(rowsPerStatement));
  const insertOne = db.prepare(insertSql(1));
  const width = INSERT_COLUMNS.length;
  const manyParams: (string | number | null)[] = new Array(width * rowsPerStatement).fill(null);
  const oneParams: (string | number | null)[] = new Array(width).fill(null);
  const fill = (params: (string | number | null)[], at: number, s: TickSegment, r: number) => {
    params[at] = s.keys[s.keyIndex[r]!]!;
    params[at + 1] = MODE_CODES[s.modes[r]!]!;
    const o = r * NUMERIC_WIDTH;
    for (let c = 0; c < NUMERIC_WIDTH; c++) params[at + 2 + c] = cell(s.nums[o + c]!, c);
  };
  const writeAll = db.transaction((segments: readonly TickSegment[]) => {
    let rows = 0;
    for (const s of segments) {
      let r = 0;
      for (; r + rowsPerStatement <= s.count; r += rowsPerStatement) {
        for (let i = 0; i < rowsPerStatement; i++) fill(manyParams, i * width, s, r + i);
        insertMany.run(manyParams);
      }
      for (; r < s.count; r++) {
        fill(oneParams, 0, s, r);
        insertOne.run(oneParams);
      }
      rows += s.count;
    }
    return rows;
  });
  let closed = false;
  return {
    async write(segments) {
      return writeAll.immediate(segments);
    },
    async close() {
      if (closed) return;
      closed = true;
      db.close();
    },
  };
}

/** One segment as COPY text-format lines. */
function copyText(s: TickSegment): string {
  const escapedKeys = s.keys.map((k) =>
    k.replace(/[\\\t\n\r]/g, (ch) => `\\${ch === '\t' ? 't' : ch === '\n' ? 'n' : ch === '\r' ? 'r' : '\\'}`),
  );
  let out = '';
  for (let r = 0; r < s.count; r++) {
    let line = `${escapedKeys[s.keyIndex[r]!]}\t${MODE_CODES[s.modes[r]!]}`;
    const o = r * NUMERIC_WIDTH;
    for (let c = 0; c < NUMERIC_WIDTH; c++) {
      const v = cell(s.nums[o + c]!, c);
      line += v === null ? '\t\\N' : `\t${v}`;
    }
    out += `${line}\n`;
  }
  return out;
}

async function createPgTickWriter({
  connection,
  writeTimeoutMs = 5_000,
  pgMethod = 'copy',
}: TickWriterOptions): Promise<TickWriter> {
  if (connection.provider !== 'postgresql') throw new Error('not a PostgreSQL connection');
  const [{ default: pg }, { from: copyFrom }, { pipeline }, { Readable }, { pgConfig }] = await Promise.all([
    import('pg'),
    import('pg-copy-streams'),
    import('node:stream/promises'),
    import('node:stream'),
    import('./connection.js'),
  ]);
  // The schema in the application name lets an operator (and our tests) find this connection in pg_stat_activity.
  const appName = `tickgraph-recorder${connection.schema ? `:${connection.schema}` : ''}`.slice(0, 63);
  const config = { ...pgConfig(connection, appName), statement_timeout: writeTimeoutMs };
  let client: InstanceType<typeof pg.Client> | undefined;
  let closed = false;
  const connect = async () => {
    if (client) return client;
    const fresh = new pg.Client(config);
    // A dead connection emits 'error' outside any query: forget it so the next write reconnects.
    fresh.on('error', () => {
      if (client === fresh) client = undefined;
    });
    await fresh.connect();
    client = fresh;
    return fresh;
  };
  const columns = INSERT_COLUMNS.map(quote).join(', ');
  const types = ['text', 'text', ...NUMERIC_COLUMNS.map((_, c) => (IS_BIGINT[c] ? 'int8' : 'float8'))];
  const unnestSql = `INSERT INTO "Tick" (${columns}) SELECT * FROM unnest(${types.map((t, i) => `$${i + 1}::${t}[]`).join(', ')})`;

  return {
    async write(segments) {
      const c = await connect();
      let rows = 0;
      for (const s of segments) rows += s.count;
      try {
        if (pgMethod === 'copy') {
          const stream = c.query(copyFrom(`COPY "Tick" (${columns}) FROM STDIN`));
          await pipeline(
            Readable.from(
              (function* () {
                for (const s of segments) yield copyText(s);
              })(),
            ),
            stream,
          );
        } else {
          const arrays: (string | number | null)[][] = INSERT_COLUMNS.map(() => []);
          for (const s of segments) {
            for (let r = 0; r < s.count; r++) {
              arrays[0]!.push(s.keys[s.keyIndex[r]!]!);
              arrays[1]!.push(MODE_CODES[s.modes[r]!]!);
              const o = r * NUMERIC_WIDTH;
              for (let col = 0; col < NUMERIC_WIDTH; col++) arrays[col + 2]!.push(cell(s.nums[o + col]!, col));
            }
          }
          await c.query(unnestSql, arrays);
        }
      } catch (error) {
        // After a failed COPY or a terminated backend the connection's state is unknown: start afresh.
        if (client === c) client = undefined;
        c.end().catch(() => undefined);
        throw error;
      }
      return rows;
    },
    async close() {
      if (closed) return;
      closed = true;
      const c = client;
      client = undefined;
      await c?.end().catch(() => undefined);
    },
  };
}
