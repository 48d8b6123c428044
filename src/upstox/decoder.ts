/**
 * Bytes → our Tick updates. One pass over each frame's protobuf bytes, merging every instrument's (possibly
 * partial) feed straight into its previous Tick from the latest cache: a new immutable Tick that shares
 * unchanged parts (depth levels, candles, greeks, auction) with the previous one.
 *
 * Why a hand-written wire reader instead of `FeedResponse.decode` (proto.ts keeps protobufjs for encoding, for
 * tests and as the reference): decoding through protobufjs allocates a message object per sub-message (≈ 14 per
 * full key, plus a Long per int64) that the merge then copies into Ticks and drops — allocation and GC were the
 * main cost in profiles (~40 % GC on full frames). Reading fields in place and allocating only the Tick parts
 * that changed makes decode + merge of live frames about as fast as protobufjs' decode alone, 2–3× the
 * protobufjs path it replaced (numbers in proto.ts's header). The
 * schema is tiny and frozen on the wire, the field numbers come from the same tables as proto/ and are pinned
 * by test/unit/golden-frames.test.ts, and test/unit/decoder.test.ts checks this reader against protobufjs on
 * generated frames.
 *
 * Wire semantics mirror protobufjs/proto3: unknown fields and known fields with an unexpected wire type are
 * skipped; wire types 3, 4, 6, 7 and any read past the end are errors; a scalar equal to 0 (or NaN, or false)
 * counts as absent, exactly as protobufjs 8 drops it; repeated fields append; for a oneof the last member wins.
 *
 * Merge rules (spec shared/upstox-feed-v3.md §3.4):
 * - `initial_feed` (type absent on the wire) is a snapshot: the Tick is rebuilt from the frame alone.
 *   A mode change (or a first sighting) also starts from an empty Tick, so fields of the old mode go away.
 * - `live_feed` is partial: a missing sub-message (no `marketLevel`, no `ltpc` …) keeps the previous part, and
 *   a missing scalar (proto3 omits zeros; depth-only packets omit atp/vtt/…) keeps the previous value. The
 *   price of that rule: a live value that genuinely drops to exactly 0 is only seen at the next snapshot.
 *   Sub-messages (one depth level, one candle, the greeks) are taken whole: absent fields inside them are 0.
 * - Candles merge by interval (`1d`, `I1`): a frame carrying only one interval leaves the other in place.
 * - `optionGreeks: {}` (equities and futures in full mode get an empty message): all-zero greeks are
 *   "not applicable" and become `greeks: null`, so a client never mistakes them for real zero sensitivities.
 *   Trade-off: an option whose five greeks all round to exactly 0 also reads null.
 * - `LTPC.iep` is a DoubleValue wrapper: present → that price; absent in a present LTPC → null (the wrapper
 *   exists precisely so "no IEP" is distinguishable from 0, and it disappears after the auction).
 * - Mode: `requestMode` when on the wire (`full_d5` → 'full'); it is absent for ltpc (0), so otherwise the
 *   oneof branch decides (ltpc → ltpc, firstLevelWithGreeks → option_greeks, fullFeed → full / full_d30).
 * - `FeedResponse.currentTs` → `exchangeTs` (receivedAt when a frame lacks it).
 * - A malformed frame changes nothing: updates are written to the cache only after the whole frame parsed.
 */

import type { LatestCache } from '../ticks/latest-cache.js';
import {
  type AuctionInfo,
  blankTick,
  type Candle,
  type DepthLevel,
  type Greeks,
  type MutableTick,
  type Tick,
  type TickBatch,
  TickChange,
  type TickUpdate,
} from '../ticks/tick.js';
import type { SegmentStatus } from './feed-client.js';
import { type FeedMode, FRAME_TYPE, MARKET_STATUSES, segmentOf, WIRE_MODE_TO_FEED_MODE } from './protocol.js';

/** A frame that is not a valid FeedResponse. The feed client counts it and keeps the connection. */
export class DecodeError extends Error {
  override name = 'DecodeError' as const;
  /** Size of the rejected frame. */
  readonly byteLength: number;
  constructor(message: string, options: { byteLength: number; cause?: unknown }) {
    super(message, { cause: options.cause });
    this.byteLength = options.byteLength;
  }
}

export type DecodeResult =
  | { readonly kind: 'ticks'; readonly batch: TickBatch }
  | { readonly kind: 'market_info'; readonly segments: SegmentStatus[]; readonly exchangeTs: number };

