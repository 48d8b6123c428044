/**
 * tickgraph's own tick vocabulary. Nothing from protobuf or Prisma leaks past these types: the decoder
 * produces them, the pipeline moves them, the store and GraphQL read them.
 *
 * A {@link Tick} is the *merged* state of one instrument right after one feed update. Live Upstox frames
 * are partial (a key may carry only depth, or only LTPC), so the decoder merges each update into the
 * previous state and emits a new immutable object; unchanged parts (depth arrays, candles) are shared.
 * Holding a Tick is therefore always safe: later updates never mutate it.
 */
import type { FeedMode } from '../upstox/protocol.js';

/** One level of the order book; level 0 is the best bid/ask. */
export interface DepthLevel {
  readonly bidQty: number;
  readonly bidPrice: number;
  readonly askQty: number;
  readonly askPrice: number;
}

export interface Greeks {
  readonly delta: number;
  readonly theta: number;
  readonly gamma: number;
  readonly vega: number;
  readonly rho: number;
}

/** A candle as Upstox sends it in full mode: interval `1d` (day) or `I1` (last completed minute). */
export interface Candle {
  readonly interval: string;
  readonly open: number;
  readonly high: number;
  readonly low: number;
  readonly close: number;
  readonly volume: number;
  /** Candle start, epoch ms. */
  readonly ts: number;
}

/** Call-auction session (CAS / pre-open) fields, present in full mode since the 2026 schema. */
export interface AuctionInfo {
  readonly iep: number;
  readonly rp: number;
  readonly ieq: number;
  readonly iiqTotal: number;
  readonly iiqM: number;
  readonly casEligible: boolean;
}

/**
 * The merged state of one instrument. Fields a mode does not carry are `null` (never `undefined`, so every
 * Tick has the same shape and V8 keeps property access monomorphic on the hot path).
 */
export interface Tick {
  readonly instrumentKey: string;
  /** Mode the feed delivered this instrument in (`full_d5` on the wire is `full` here). */
  readonly mode: FeedMode;
  /** True for index instruments (full mode sends `indexFF`: LTPC + OHLC only). */
  readonly isIndex: boolean;
  /** Exchange/feed timestamp of the frame that carried the latest update (`FeedResponse.currentTs`), epoch ms. */
  readonly exchangeTs: number;
  /** When tickgraph received that frame, epoch ms. */
  readonly receivedAt: number;

  readonly ltp: number | null;
  /** Last trade time, epoch ms. */
  readonly lastTradeTime: number | null;
  readonly ltq: number | null;
  /** Previous day close. */
  readonly closePrice: number | null;
  /** Indicative equilibrium price from `LTPC.iep` (only during CAS / pre-open). */
  readonly iep: number | null;

  /** Order book, best level first: 5 levels in full, 30 in full_d30, 1 in option_greeks. */
  readonly depth: readonly DepthLevel[] | null;
  readonly candles: readonly Candle[] | null;
  readonly greeks: Greeks | null;

  readonly averagePrice: number | null;
  /** Volume traded today (`vtt`). */
  readonly volume: number | null;
  readonly openInterest: number | null;
  /** Implied volatility as a fraction (0.1334 = 13.34 %). */
  readonly impliedVolatility: number | null;
  readonly totalBuyQty: number | null;
  readonly totalSellQty: number | null;
  readonly auction: AuctionInfo | null;
}

/** Which parts of a Tick an update touched; a bit set, so checking and combining is cheap. */
export const TickChange = {
  LTPC: 1,
  DEPTH: 2,
  CANDLES: 4,
  GREEKS: 8,
  /** atp, vtt, oi, iv, tbq, tsq */
  STATS: 16,
  AUCTION: 32,
  /** The instrument's mode changed (e.g. after change_mode). */
  MODE: 64,
} as const;
export type TickChangeName = keyof typeof TickChange;

/** Names of the bits set in `mask`, in declaration order. */
export function changeNames(mask: number): TickChangeName[] {
  const names: TickChangeName[] = [];
  for (const name of Object.keys(TickChange) as TickChangeName[]) if (mask & TickChange[name]) names.push(name);
  return names;
}

/** One instrument's update, as handed downstream: what changed and the merged state after it. */
export interface TickUpdate {
  readonly tick: Tick;
  /** Bit set of {@link TickChange}. */
  readonly changed: number;
  /** True when the update came from a snapshot (`initial_feed`) rather than a live frame. */
  readonly snapshot: boolean;
}

/**
 * All updates decoded from one upstream frame. The pipeline, the tick bus and GraphQL subscriptions move
 * batches, not single ticks, so per-event costs are paid once per frame.
 */
export interface TickBatch {
  /** `FeedResponse.currentTs` of the frame, epoch ms. */
  readonly exchangeTs: number;
  readonly receivedAt: number;
  readonly updates: readonly TickUpdate[];
}

/** A Tick whose fields can still be filled in (the decoder's draft while merging one update). */
export type MutableTick = { -readonly [K in keyof Tick]: Tick[K] };

/**
 * A Tick with nothing known yet: every mode-dependent field null. Always built by this one literal in one
 * field order, so every Tick shares a hidden class and reads downstream stay monomorphic.
 */
export function blankTick(
  instrumentKey: string,
  mode: FeedMode,
  isIndex: boolean,
  exchangeTs: number,
  receivedAt: number,
): MutableTick {
  return {
    instrumentKey,
    mode,
    isIndex,
    exchangeTs,
    receivedAt,
    ltp: null,
    lastTradeTime: null,
    ltq: null,
    closePrice: null,
    iep: null,
    depth: null,
    candles: null,
    greeks: null,
    averagePrice: null,
    volume: null,
    openInterest: null,
    impliedVolatility: null,
    totalBuyQty: null,
    totalSellQty: null,
    auction: null,
  };
}
