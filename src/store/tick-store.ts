/**
 * The store's read/write API over Prisma: history pages, batch inserts, retention, the desired
 * subscription set. Prisma owns the schema and the read side; the hot write path is chosen by measurement.
 *
 * CONTRACT (shared with graphql/, ticks/recorder.ts, app.ts): the exported types are stable.
 */
import type { FeedMode } from '../upstox/protocol.js';

/** A tick as stored: the columns of the `Tick` model, with bigints as numbers (all values fit 2^53). */
export interface StoredTick {
  /** Row id, a decimal string (BigInt column). */
  readonly id: string;
  readonly instrumentKey: string;
  readonly exchangeTs: number;
  readonly receivedAt: number;
  readonly mode: FeedMode;
  readonly ltp: number | null;
  readonly lastTradeTime: number | null;
  readonly ltq: number | null;
  readonly closePrice: number | null;
  readonly volume: number | null;
  readonly openInterest: number | null;
  readonly averagePrice: number | null;
  readonly impliedVolatility: number | null;
  readonly totalBuyQty: number | null;
  readonly totalSellQty: number | null;
  readonly bestBidPrice: number | null;
  readonly bestBidQty: number | null;
  readonly bestAskPrice: number | null;
  readonly bestAskQty: number | null;
  readonly dayOpen: number | null;
  readonly dayHigh: number | null;
  readonly dayLow: number | null;
  readonly delta: number | null;
  readonly theta: number | null;
  readonly gamma: number | null;
  readonly vega: number | null;
  readonly rho: number | null;
}

export type HistoryOrder = 'ASC' | 'DESC';

/** Keyset position: rows strictly after this one in the query's order. */
export interface HistoryCursor {
  readonly exchangeTs: number;
  readonly id: string;
}

export interface HistoryQuery {
  readonly instrumentKey: string;
  /** Inclusive lower bound on exchangeTs, epoch ms. */
  readonly from?: number;
  /** Exclusive upper bound on exchangeTs, epoch ms. */
  readonly to?: number;
  readonly order: HistoryOrder;
  readonly limit: number;
  readonly after?: HistoryCursor;
}