export interface Decoder {
  /**
   * Decodes one binary frame received at `receivedAt` (epoch ms) and merges its ticks into the cache.
   * Throws {@link DecodeError} for bytes that are not a FeedResponse; the cache is then unchanged.
   */
  decode(bytes: Uint8Array, receivedAt: number): DecodeResult;
}

export interface DecoderOptions {
  /** Latest state per instrument: read to merge partial updates, written with every new Tick. */
  cache: LatestCache;
}

// ---- Wire reading ------------------------------------------------------------------------------------------

// Field numbers: shared/upstox-feed-v3.md §3.2 (= proto/MarketDataFeedV3.proto). Wire types: 0 varint,
// 1 fixed64 (double), 2 length-delimited, 5 fixed32.
const VARINT = 0;
const FIXED64 = 1;
const LEN = 2;
const FIXED32 = 5;
const TWO_32 = 4_294_967_296;

/** Cursor over one frame; `pos` moves, the rest is fixed per frame. */
interface Cursor {
  buf: Uint8Array;
  view: DataView;
  text: Buffer;
  pos: number;
}

function malformed(message: string): never {
  throw new RangeError(message);
}

/** A varint as a number: exact below 2^53; negative (10-byte) int64/int32 values as negative numbers. */
function varint(c: Cursor, end: number): number {
  const buf = c.buf;
  let pos = c.pos;
  let lo = 0;
  let byte = 0;
  for (let shift = 0; shift < 28; shift += 7) {
    if (pos >= end) malformed(`varint runs past the end at ${pos}`);
    byte = buf[pos++]!;
    lo |= (byte & 0x7f) << shift;
    if (byte < 0x80) {
      c.pos = pos;
      return lo >>> 0;
    }
  }
  if (pos >= end) malformed(`varint runs past the end at ${pos}`);
  byte = buf[pos++]!;
  lo = (lo | ((byte & 0x7f) << 28)) >>> 0;
  let hi = (byte & 0x7f) >> 4;
  if (byte >= 0x80) {
    for (let shift = 3; shift < 32; shift += 7) {
      if (pos >= end) malformed(`varint runs past the end at ${pos}`);
      byte = buf[pos++]!;
      hi |= (byte & 0x7f) << shift;
      if (byte < 0x80) break;
    }
    if (byte >= 0x80) malformed(`varint longer than 10 bytes at ${pos}`);
  }
  c.pos = pos;
  hi >>>= 0;
  if (hi >= 0x80000000) return -((TWO_32 - 1 - hi) * TWO_32 + (TWO_32 - lo));
  return hi * TWO_32 + lo;
}

/** A field tag: at most 5 bytes, fits 32 bits, field number ≥ 1 (as protobufjs requires). */
function readTag(c: Cursor, end: number): number {
  const buf = c.buf;
  let pos = c.pos;
  let value = 0;
  for (let shift = 0; shift < 35; shift += 7) {
    if (pos >= end) malformed(`tag runs past the end at ${pos}`);
    const byte = buf[pos++]!;
    if (shift === 28 && byte > 0x0f) break;
    value = (value | ((byte & 0x7f) << shift)) >>> 0;
    if (byte < 0x80) {
      if (value >>> 3 === 0) malformed(`field number 0 at ${c.pos}`);
      c.pos = pos;
      return value;
    }
  }
  malformed(`invalid tag encoding at ${c.pos}`);
}

function double(c: Cursor, end: number): number {
  if (c.pos + 8 > end) malformed(`double runs past the end at ${c.pos}`);
  const value = c.view.getFloat64(c.pos, true);
  c.pos += 8;
  return value;
}

/** Reads a length prefix and returns the end of the delimited bytes (the cursor stays at their start). */
function delimited(c: Cursor, end: number): number {
  const length = varint(c, end);
  const stop = c.pos + length;
  if (length < 0 || stop > end) malformed(`length ${length} at ${c.pos} runs past the end`);
  return stop;
}

function string(c: Cursor, end: number): string {
  const stop = delimited(c, end);
  const value = c.text.toString('utf8', c.pos, stop);
  c.pos = stop;
  return value;
}

