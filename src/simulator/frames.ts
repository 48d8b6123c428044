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

function nz<T extends number>(value: T): T | undefined {
  return value === 0 ? undefined : value;
}

function ltpcOf(s: InstrumentState): WireLtpc {
  const out: WireLtpc = { ltp: nz(s.ltp), ltt: nz(s.ltt), cp: nz(s.cp) };
  // Index LTPC carries no ltq (§3.4).
  if (s.spec.kind !== 'index') out.ltq = nz(s.ltq);
  return strip(out);
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
  return strip({ delta: nz(g.delta), theta: nz(g.theta), gamma: nz(g.gamma), vega: nz(g.vega), rho: nz(g.rho) });
}

function quoteOf(q: { bidQ: number; bidP: number; askQ: number; askP: number }): WireQuote {
  return strip({ bidQ: nz(q.bidQ), bidP: nz(q.bidP), askQ: nz(q.askQ), askP: nz(q.askP) });
}

/** Drops undefined properties so the object the 'frame' event exposes is exactly what was encoded. */
function strip<T extends object>(o: T): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined) delete o[k];
  return o;
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
    if (traded) {
      flg.ltpc = ltpcOf(s);
      flg.optionGreeks = greeksOf(s);
      flg.vtt = nz(s.vtt);
      flg.oi = nz(s.oi);
      flg.iv = nz(s.iv);
    }
    if (book) {
      const best = model.depth(key, 1)[0];
      if (best) flg.firstDepth = quoteOf(best);
    }
    return { firstLevelWithGreeks: strip(flg), requestMode };
  }
  // full / full_d30
  if (isIndex) {
    return traded ? { fullFeed: { indexFF: { ltpc: ltpcOf(s), marketOHLC: ohlcOf(s) } }, requestMode } : undefined;
  }
  const ff: NonNullable<NonNullable<WireFeed['fullFeed']>['marketFF']> = {};
  if (traded) {
    ff.ltpc = ltpcOf(s);
    ff.optionGreeks = greeksOf(s);
    ff.marketOHLC = ohlcOf(s);
    ff.atp = nz(s.atp);
    ff.vtt = nz(s.vtt);
    ff.oi = nz(s.oi);
    ff.iv = nz(s.iv);
  }
  if (book) {
    ff.marketLevel = { bidAskQuote: model.depth(key, mode === 'full_d30' ? 30 : 5).map(quoteOf) };
  }
  ff.tbq = nz(s.tbq);
  ff.tsq = nz(s.tsq);
  return { fullFeed: { marketFF: strip(ff) }, requestMode };
}

export interface MarketInfoOptions {
  /** Status per segment; segments not listed are NORMAL_OPEN. */
  segmentStatus?: Partial<Record<string, MarketStatus>>;
}

/**
 * The `market_info` frame (type 2) sent first on every connection: the 11 segment statuses plus the 2026 CAS maps.
 * What the live service puts in `casMarketStatus` / `preOpenSessionStatus` is [UNCONFIRMED] (empty during the
 * normal session in the field notes); we send the equity and F&O pre-open as ended at 09:08 IST and no CAS entry.
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
    // casMarketStatus: no entry (an empty map is not on the wire at all).
    preOpenSessionStatus: { NSE_EQ: { ...preOpenEnd }, NSE_FO: { ...preOpenEnd } },
  };
  return { type: FRAME_TYPE.market_info, currentTs: now, marketInfo: info };
}
