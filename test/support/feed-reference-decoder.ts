/**
 * The first decoder, kept as a test oracle: protobufjs `FeedResponse.decode` (proto.ts) into message objects,
 * then the same merge rules as src/upstox/decoder.ts. test/unit/decoder.test.ts feeds both the same generated
 * frames and requires identical updates, so the hand-written wire reader cannot drift from protobufjs.
 */
import type { LatestCache } from '../../src/ticks/latest-cache.js';
import {
  blankTick,
  type Candle,
  type DepthLevel,
  type Greeks,
  type Tick,
  type TickBatch,
  TickChange,
  type TickUpdate,
} from '../../src/ticks/tick.js';
import type { SegmentStatus } from '../../src/upstox/feed-client.js';
import {
  decodeFeedResponse,
  type WireFeed,
  type WireFeedResponse,
  type WireGreeks,
  type WireLtpc,
  type WireMarketInfo,
  type WireOhlc,
  type WireQuote,
} from '../../src/upstox/proto.js';
import {
  type FeedMode,
  FRAME_TYPE,
  MARKET_STATUSES,
  segmentOf,
  WIRE_MODE_TO_FEED_MODE,
} from '../../src/upstox/protocol.js';

/** A frame that is not a valid FeedResponse. The feed client counts it and keeps the connection. */
class ReferenceDecodeError extends Error {
  override name = 'DecodeError' as const;
  /** Size of the rejected frame. */
  readonly byteLength: number;
  constructor(message: string, options: { byteLength: number; cause?: unknown }) {
    super(message, { cause: options.cause });
    this.byteLength = options.byteLength;
  }
}

type DecodeResult =
  | { readonly kind: 'ticks'; readonly batch: TickBatch }
  | { readonly kind: 'market_info'; readonly segments: SegmentStatus[]; readonly exchangeTs: number };

interface Decoder {
  /**
   * Decodes one binary frame received at `receivedAt` (epoch ms) and merges its ticks into the cache.
   * Throws {@link DecodeError} for bytes that are not a FeedResponse; the cache is then unchanged.
   */
  decode(bytes: Uint8Array, receivedAt: number): DecodeResult;
}

interface DecoderOptions {
  /** Latest state per instrument: read to merge partial updates, written with every new Tick. */
  cache: LatestCache;
}

const has = (object: object, field: string): boolean => Object.hasOwn(object, field);

function isEmpty(object: object): boolean {
  for (const _ in object) return false;
  return true;
}

function emptyTick(instrumentKey: string, mode: FeedMode, isIndex: boolean): Tick {
  return blankTick(instrumentKey, mode, isIndex, 0, 0);
}

const INDEX_SEGMENT = /_INDEX$/;

// Structural sharing (allocation is the decoder's main cost: GC was ~40 % of a full-frame profile). A level or
// candle equal to the previous one is reused as is, and so is the whole array when nothing in it differs:
// deep book levels and the `I1` candle (fixed within a minute) mostly repeat from frame to frame.

function sameLevel(l: DepthLevel | undefined, q: WireQuote): l is DepthLevel {
  return (
    l !== undefined && l.bidQty === q.bidQ && l.bidPrice === q.bidP && l.askQty === q.askQ && l.askPrice === q.askP
  );
}

function mergeDepth(previous: readonly DepthLevel[] | null, wire: readonly WireQuote[]): readonly DepthLevel[] {
  let reused = previous !== null && previous.length === wire.length;
  const out = new Array<DepthLevel>(wire.length);
  for (let i = 0; i < wire.length; i++) {
    const q = wire[i]!;
    const old = previous?.[i];
    if (sameLevel(old, q)) out[i] = old;
    else {
      out[i] = { bidQty: q.bidQ, bidPrice: q.bidP, askQty: q.askQ, askPrice: q.askP };
      reused = false;
    }
  }
  return reused ? previous! : out;
}

/** All-zero greeks (the empty `{}` equities get) are null; equal greeks reuse the previous object. */
function mergeGreeks(previous: Greeks | null, g: WireGreeks): Greeks | null {
  if (g.delta === 0 && g.theta === 0 && g.gamma === 0 && g.vega === 0 && g.rho === 0) return null;
  if (
    previous !== null &&
    previous.delta === g.delta &&
    previous.theta === g.theta &&
    previous.gamma === g.gamma &&
    previous.vega === g.vega &&
    previous.rho === g.rho
  ) {
    return previous;
  }
  return { delta: g.delta, theta: g.theta, gamma: g.gamma, vega: g.vega, rho: g.rho };
}

function sameCandle(c: Candle, o: WireOhlc): boolean {
  return (
    c.open === o.open &&
    c.high === o.high &&
    c.low === o.low &&
    c.close === o.close &&
    c.volume === o.vol &&
    c.ts === o.ts
  );
}

function toCandle(o: WireOhlc): Candle {
  return { interval: o.interval, open: o.open, high: o.high, low: o.low, close: o.close, volume: o.vol, ts: o.ts };
}