function skip(c: Cursor, wireType: number, end: number): void {
  switch (wireType) {
    case VARINT:
      varint(c, end);
      return;
    case FIXED64:
      if (c.pos + 8 > end) malformed(`fixed64 runs past the end at ${c.pos}`);
      c.pos += 8;
      return;
    case LEN:
      c.pos = delimited(c, end);
      return;
    case FIXED32:
      if (c.pos + 4 > end) malformed(`fixed32 runs past the end at ${c.pos}`);
      c.pos += 4;
      return;
    default:
      malformed(`invalid wire type ${wireType} at ${c.pos}`);
  }
}

/** Reusable per-decoder buffers for repeated sub-messages, so parsing a frame allocates only what it keeps. */
interface Scratch {
  quotes: number[]; // 4 numbers per level: bidQ, bidP, askQ, askP
  quoteCount: number;
  candleIntervals: string[];
  candleValues: number[]; // 6 numbers per candle: open, high, low, close, vol, ts
  candleCount: number;
  feedStarts: number[];
  feedEnds: number[];
}

function readQuote(c: Cursor, end: number, s: Scratch): void {
  let bidQ = 0;
  let bidP = 0;
  let askQ = 0;
  let askP = 0;
  while (c.pos < end) {
    const tag = readTag(c, end);
    const wt = tag & 7;
    switch (tag >>> 3) {
      case 1:
        if (wt === VARINT) {
          bidQ = varint(c, end);
          continue;
        }
        break;
      case 2:
        if (wt === FIXED64) {
          bidP = double(c, end);
          continue;
        }
        break;
      case 3:
        if (wt === VARINT) {
          askQ = varint(c, end);
          continue;
        }
        break;
      case 4:
        if (wt === FIXED64) {
          askP = double(c, end);
          continue;
        }
        break;
    }
    skip(c, wt, end);
  }
  const at = s.quoteCount++ * 4;
  s.quotes[at] = bidQ || 0;
  s.quotes[at + 1] = bidP || 0;
  s.quotes[at + 2] = askQ || 0;
  s.quotes[at + 3] = askP || 0;
}

/** MarketLevel: repeated Quote bidAskQuote = 1. */
function readMarketLevel(c: Cursor, end: number, s: Scratch): void {
  while (c.pos < end) {
    const tag = readTag(c, end);
    const wt = tag & 7;
    if (tag >>> 3 === 1 && wt === LEN) {
      const stop = delimited(c, end);
      readQuote(c, stop, s);
      c.pos = stop;
      continue;
    }
    skip(c, wt, end);
  }
}

function readOhlc(c: Cursor, end: number, s: Scratch): void {
  let interval = '';
  let open = 0;
  let high = 0;
  let low = 0;
  let close = 0;
  let vol = 0;
  let ts = 0;
  while (c.pos < end) {
    const tag = readTag(c, end);
    const wt = tag & 7;
    switch (tag >>> 3) {
      case 1:
        if (wt === LEN) {
          interval = string(c, end);
          continue;
        }
        break;
      case 2:
        if (wt === FIXED64) {
          open = double(c, end);
          continue;
        }
        break;
      case 3:
        if (wt === FIXED64) {
          high = double(c, end);
          continue;
        }
        break;
      case 4:
        if (wt === FIXED64) {
          low = double(c, end);
          continue;
        }
        break;
      case 5:
        if (wt === FIXED64) {
          close = double(c, end);
          continue;
        }
        break;
      case 6:
        if (wt === VARINT) {
          vol = varint(c, end);
          continue;
        }
        break;
      case 7:
        if (wt === VARINT) {
          ts = varint(c, end);
          continue;
        }
        break;
    }
    skip(c, wt, end);
  }
  const i = s.candleCount++;
  s.candleIntervals[i] = interval;
  const at = i * 6;
  s.candleValues[at] = open || 0;
  s.candleValues[at + 1] = high || 0;
  s.candleValues[at + 2] = low || 0;
  s.candleValues[at + 3] = close || 0;
  s.candleValues[at + 4] = vol || 0;
  s.candleValues[at + 5] = ts || 0;
}

/** MarketOHLC: repeated OHLC ohlc = 1. */
function readMarketOhlc(c: Cursor, end: number, s: Scratch): void {
  while (c.pos < end) {
    const tag = readTag(c, end);
    const wt = tag & 7;
    if (tag >>> 3 === 1 && wt === LEN) {
      const stop = delimited(c, end);
      readOhlc(c, stop, s);
      c.pos = stop;
      continue;
    }
    skip(c, wt, end);
  }
}

