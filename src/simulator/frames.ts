/**
 * Turns market-model state into the plain FeedResponse objects the simulator encodes (§3). One function per
 * frame kind; feed content per requested mode (§2.3):
 *
 * - `ltpc`          → `Feed.ltpc` (requestMode ltpc = 0, so absent on the wire).
 * - `full`          → `fullFeed.marketFF` with 5 levels, `1d` + `I1` candles, greeks (`{}` for non-options),
 *                     atp/vtt/oi/iv/tbq/tsq; CAS fields zero (so omitted) — requestMode `full_d5`.
 *                     Indices → `fullFeed.indexFF` with ltpc (no ltq) + candles.
 * - `full_d30`      → as full with 30 levels, requestMode `full_d30`.
 * - `option_greeks` → `firstLevelWithGreeks`: ltpc, best level, greeks, vtt, oi, iv. For an index (not
 *                     documented) only its ltpc.
 *
 * Snapshots carry everything; live entries only the parts a {@link CHANGE} mask says moved, so they are partial
 * like the real feed (a trade without a book change has no `marketLevel`; a book-only update has no `ltpc`).
 * Zero/false/empty values are left out of the objects, which is what proto3 does on the wire.
 */
import {
  FEED_MODE_TO_WIRE,
  type FeedMode,
  FRAME_TYPE,
  MARKET_STATUSES,
  type MarketStatus,
} from '../upstox/protocol.js';
import { type Candle, CHANGE, type InstrumentState, type MarketModel } from './market-model.js';
import type {
  WireFeed,
  WireFeedResponse,
  WireGreeks,
  WireLtpc,
  WireMarketInfo,
  WireOhlc,
  WireQuote,
  WireStatusInfo,
} from './wire.js';

/** The 11 segments the real `market_info` lists (§3.4). */
export const MARKET_INFO_SEGMENTS = [
  'NSE_EQ',
  'NSE_FO',
  'NSE_INDEX',
  'NSE_COM',
  'NCD_FO',
  'BSE_EQ',
  'BSE_FO',
  'BSE_INDEX',
  'BCD_FO',
  'MCX_FO',
  'MCX_INDEX',
] as const;

// Objects are built by adding only non-default properties (never `delete`: that drops V8 objects into
// dictionary mode and made encoding of full frames ~2.5× slower when measured).

function ltpcOf(s: InstrumentState): WireLtpc {
  const out: WireLtpc = {};
  if (s.ltp !== 0) out.ltp = s.ltp;
  if (s.ltt !== 0) out.ltt = s.ltt;
  // Index LTPC carries no ltq (§3.4).
  if (s.ltq !== 0 && s.spec.kind !== 'index') out.ltq = s.ltq;
  if (s.cp !== 0) out.cp = s.cp;
  return out;
}

function candle(interval: string, c: Candle, withVolume: boolean): WireOhlc {
  const out: WireOhlc = { interval, open: c.open, high: c.high, low: c.low, close: c.close, ts: c.ts };
  if (withVolume && c.vol !== 0) out.vol = c.vol;
  return out;
}

function ohlcOf(s: InstrumentState): { ohlc: WireOhlc[] } {
  const withVolume = s.spec.kind !== 'index';
  return { ohlc: [candle('1d', s.day, withVolume), candle('I1', s.lastMinute, withVolume)] };
}

function greeksOf(s: InstrumentState): WireGreeks {
  // Equities and futures still carry an (empty) greeks message in full mode (observed, §3.4).
  if (!s.greeks) return {};
  const g = s.greeks;
  const out: WireGreeks = {};
  if (g.delta !== 0) out.delta = g.delta;
  if (g.theta !== 0) out.theta = g.theta;
  if (g.gamma !== 0) out.gamma = g.gamma;
  if (g.vega !== 0) out.vega = g.vega;
  if (g.rho !== 0) out.rho = g.rho;
  return out;
}

function quoteOf(q: { bidQ: number; bidP: number; askQ: number; askP: number }): WireQuote {
  // Book levels are never zero in this model (quantities ≥ 1 lot, prices ≥ 1 tick): one fixed shape.
  if (q.bidQ !== 0 && q.bidP !== 0 && q.askQ !== 0 && q.askP !== 0) {
    return { bidQ: q.bidQ, bidP: q.bidP, askQ: q.askQ, askP: q.askP };
  }
  const out: WireQuote = {};
  if (q.bidQ !== 0) out.bidQ = q.bidQ;
  if (q.bidP !== 0) out.bidP = q.bidP;
  if (q.askQ !== 0) out.askQ = q.askQ;
  if (q.askP !== 0) out.askP = q.askP;
  return out;
}