/** Replaces candles by interval, keeping intervals the frame did not carry. */
function mergeCandles(previous: readonly Candle[] | null, wire: readonly WireOhlc[]): readonly Candle[] {
  if (previous === null || previous.length === 0) return wire.map(toCandle);
  let out: Candle[] | null = null;
  for (const o of wire) {
    const list: readonly Candle[] = out ?? previous;
    let at = -1;
    for (let i = 0; i < list.length; i++) {
      if (list[i]!.interval === o.interval) {
        at = i;
        break;
      }
    }
    if (at !== -1 && sameCandle(list[at]!, o)) continue;
    out ??= previous.slice();
    if (at === -1) out.push(toCandle(o));
    else out[at] = toCandle(o);
  }
  return out ?? previous;
}

/** Mutable working copy used while merging one feed; frozen into a Tick literal at the end. */
type Draft = { -readonly [K in keyof Tick]: Tick[K] };

function applyLtpc(d: Draft, w: WireLtpc): void {
  if (has(w, 'ltp')) d.ltp = w.ltp;
  else d.ltp ??= 0;
  if (has(w, 'ltt')) d.lastTradeTime = w.ltt;
  else d.lastTradeTime ??= 0;
  if (has(w, 'ltq')) d.ltq = w.ltq;
  else d.ltq ??= 0;
  if (has(w, 'cp')) d.closePrice = w.cp;
  else d.closePrice ??= 0;
  d.iep = w.iep ? (w.iep.value ?? 0) : null;
}

function statOr(w: object, field: string, value: number, previous: number | null): number {
  return has(w, field) ? value : (previous ?? 0);
}

function modeOf(feed: WireFeed, previous: Tick | undefined): FeedMode {
  if (has(feed, 'requestMode')) {
    const mode = WIRE_MODE_TO_FEED_MODE[feed.requestMode];
    if (mode) return mode;
  }
  if (feed.fullFeed) return previous?.mode === 'full_d30' ? 'full_d30' : 'full';
  if (feed.firstLevelWithGreeks) return 'option_greeks';
  return 'ltpc';
}

function mergeFeed(
  key: string,
  feed: WireFeed,
  previous: Tick | undefined,
  snapshot: boolean,
  exchangeTs: number,
  receivedAt: number,
): TickUpdate | null {
  const full = feed.fullFeed;
  const marketFF = full ? full.marketFF : null;
  const indexFF = full ? full.indexFF : null;
  const greeksFeed = feed.firstLevelWithGreeks;
  const ltpcOnly = feed.ltpc;
  if (!marketFF && !indexFF && !greeksFeed && !ltpcOnly) return null; // nothing we can use (empty oneof)

  const mode = modeOf(feed, previous);
  const isIndex = indexFF ? true : marketFF ? false : (previous?.isIndex ?? INDEX_SEGMENT.test(segmentOf(key)));
  const fresh = snapshot || previous === undefined || previous.mode !== mode || previous.isIndex !== isIndex;
  // The draft is itself the new Tick: a fixed-order literal (same hidden class for every Tick, so reads
  // downstream stay monomorphic), filled from the base and then patched by the wire parts below.
  const base = fresh ? emptyTick(key, mode, isIndex) : previous;
  const d: Draft = {
    instrumentKey: key,
    mode,
    isIndex,
    exchangeTs,
    receivedAt,
    ltp: base.ltp,
    lastTradeTime: base.lastTradeTime,
    ltq: base.ltq,
    closePrice: base.closePrice,
    iep: base.iep,
    depth: base.depth,
    candles: base.candles,
    greeks: base.greeks,
    averagePrice: base.averagePrice,
    volume: base.volume,
    openInterest: base.openInterest,
    impliedVolatility: base.impliedVolatility,
    totalBuyQty: base.totalBuyQty,
    totalSellQty: base.totalSellQty,
    auction: base.auction,
  };
  let changed = previous !== undefined && previous.mode !== mode ? TickChange.MODE : 0;

  const ltpc = ltpcOnly ?? marketFF?.ltpc ?? indexFF?.ltpc ?? greeksFeed?.ltpc ?? null;
  if (ltpc) {
    applyLtpc(d, ltpc);
    changed |= TickChange.LTPC;
  }

  if (marketFF) {
    if (marketFF.marketLevel) {
      d.depth = mergeDepth(fresh ? null : d.depth, marketFF.marketLevel.bidAskQuote);
      changed |= TickChange.DEPTH;
    }
    if (marketFF.optionGreeks) {
      const greeks = mergeGreeks(fresh ? null : d.greeks, marketFF.optionGreeks);
      if (greeks !== null || d.greeks !== null) changed |= TickChange.GREEKS;
      d.greeks = greeks;
    }
    if (marketFF.marketOHLC) {
      d.candles = mergeCandles(fresh ? null : d.candles, marketFF.marketOHLC.ohlc);
      changed |= TickChange.CANDLES;
    }
    const m = marketFF;
    if (fresh || has(m, 'atp') || has(m, 'vtt') || has(m, 'oi') || has(m, 'iv') || has(m, 'tbq') || has(m, 'tsq')) {
      d.averagePrice = statOr(m, 'atp', m.atp, d.averagePrice);
      d.volume = statOr(m, 'vtt', m.vtt, d.volume);
      d.openInterest = statOr(m, 'oi', m.oi, d.openInterest);
      d.impliedVolatility = statOr(m, 'iv', m.iv, d.impliedVolatility);
      d.totalBuyQty = statOr(m, 'tbq', m.tbq, d.totalBuyQty);
      d.totalSellQty = statOr(m, 'tsq', m.tsq, d.totalSellQty);
      changed |= TickChange.STATS;
    }
    if (
      has(m, 'iep') ||
      has(m, 'rp') ||
      has(m, 'ieq') ||
      has(m, 'iiqTotal') ||
      has(m, 'iiqM') ||
      has(m, 'casEligible')
    ) {
      const a = d.auction;
      d.auction = {
        iep: statOr(m, 'iep', m.iep, a?.iep ?? null),
        rp: statOr(m, 'rp', m.rp, a?.rp ?? null),
        ieq: statOr(m, 'ieq', m.ieq, a?.ieq ?? null),
        iiqTotal: statOr(m, 'iiqTotal', m.iiqTotal, a?.iiqTotal ?? null),
        iiqM: statOr(m, 'iiqM', m.iiqM, a?.iiqM ?? null),
        casEligible: has(m, 'casEligible') ? m.casEligible : (a?.casEligible ?? false),
      };
      changed |= TickChange.AUCTION;
    }
  } else if (indexFF) {
    if (indexFF.marketOHLC) {
      d.candles = mergeCandles(fresh ? null : d.candles, indexFF.marketOHLC.ohlc);
      changed |= TickChange.CANDLES;
    }
  } else if (greeksFeed) {
    if (greeksFeed.firstDepth) {
      d.depth = mergeDepth(fresh ? null : d.depth, [greeksFeed.firstDepth]);
      changed |= TickChange.DEPTH;
    }
    if (greeksFeed.optionGreeks) {
      const greeks = mergeGreeks(fresh ? null : d.greeks, greeksFeed.optionGreeks);
      if (greeks !== null || d.greeks !== null) changed |= TickChange.GREEKS;
      d.greeks = greeks;
    }
    const g = greeksFeed;
    if (fresh || has(g, 'vtt') || has(g, 'oi') || has(g, 'iv')) {
      d.volume = statOr(g, 'vtt', g.vtt, d.volume);
      d.openInterest = statOr(g, 'oi', g.oi, d.openInterest);
      d.impliedVolatility = statOr(g, 'iv', g.iv, d.impliedVolatility);
      changed |= TickChange.STATS;
    }
  }

  const tick: Tick = d;
  return { tick, changed, snapshot };
}