/** Five greeks, each 0 when absent; null when all are 0 (the empty `{}` equities get). */
function readGreeks(c: Cursor, end: number, previous: Greeks | null): Greeks | null {
  let delta = 0;
  let theta = 0;
  let gamma = 0;
  let vega = 0;
  let rho = 0;
  while (c.pos < end) {
    const tag = readTag(c, end);
    const wt = tag & 7;
    if (wt === FIXED64) {
      switch (tag >>> 3) {
        case 1:
          delta = double(c, end) || 0;
          continue;
        case 2:
          theta = double(c, end) || 0;
          continue;
        case 3:
          gamma = double(c, end) || 0;
          continue;
        case 4:
          vega = double(c, end) || 0;
          continue;
        case 5:
          rho = double(c, end) || 0;
          continue;
      }
    }
    skip(c, wt, end);
  }
  if (delta === 0 && theta === 0 && gamma === 0 && vega === 0 && rho === 0) return null;
  if (
    previous !== null &&
    previous.delta === delta &&
    previous.theta === theta &&
    previous.gamma === gamma &&
    previous.vega === vega &&
    previous.rho === rho
  ) {
    return previous;
  }
  return { delta, theta, gamma, vega, rho };
}

// ---- Merge -------------------------------------------------------------------------------------------------

/** Mutable working copy of the new Tick (it *is* the new Tick once the feed is merged). */
type Draft = MutableTick;

const INDEX_SEGMENT = /_INDEX$/;

// Structural sharing: a level or candle equal to the previous one is reused as is, and so is the whole array
// when nothing in it differs (deep book levels and the `I1` candle mostly repeat from frame to frame).

function depthFromScratch(previous: readonly DepthLevel[] | null, s: Scratch): readonly DepthLevel[] {
  const n = s.quoteCount;
  const q = s.quotes;
  let reused = previous !== null && previous.length === n;
  const out = new Array<DepthLevel>(n);
  for (let i = 0; i < n; i++) {
    const at = i * 4;
    const old = previous?.[i];
    if (
      old !== undefined &&
      old.bidQty === q[at] &&
      old.bidPrice === q[at + 1] &&
      old.askQty === q[at + 2] &&
      old.askPrice === q[at + 3]
    ) {
      out[i] = old;
    } else {
      out[i] = { bidQty: q[at]!, bidPrice: q[at + 1]!, askQty: q[at + 2]!, askPrice: q[at + 3]! };
      reused = false;
    }
  }
  return reused ? previous! : out;
}

function candleAt(s: Scratch, i: number): Candle {
  const v = s.candleValues;
  const at = i * 6;
  return {
    interval: s.candleIntervals[i]!,
    open: v[at]!,
    high: v[at + 1]!,
    low: v[at + 2]!,
    close: v[at + 3]!,
    volume: v[at + 4]!,
    ts: v[at + 5]!,
  };
}

// (Helpers are top-level functions, not closures: under tsx/esbuild keepNames every closure creation in a hot
// path also pays a `__name` call, measured at ~20 % of an option_greeks frame.)

/** Replaces candles by interval, keeping intervals the frame did not carry. */
function candlesFromScratch(previous: readonly Candle[] | null, s: Scratch): readonly Candle[] {
  const v = s.candleValues;
  if (previous === null || previous.length === 0) {
    const fresh = new Array<Candle>(s.candleCount);
    for (let i = 0; i < s.candleCount; i++) fresh[i] = candleAt(s, i);
    return fresh;
  }
  let out: Candle[] | null = null;
  for (let i = 0; i < s.candleCount; i++) {
    const interval = s.candleIntervals[i]!;
    const list: readonly Candle[] = out ?? previous;
    let found = -1;
    for (let j = 0; j < list.length; j++) {
      if (list[j]!.interval === interval) {
        found = j;
        break;
      }
    }
    const at = i * 6;
    const old = found === -1 ? undefined : list[found]!;
    if (
      old !== undefined &&
      old.open === v[at] &&
      old.high === v[at + 1] &&
      old.low === v[at + 2] &&
      old.close === v[at + 3] &&
      old.volume === v[at + 4] &&
      old.ts === v[at + 5]
    ) {
      continue;
    }
    out ??= previous.slice();
    if (found === -1) out.push(candleAt(s, i));
    else out[found] = candleAt(s, i);
  }
  return out ?? previous;
}

