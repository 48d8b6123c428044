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