export interface InstrumentSubscriptionRow {
  readonly instrumentKey: string;
  readonly mode: FeedMode;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

export interface TickStore {
  /** One page in keyset order: ORDER BY exchangeTs, id in `order`. */
  history(query: HistoryQuery): Promise<StoredTick[]>;
  listSubscriptions(): Promise<InstrumentSubscriptionRow[]>;
  /** Inserts or updates the mode of each key, in one transaction. */
  upsertSubscriptions(entries: ReadonlyArray<{ instrumentKey: string; mode: FeedMode }>): Promise<void>;
  removeSubscriptions(instrumentKeys: readonly string[]): Promise<void>;
}

// --- implementation -------------------------------------------------------------------------------------------

import { Prisma, type Tick as TickRow } from '../generated/prisma/sqlite/client.js';
import type { Database } from './prisma.js';
import { NUMERIC_COLUMNS } from './tick-writer.js';

export interface TickStoreOptions {
  /** The connected database (its Prisma client does every read here). */
  database: Database;
  /** Upper bound on a history page, whatever the caller asks for. @default 10_000 */
  maxPageSize?: number;
  /**
   * How history pages are read: `findMany` (Prisma's query builder, an OR-expanded keyset condition) or
   * `queryRaw` (Prisma's `$queryRaw` with a row-value keyset condition `("exchangeTs", "id") > (…)`, which both
   * databases turn into a single index range). bench/history.ts measures both. @default 'queryRaw'
   */
  readPath?: 'findMany' | 'queryRaw';
}

/** Rows per INSERT of upsertSubscriptions: 4 parameters each, far below SQLite's and PostgreSQL's limits. */
const UPSERT_CHUNK = 1_000;

export class HistoryQueryError extends Error {
  override name = 'HistoryQueryError';
}

const toNumber = (value: bigint | number | null): number | null => (value === null ? null : Number(value));

/** A Prisma `Tick` row as the store's {@link StoredTick} (bigints → numbers, id → decimal string). */
export function toStoredTick(row: TickRow): StoredTick {
  return {
    id: row.id.toString(),
    instrumentKey: row.instrumentKey,
    exchangeTs: Number(row.exchangeTs),
    receivedAt: Number(row.receivedAt),
    mode: row.mode as FeedMode,
    ltp: row.ltp,
    lastTradeTime: toNumber(row.lastTradeTime),
    ltq: toNumber(row.ltq),
    closePrice: row.closePrice,
    volume: toNumber(row.volume),
    openInterest: row.openInterest,
    averagePrice: row.averagePrice,
    impliedVolatility: row.impliedVolatility,
    totalBuyQty: row.totalBuyQty,
    totalSellQty: row.totalSellQty,
    bestBidPrice: row.bestBidPrice,
    bestBidQty: toNumber(row.bestBidQty),
    bestAskPrice: row.bestAskPrice,
    bestAskQty: toNumber(row.bestAskQty),
    dayOpen: row.dayOpen,
    dayHigh: row.dayHigh,
    dayLow: row.dayLow,
    delta: row.delta,
    theta: row.theta,
    gamma: row.gamma,
    vega: row.vega,
    rho: row.rho,
  };
}

/** Every Tick column, quoted: the select list of the raw read path (rows are mapped by name). */
const TICK_COLUMNS = Prisma.raw(
  ['id', 'instrumentKey', 'mode', ...NUMERIC_COLUMNS].map((column) => `"${column}"`).join(', '),
);

export function createTickStore({
  database,
  maxPageSize = 10_000,
  readPath = 'queryRaw',
}: TickStoreOptions): TickStore {
  const { prisma } = database;

  /** One page via $queryRaw: a row-value keyset bound is one index range on both databases. */
  const rawPage = async ({ instrumentKey, from, to, order, limit, after }: HistoryQuery): Promise<StoredTick[]> => {
    const asc = order === 'ASC';
    const conditions = [Prisma.sql`"instrumentKey" = ${instrumentKey}`];
    if (from !== undefined) conditions.push(Prisma.sql`"exchangeTs" >= ${BigInt(from)}`);
    if (to !== undefined) conditions.push(Prisma.sql`"exchangeTs" < ${BigInt(to)}`);
    if (after) {
      const keyset = Prisma.sql`(${BigInt(after.exchangeTs)}, ${BigInt(after.id)})`;
      conditions.push(
        asc ? Prisma.sql`("exchangeTs", "id") > ${keyset}` : Prisma.sql`("exchangeTs", "id") < ${keyset}`,
      );
    }
    const direction = Prisma.raw(asc ? 'ASC' : 'DESC');
    const rows = await prisma.$queryRaw<TickRow[]>`
      SELECT ${TICK_COLUMNS} FROM "Tick" WHERE ${Prisma.join(conditions, ' AND ')}
      ORDER BY "exchangeTs" ${direction}, "id" ${direction} LIMIT ${Math.min(limit, maxPageSize)}`;
    return rows.map(toStoredTick);
  };

  return {
    async history(query) {
      const { instrumentKey, from, to, order, limit, after } = query;
      if (!Number.isInteger(limit) || limit < 1)
        throw new HistoryQueryError(`limit must be a positive integer, got ${limit}`);
      if (after && !/^\d+$/.test(after.id))
        throw new HistoryQueryError(`cursor id must be a decimal row id, got "${after.id}"`);
      if (readPath === 'queryRaw') return rawPage(query);
      const asc = order === 'ASC';
      const direction = asc ? 'asc' : 'desc';
      // Keyset: rows strictly after (ts, id) in the page's order. The plain range bound on exchangeTs (`gte`/`lte`
      // the cursor's ts) is redundant with the OR but lets both databases turn it into an index range on
      // (instrumentKey, exchangeTs, id) instead of filtering every row before the cursor.
      const exchangeTs: { gte?: bigint; lt?: bigint; lte?: bigint } = {};
      if (from !== undefined) exchangeTs.gte = BigInt(from);
      if (to !== undefined) exchangeTs.lt = BigInt(to);
      let cursor = {};
      if (after) {
        const ts = BigInt(after.exchangeTs);
        const id = BigInt(after.id);
        if (asc) {
          if (exchangeTs.gte === undefined || exchangeTs.gte < ts) exchangeTs.gte = ts;
          cursor = { OR: [{ exchangeTs: { gt: ts } }, { exchangeTs: ts, id: { gt: id } }] };
        } else {
          exchangeTs.lte = ts;
          cursor = { OR: [{ exchangeTs: { lt: ts } }, { exchangeTs: ts, id: { lt: id } }] };
        }
      }
      const rows = await prisma.tick.findMany({
        where: { instrumentKey, exchangeTs, ...cursor },
        orderBy: [{ exchangeTs: direction }, { id: direction }],
        take: Math.min(limit, maxPageSize),
      });
      return rows.map(toStoredTick);
    },

    async listSubscriptions() {
      const rows = await prisma.instrumentSubscription.findMany({ orderBy: { instrumentKey: 'asc' } });
      return rows.map((row) => ({ ...row, mode: row.mode as FeedMode }));
    },

    async upsertSubscriptions(entries) {
      if (entries.length === 0) return;
      // One multi-row INSERT … ON CONFLICT per chunk instead of a Prisma upsert per key: 5,000 keys took
      // seconds as single upserts (bench/subscribe.ts). Both SQLite (≥ 3.24) and PostgreSQL accept this form;
      // Date parameters go through the same driver adapter as Prisma's own writes, so reads see one format.
      const now = new Date();
      const statements = [];
      for (let start = 0; start < entries.length; start += UPSERT_CHUNK) {
        const rows = entries
          .slice(start, start + UPSERT_CHUNK)
          .map(({ instrumentKey, mode }) => Prisma.sql`(${instrumentKey}, ${mode}, ${now}, ${now})`);
        statements.push(
          prisma.$executeRaw`INSERT INTO "InstrumentSubscription" ("instrumentKey", "mode", "createdAt", "updatedAt")
            VALUES ${Prisma.join(rows)}
            ON CONFLICT ("instrumentKey") DO UPDATE SET "mode" = excluded."mode", "updatedAt" = excluded."updatedAt"`,
        );
      }
      await prisma.$transaction(statements);
    },

    async removeSubscriptions(instrumentKeys) {
      if (instrumentKeys.length === 0) return;
      await prisma.instrumentSubscription.deleteMany({ where: { instrumentKey: { in: [...instrumentKeys] } } });
    },
  };
}