/** LTPC into the draft; absent scalars keep the draft's value (0 on a fresh tick). Returns nothing. */
function readLtpc(c: Cursor, end: number, d: Draft): void {
  let iep: number | null = null;
  while (c.pos < end) {
    const tag = readTag(c, end);
    const wt = tag & 7;
    switch (tag >>> 3) {
      case 1:
        if (wt === FIXED64) {
          const v = double(c, end);
          if (v) d.ltp = v;
          continue;
        }
        break;
      case 2:
        if (wt === VARINT) {
          const v = varint(c, end);
          if (v) d.lastTradeTime = v;
          continue;
        }
        break;
      case 3:
        if (wt === VARINT) {
          const v = varint(c, end);
          if (v) d.ltq = v;
          continue;
        }
        break;
      case 4:
        if (wt === FIXED64) {
          const v = double(c, end);
          if (v) d.closePrice = v;
          continue;
        }
        break;
      case 5:
        if (wt === LEN) {
          // google.protobuf.DoubleValue { double value = 1; }
          const stop = delimited(c, end);
          iep = 0;
          while (c.pos < stop) {
            const t = readTag(c, stop);
            if (t === ((1 << 3) | FIXED64)) iep = double(c, stop) || 0;
            else skip(c, t & 7, stop);
          }
          continue;
        }
        break;
    }
    skip(c, wt, end);
  }
  d.ltp ??= 0;
  d.lastTradeTime ??= 0;
  d.ltq ??= 0;
  d.closePrice ??= 0;
  d.iep = iep;
}

/** Sub-message ranges of one Feed; the first pass over a Feed records them (requestMode comes last). */
interface FeedParts {
  /** 0 none, 1 ltpc, 2 fullFeed, 3 firstLevelWithGreeks (last oneof member wins). */
  branch: number;
  start: number;
  end: number;
  /** requestMode when on the wire and non-zero, else -1. */
  requestMode: number;
  /** Inside fullFeed: 1 marketFF, 2 indexFF, 0 none. */
  full: number;
  fullStart: number;
  fullEnd: number;
}

function readFeedParts(c: Cursor, end: number, p: FeedParts): void {
  p.branch = 0;
  p.requestMode = -1;
  p.full = 0;
  while (c.pos < end) {
    const tag = readTag(c, end);
    const wt = tag & 7;
    const field = tag >>> 3;
    if (wt === LEN && field >= 1 && field <= 3) {
      const stop = delimited(c, end);
      p.branch = field;
      p.start = c.pos;
      p.end = stop;
      c.pos = stop;
      continue;
    }
    if (field === 4 && wt === VARINT) {
      const v = varint(c, end);
      p.requestMode = v === 0 ? -1 : v;
      continue;
    }
    skip(c, wt, end);
  }
  if (p.branch === 2) {
    c.pos = p.start;
    while (c.pos < p.end) {
      const tag = readTag(c, p.end);
      const wt = tag & 7;
      const field = tag >>> 3;
      if (wt === LEN && (field === 1 || field === 2)) {
        const stop = delimited(c, p.end);
        p.full = field;
        p.fullStart = c.pos;
        p.fullEnd = stop;
        c.pos = stop;
        continue;
      }
      skip(c, wt, p.end);
    }
  }
}

function modeOf(p: FeedParts, previous: Tick | undefined): FeedMode {
  if (p.requestMode !== -1) {
    const mode = WIRE_MODE_TO_FEED_MODE[p.requestMode];
    if (mode) return mode;
  }
  if (p.branch === 2) return previous?.mode === 'full_d30' ? 'full_d30' : 'full';
  if (p.branch === 3) return 'option_greeks';
  return 'ltpc';
}

type AuctionDraft = { -readonly [K in keyof AuctionInfo]: AuctionInfo[K] | undefined };

function emptyAuction(): AuctionDraft {
  return {
    iep: undefined,
    rp: undefined,
    ieq: undefined,
    iiqTotal: undefined,
    iiqM: undefined,
    casEligible: undefined,
  };
}