/**
 * One key's Feed for `mode`. `change` = -1 builds a snapshot (everything); otherwise a {@link CHANGE} mask
 * selects the parts. Returns undefined when nothing in this mode changed (e.g. a book-only update in ltpc).
 */
export function buildFeed(model: MarketModel, key: string, mode: FeedMode, change: number): WireFeed | undefined {
  const s = model.state(key);
  if (!s) return undefined;
  const all = change === -1;
  const traded = all || (change & CHANGE.TRADE) !== 0;
  const book = all || (change & CHANGE.DEPTH) !== 0;
  const isIndex = s.spec.kind === 'index';
  if (mode === 'ltpc') return traded ? { ltpc: ltpcOf(s) } : undefined;
  const requestMode = FEED_MODE_TO_WIRE[mode];
  if (mode === 'option_greeks') {
    if (isIndex) return traded ? { firstLevelWithGreeks: { ltpc: ltpcOf(s) }, requestMode } : undefined;
    const flg: WireFeed['firstLevelWithGreeks'] = {};
    if (traded) flg.ltpc = ltpcOf(s);
    if (book) {
      const best = model.depth(key, 1)[0];
      if (best) flg.firstDepth = quoteOf(best);
    }
    if (traded) {
      flg.optionGreeks = greeksOf(s);
      if (s.vtt !== 0) flg.vtt = s.vtt;
      if (s.oi !== 0) flg.oi = s.oi;
      if (s.iv !== 0) flg.iv = s.iv;
    }
    return { firstLevelWithGreeks: flg, requestMode };
  }
  // full / full_d30
  if (isIndex) {
    return traded ? { fullFeed: { indexFF: { ltpc: ltpcOf(s), marketOHLC: ohlcOf(s) } }, requestMode } : undefined;
  }
  const ff: NonNullable<NonNullable<WireFeed['fullFeed']>['marketFF']> = {};
  if (traded) ff.ltpc = ltpcOf(s);
  if (book) ff.marketLevel = { bidAskQuote: model.depth(key, mode === 'full_d30' ? 30 : 5).map(quoteOf) };
  if (traded) {
    ff.optionGreeks = greeksOf(s);
    ff.marketOHLC = ohlcOf(s);
    if (s.atp !== 0) ff.atp = s.atp;
    if (s.vtt !== 0) ff.vtt = s.vtt;
    if (s.oi !== 0) ff.oi = s.oi;
    if (s.iv !== 0) ff.iv = s.iv;
  }
  if (s.tbq !== 0) ff.tbq = s.tbq;
  if (s.tsq !== 0) ff.tsq = s.tsq;
  return { fullFeed: { marketFF: ff }, requestMode };
}

export interface MarketInfoOptions {
  /** Status per segment; segments not listed are NORMAL_OPEN. */
  segmentStatus?: Partial<Record<string, MarketStatus>>;
}

/**
 * The `market_info` frame (type 2) sent first on every connection: the 11 segment statuses plus the 2026 CAS maps.
 * What the live service puts in `casMarketStatus` / `preOpenSessionStatus` is [UNCONFIRMED] (field notes saw an
 * empty pre-open map during the session). We send one entry in each so clients exercise both maps: the equity
 * call-auction session as NORMAL_OPEN since 09:15 IST and the equity/F&O pre-open as ended at 09:08 IST (status
 * strings borrowed from MarketStatus names).
 */
export function buildMarketInfo(
  now: number,
  dayStart: number,
  { segmentStatus = {} }: MarketInfoOptions = {},
): WireFeedResponse {
  const status: Record<string, number> = {};
  for (const seg of MARKET_INFO_SEGMENTS) {
    status[seg] = MARKET_STATUSES.indexOf(segmentStatus[seg] ?? 'NORMAL_OPEN');
  }
  const preOpenEnd: WireStatusInfo = { status: 'PRE_OPEN_END', updatedTime: dayStart + (9 * 60 + 8) * 60_000 };
  const info: WireMarketInfo = {
    segmentStatus: status,
    casMarketStatus: { NSE_EQ: { status: 'NORMAL_OPEN', updatedTime: dayStart + (9 * 60 + 15) * 60_000 } },
    preOpenSessionStatus: { NSE_EQ: { ...preOpenEnd }, NSE_FO: { ...preOpenEnd } },
  };
  return { type: FRAME_TYPE.market_info, currentTs: now, marketInfo: info };
}