function toSegments(info: WireMarketInfo): SegmentStatus[] {
  const bySegment = new Map<string, { -readonly [K in keyof SegmentStatus]: SegmentStatus[K] }>();
  const entry = (segment: string) => {
    let s = bySegment.get(segment);
    if (!s) {
      s = { segment, status: null, casStatus: null, casUpdatedAt: null, preOpenStatus: null, preOpenUpdatedAt: null };
      bySegment.set(segment, s);
    }
    return s;
  };
  for (const [segment, value] of Object.entries(info.segmentStatus ?? {})) {
    entry(segment).status = MARKET_STATUSES[value] ?? null;
  }
  for (const [segment, value] of Object.entries(info.casMarketStatus ?? {})) {
    const s = entry(segment);
    s.casStatus = value.status || null;
    s.casUpdatedAt = value.updatedTime || null;
  }
  for (const [segment, value] of Object.entries(info.preOpenSessionStatus ?? {})) {
    const s = entry(segment);
    s.preOpenStatus = value.status || null;
    s.preOpenUpdatedAt = value.updatedTime || null;
  }
  return [...bySegment.values()];
}

export function createReferenceDecoder({ cache }: DecoderOptions): Decoder {
  return {
    decode(bytes, receivedAt) {
      let response: WireFeedResponse;
      try {
        response = decodeFeedResponse(bytes);
      } catch (cause) {
        const reason = cause instanceof Error ? cause.message : String(cause);
        throw new ReferenceDecodeError(`not a FeedResponse frame (${bytes.byteLength} bytes): ${reason}`, {
          byteLength: bytes.byteLength,
          cause,
        });
      }
      const exchangeTs = response.currentTs || receivedAt;
      // type 2; a frame that carries only marketInfo is treated the same even if its type were missing.
      if (response.type === FRAME_TYPE.market_info || (response.marketInfo && isEmpty(response.feeds))) {
        return {
          kind: 'market_info',
          segments: response.marketInfo ? toSegments(response.marketInfo) : [],
          exchangeTs,
        };
      }
      // Unknown future types are treated as live (partial) updates: merging never loses state.
      const snapshot = response.type === FRAME_TYPE.initial_feed;
      const updates: TickUpdate[] = [];
      const feeds = response.feeds;
      for (const key in feeds) {
        const update = mergeFeed(key, feeds[key]!, cache.get(key), snapshot, exchangeTs, receivedAt);
        if (update === null) continue;
        cache.set(update.tick);
        updates.push(update);
      }
      return { kind: 'ticks', batch: { exchangeTs, receivedAt, updates } };
    },
  };
}