function mergeFeed(
  c: Cursor,
  s: Scratch,
  p: FeedParts,
  key: string,
  previous: Tick | undefined,
  snapshot: boolean,
  exchangeTs: number,
  receivedAt: number,
): TickUpdate | null {
  if (p.branch === 0 || (p.branch === 2 && p.full === 0)) return null; // nothing we can use (empty oneof)
  const mode = modeOf(p, previous);
  const isIndex = p.branch === 2 ? p.full === 2 : (previous?.isIndex ?? INDEX_SEGMENT.test(segmentOf(key)));
  const fresh = snapshot || previous === undefined || previous.mode !== mode || previous.isIndex !== isIndex;
  // Fixed-order literals: every Tick has the same hidden class, so reads downstream stay monomorphic.
  const d: Draft = fresh
    ? blankTick(key, mode, isIndex, exchangeTs, receivedAt)
    : {
        instrumentKey: key,
        mode,
        isIndex,
        exchangeTs,
        receivedAt,
        ltp: previous.ltp,
        lastTradeTime: previous.lastTradeTime,
        ltq: previous.ltq,
        closePrice: previous.closePrice,
        iep: previous.iep,
        depth: previous.depth,
        candles: previous.candles,
        greeks: previous.greeks,
        averagePrice: previous.averagePrice,
        volume: previous.volume,
        openInterest: previous.openInterest,
        impliedVolatility: previous.impliedVolatility,
        totalBuyQty: previous.totalBuyQty,
        totalSellQty: previous.totalSellQty,
        auction: previous.auction,
      };
  let changed = previous !== undefined && previous.mode !== mode ? TickChange.MODE : 0;

  if (p.branch === 1) {
    c.pos = p.start;
    readLtpc(c, p.end, d);
    return { tick: d, changed: changed | TickChange.LTPC, snapshot };
  }

  const start = p.branch === 2 ? p.fullStart : p.start;
  const end = p.branch === 2 ? p.fullEnd : p.end;
  // 1 = marketFF, 2 = indexFF, 3 = firstLevelWithGreeks: which message `start..end` holds.
  const kind = p.branch === 2 ? p.full : 3;
  let atp: number | undefined;
  let vtt: number | undefined;
  let oi: number | undefined;
  let iv: number | undefined;
  let tbq: number | undefined;
  let tsq: number | undefined;
  let auction: AuctionDraft | null = null;
  s.quoteCount = 0;
  s.candleCount = 0;
  let depthSeen = false;
  let candlesSeen = false;

  c.pos = start;
  while (c.pos < end) {
    const tag = readTag(c, end);
    const wt = tag & 7;
    const field = tag >>> 3;
    if (wt === LEN) {
      if (field === 1) {
        // ltpc = 1 in all three messages
        const stop = delimited(c, end);
        readLtpc(c, stop, d);
        changed |= TickChange.LTPC;
        c.pos = stop;
        continue;
      }
      if ((kind === 1 && field === 2) || (kind === 3 && field === 2)) {
        // marketLevel (marketFF) / firstDepth (firstLevelWithGreeks)
        const stop = delimited(c, end);
        if (kind === 1) readMarketLevel(c, stop, s);
        else {
          s.quoteCount = 0; // a single Quote, not repeated
          readQuote(c, stop, s);
        }
        depthSeen = true;
        c.pos = stop;
        continue;
      }
      if ((kind === 1 || kind === 3) && field === 3) {
        const stop = delimited(c, end);
        const greeks = readGreeks(c, stop, fresh ? null : d.greeks);
        if (greeks !== null || d.greeks !== null) changed |= TickChange.GREEKS;
        d.greeks = greeks;
        c.pos = stop;
        continue;
      }
      if ((kind === 1 && field === 4) || (kind === 2 && field === 2)) {
        const stop = delimited(c, end);
        readMarketOhlc(c, stop, s);
        candlesSeen = true;
        c.pos = stop;
        continue;
      }
    } else if (kind === 1) {
      // MarketFullFeed scalars: 5 atp, 6 vtt, 7 oi, 8 iv, 9 tbq, 10 tsq, 11 iep, 12 rp, 13 ieq, 14 iiqTotal,
      // 15 iiqM, 16 casEligible
      if (wt === FIXED64 && (field === 5 || (field >= 7 && field <= 12))) {
        const v = double(c, end);
        if (v) {
          if (field === 5) atp = v;
          else if (field === 7) oi = v;
          else if (field === 8) iv = v;
          else if (field === 9) tbq = v;
          else if (field === 10) tsq = v;
          else {
            auction ??= emptyAuction();
            if (field === 11) auction.iep = v;
            else auction.rp = v;
          }
        }
        continue;
      }
      if (wt === VARINT && (field === 6 || (field >= 13 && field <= 16))) {
        const v = varint(c, end);
        if (v) {
          if (field === 6) vtt = v;
          else {
            auction ??= emptyAuction();
            if (field === 13) auction.ieq = v;
            else if (field === 14) auction.iiqTotal = v;
            else if (field === 15) auction.iiqM = v;
            else auction.casEligible = true;
          }
        }
        continue;
      }
    } else if (kind === 3) {
      // FirstLevelWithGreeks scalars: 4 vtt, 5 oi, 6 iv
      if (field === 4 && wt === VARINT) {
        const v = varint(c, end);
        if (v) vtt = v;
        continue;
      }
      if ((field === 5 || field === 6) && wt === FIXED64) {
        const v = double(c, end);
        if (v) {
          if (field === 5) oi = v;
          else iv = v;
        }
        continue;
      }
    }
    skip(c, wt, end);
  }

  if (depthSeen) {
    d.depth = depthFromScratch(fresh ? null : d.depth, s);
    changed |= TickChange.DEPTH;
  }
  if (candlesSeen) {
    d.candles = candlesFromScratch(fresh ? null : d.candles, s);
    changed |= TickChange.CANDLES;
  }
  if (kind === 1) {
    if (
      fresh ||
      atp !== undefined ||
      vtt !== undefined ||
      oi !== undefined ||
      iv !== undefined ||
      tbq !== undefined ||
      tsq !== undefined
    ) {
      d.averagePrice = atp ?? d.averagePrice ?? 0;
      d.volume = vtt ?? d.volume ?? 0;
      d.openInterest = oi ?? d.openInterest ?? 0;
      d.impliedVolatility = iv ?? d.impliedVolatility ?? 0;
      d.totalBuyQty = tbq ?? d.totalBuyQty ?? 0;
      d.totalSellQty = tsq ?? d.totalSellQty ?? 0;
      changed |= TickChange.STATS;
    }
    const a = auction as AuctionDraft | null;
    if (a !== null) {
      const old = d.auction;
      d.auction = {
        iep: a.iep ?? old?.iep ?? 0,
        rp: a.rp ?? old?.rp ?? 0,
        ieq: a.ieq ?? old?.ieq ?? 0,
        iiqTotal: a.iiqTotal ?? old?.iiqTotal ?? 0,
        iiqM: a.iiqM ?? old?.iiqM ?? 0,
        casEligible: a.casEligible ?? old?.casEligible ?? false,
      };
      changed |= TickChange.AUCTION;
    }
  } else if (kind === 3) {
    if (fresh || vtt !== undefined || oi !== undefined || iv !== undefined) {
      d.volume = vtt ?? d.volume ?? 0;
      d.openInterest = oi ?? d.openInterest ?? 0;
      d.impliedVolatility = iv ?? d.impliedVolatility ?? 0;
      changed |= TickChange.STATS;
    }
  }
  return { tick: d, changed, snapshot };
}

// ---- market_info -------------------------------------------------------------------------------------------

type SegmentDraft = { -readonly [K in keyof SegmentStatus]: SegmentStatus[K] };

/** MarketInfo: 1 map<string, MarketStatus>, 2 and 3 map<string, StatusInfo{1 status, 2 updatedTime}>. */
function readMarketInfo(c: Cursor, end: number): SegmentStatus[] {
  const bySegment = new Map<string, SegmentDraft>();
  const entry = (segment: string): SegmentDraft => {
    let s = bySegment.get(segment);
    if (!s) {
      s = { segment, status: null, casStatus: null, casUpdatedAt: null, preOpenStatus: null, preOpenUpdatedAt: null };
      bySegment.set(segment, s);
    }
    return s;
  };
  while (c.pos < end) {
    const tag = readTag(c, end);
    const wt = tag & 7;
    const field = tag >>> 3;
    if (wt !== LEN || field < 1 || field > 3) {
      skip(c, wt, end);
      continue;
    }
    const stop = delimited(c, end);
    let key = '';
    let status = 0;
    let text = '';
    let updated = 0;
    while (c.pos < stop) {
      const t = readTag(c, stop);
      const w = t & 7;
      const f = t >>> 3;
      if (f === 1 && w === LEN) key = string(c, stop);
      else if (f === 2 && field === 1 && w === VARINT) status = varint(c, stop);
      else if (f === 2 && field !== 1 && w === LEN) {
        const infoEnd = delimited(c, stop);
        while (c.pos < infoEnd) {
          const ti = readTag(c, infoEnd);
          if (ti >>> 3 === 1 && (ti & 7) === LEN) text = string(c, infoEnd);
          else if (ti >>> 3 === 2 && (ti & 7) === VARINT) updated = varint(c, infoEnd);
          else skip(c, ti & 7, infoEnd);
        }
      } else skip(c, w, stop);
    }
    c.pos = stop;
    const s = entry(key);
    if (field === 1) s.status = MARKET_STATUSES[status] ?? null;
    else if (field === 2) {
      s.casStatus = text || null;
      s.casUpdatedAt = updated || null;
    } else {
      s.preOpenStatus = text || null;
      s.preOpenUpdatedAt = updated || null;
    }
  }
  return [...bySegment.values()];
}

// ---- Decoder -----------------------------------------------------------------------------------------------

export function createDecoder({ cache }: DecoderOptions): Decoder {
  const scratch: Scratch = {
    quotes: [],
    quoteCount: 0,
    candleIntervals: [],
    candleValues: [],
    candleCount: 0,
    feedStarts: [],
    feedEnds: [],
  };
  const parts: FeedParts = { branch: 0, start: 0, end: 0, requestMode: -1, full: 0, fullStart: 0, fullEnd: 0 };

  function decodeFrame(bytes: Uint8Array, receivedAt: number): DecodeResult {
    const c: Cursor = {
      buf: bytes,
      view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength),
      text: Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
      pos: 0,
    };
    const end = bytes.byteLength;
    // Pass 1, top level: type = 1, feeds = 2 (map entries), currentTs = 3, marketInfo = 4. currentTs follows
    // the feeds on the wire, and the merge needs it and the type first.
    let type = 0;
    let currentTs = 0;
    let infoStart = -1;
    let infoEnd = -1;
    let feeds = 0;
    const { feedStarts, feedEnds } = scratch;
    while (c.pos < end) {
      const tag = readTag(c, end);
      const wt = tag & 7;
      const field = tag >>> 3;
      if (field === 1 && wt === VARINT) type = varint(c, end);
      else if (field === 3 && wt === VARINT) currentTs = varint(c, end);
      else if ((field === 2 || field === 4) && wt === LEN) {
        const stop = delimited(c, end);
        if (field === 2) {
          feedStarts[feeds] = c.pos;
          feedEnds[feeds] = stop;
          feeds++;
        } else {
          infoStart = c.pos;
          infoEnd = stop;
        }
        c.pos = stop;
      } else skip(c, wt, end);
    }
    const exchangeTs = currentTs || receivedAt;
    // type 2; a frame that carries only marketInfo is treated the same even if its type were missing.
    if (type === FRAME_TYPE.market_info || (infoStart !== -1 && feeds === 0)) {
      if (infoStart === -1) return { kind: 'market_info', segments: [], exchangeTs };
      c.pos = infoStart;
      return { kind: 'market_info', segments: readMarketInfo(c, infoEnd), exchangeTs };
    }

    // Pass 2: each map entry { string key = 1; Feed value = 2; }. Unknown future types merge like live frames.
    const snapshot = type === FRAME_TYPE.initial_feed;
    const updates: TickUpdate[] = [];
    for (let i = 0; i < feeds; i++) {
      const stop = feedEnds[i]!;
      c.pos = feedStarts[i]!;
      let key = '';
      let valueStart = -1;
      let valueEnd = -1;
      while (c.pos < stop) {
        const tag = readTag(c, stop);
        const wt = tag & 7;
        const field = tag >>> 3;
        if (field === 1 && wt === LEN) key = string(c, stop);
        else if (field === 2 && wt === LEN) {
          valueEnd = delimited(c, stop);
          valueStart = c.pos;
          c.pos = valueEnd;
        } else skip(c, wt, stop);
      }
      if (valueStart === -1) continue; // an entry without a Feed carries nothing
      c.pos = valueStart;
      readFeedParts(c, valueEnd, parts);
      const update = mergeFeed(c, scratch, parts, key, cache.get(key), snapshot, exchangeTs, receivedAt);
      if (update !== null) updates.push(update);
    }
    // Only a fully parsed frame touches the cache.
    for (const update of updates) cache.set(update.tick);
    return { kind: 'ticks', batch: { exchangeTs, receivedAt, updates } };
  }

  return {
    decode(bytes, receivedAt) {
      try {
        return decodeFrame(bytes, receivedAt);
      } catch (cause) {
        const reason = cause instanceof Error ? cause.message : String(cause);
        throw new DecodeError(`not a FeedResponse frame (${bytes.byteLength} bytes): ${reason}`, {
          byteLength: bytes.byteLength,
          cause,
        });
      }
    },
  };
}
