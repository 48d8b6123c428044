/**
 * protobufjs binding of proto/MarketDataFeedV3.proto: the `FeedResponse` type, an encoder (the simulator's and
 * the tests') and a reference decoder. The live path does not decode through here: src/upstox/decoder.ts reads
 * the same wire format by hand and merges straight into Ticks (see its header for why), and its tests check it
 * against {@link decodeFeedResponse} on generated frames.
 *
 * Reflection (`loadSync` at import) rather than a pbjs static module: protobufjs builds its decoders at runtime
 * with the same code generator whose output pbjs prints for the static target, so a static module would decode
 * at the same speed and only save the few-ms parse at start. A static module was NOT measured: protobufjs-cli
 * (pbjs) is not installed and the house rules forbid installing it; `pbjs -w es6` output also imports
 * `protobufjs/minimal` without `.js`, which fails under Node ESM.
 *
 * int64 fields: protobufjs allocates a `Long` per int64 (ltt, ltq, vtt, bidQ, askQ, vol, ts …, ~30 per full
 * key). {@link createFrameReader} installs a per-reader `int64` that reads the varint straight into a number
 * (values are epoch ms and quantities, far below 2^53), leaving the process-global `protobuf.util.Long` alone;
 * unset int64 fields default to the number 0 too.
 *
 * Measured on this shared 2-core machine (Node 20; medians of interleaved rounds; load average 6–18 while
 * other sessions ran, so single figures swing ±50 %; ratios are the useful part):
 * - protobufjs decode with Longs then Number() on each int64, vs this module's number reader: the number reader
 *   is 2–3× faster (2,000-key full frame of 662 KB: ~6–12 vs ~16–44 frames/s; 5,000-key ltpc frame of 270 KB:
 *   ~13–44 vs ~40–111 frames/s).
 * - decoder.ts (hand-written reader + merge + cache) vs bare `FeedResponse.decode` (no conversion, no merge),
 *   frames from bench/lib/frames.ts: live frames 0.7–1.5× bare (ltpc 100 keys: 3,400–13,200 frames/s;
 *   full 50 keys: 950–2,800; option_greeks 100 keys: 1,460–2,750), snapshots 0.5–0.8× bare (every key is a
 *   new Tick and a cache write); upstox-js-sdk's path is 1.6–6× slower than ours (bench/decode.ts).
 */
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

const PACKAGE = 'com.upstox.marketdatafeederv3udapi.rpc.proto';

/** Path of the .proto file this binding loads. */
export const PROTO_PATH = fileURLToPath(new URL('../../proto/MarketDataFeedV3.proto', import.meta.url));

// `google/protobuf/wrappers.proto` is bundled with protobufjs (common types); loadSync resolves it.
const root = protobuf.loadSync(PROTO_PATH);
root.resolveAll();

// An unset int64 field reads its default from the message prototype, which protobufjs makes a Long zero;
// the decoder wants plain 0 there (and int64AsNumber gives numbers for set ones), so absent and present
// int64 fields have the same type. Only this root's message classes are touched, never protobufjs globals.
const LONG_TYPES = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);
function numberInt64Defaults(namespace: protobuf.NamespaceBase): void {
  for (const nested of namespace.nestedArray) {
    if (nested instanceof protobuf.Type) {
      const prototype = nested.ctor.prototype as unknown as Record<string, unknown>;
      for (const field of nested.fieldsArray) {
        if (LONG_TYPES.has(field.type) && !field.repeated && !field.map) prototype[field.name] = 0;
      }
    }
    if (nested instanceof protobuf.Namespace) numberInt64Defaults(nested);
  }
}
numberInt64Defaults(root);

/** The top-level frame type. Decode with {@link decodeFeedResponse}; the simulator encodes with {@link encodeFeedResponse}. */
export const FeedResponse: protobuf.Type = root.lookupType(`${PACKAGE}.FeedResponse`);

// ---- Wire shapes as protobufjs decodes them (plain fields; int64 already numbers via FrameReader). ----
// Unset scalar fields are not own properties of a decoded message (their default lives on the prototype),
// which is how the decoder tells "absent" from "zero" in partial live frames (§3.4).

export interface WireLtpc {
  ltp: number;
  ltt: number;
  ltq: number;
  cp: number;
  iep: { value: number } | null;
}
export interface WireQuote {
  bidQ: number;
  bidP: number;
  askQ: number;
  askP: number;
}
export interface WireGreeks {
  delta: number;
  theta: number;
  gamma: number;
  vega: number;
  rho: number;
}
export interface WireOhlc {
  interval: string;
  open: number;
  high: number;
  low: number;
  close: number;
  vol: number;
  ts: number;
}
export interface WireMarketFullFeed {
  ltpc: WireLtpc | null;
  marketLevel: { bidAskQuote: WireQuote[] } | null;
  optionGreeks: WireGreeks | null;
  marketOHLC: { ohlc: WireOhlc[] } | null;
  atp: number;
  vtt: number;
  oi: number;
  iv: number;
  tbq: number;
  tsq: number;
  iep: number;
  rp: number;
  ieq: number;
  iiqTotal: number;
  iiqM: number;
  casEligible: boolean;
}
export interface WireIndexFullFeed {
  ltpc: WireLtpc | null;
  marketOHLC: { ohlc: WireOhlc[] } | null;
}
export interface WireFirstLevelWithGreeks {
  ltpc: WireLtpc | null;
  firstDepth: WireQuote | null;
  optionGreeks: WireGreeks | null;
  vtt: number;
  oi: number;
  iv: number;
}
export interface WireFeed {
  ltpc: WireLtpc | null;
  fullFeed: { marketFF: WireMarketFullFeed | null; indexFF: WireIndexFullFeed | null } | null;
  firstLevelWithGreeks: WireFirstLevelWithGreeks | null;
  requestMode: number;
}
export interface WireStatusInfo {
  status: string;
  updatedTime: number;
}
export interface WireMarketInfo {
  segmentStatus: Record<string, number>;
  casMarketStatus: Record<string, WireStatusInfo>;
  preOpenSessionStatus: Record<string, WireStatusInfo>;
}
export interface WireFeedResponse {
  type: number;
  feeds: Record<string, WireFeed>;
  currentTs: number;
  marketInfo: WireMarketInfo | null;
}

const TWO_32 = 4_294_967_296;

/**
 * Reads an int64 varint into a number without allocating a Long. Exact up to 2^53; negative values
 * (10-byte varints, never seen on this feed) go through protobufjs' own path.
 */
function int64AsNumber(this: protobuf.Reader): number {
  const buf = this.buf;
  let pos = this.pos;
  let lo = 0;
  let hi = 0;
  let shift = 0;
  let byte = 0;
  // low 28 bits: 4 bytes
  for (; shift < 28; shift += 7) {
    if (pos >= this.len) throw RangeError('index out of range');
    byte = buf[pos++]!;
    lo |= (byte & 0x7f) << shift;
    if (byte < 0x80) {
      this.pos = pos;
      return lo >>> 0;
    }
  }
  // 5th byte: 4 more low bits, 3 high bits
  if (pos >= this.len) throw RangeError('index out of range');
  byte = buf[pos++]!;
  lo = (lo | ((byte & 0x7f) << 28)) >>> 0;
  hi = (byte & 0x7f) >> 4;
  if (byte >= 0x80) {
    for (shift = 3; shift < 32; shift += 7) {
      if (pos >= this.len) throw RangeError('index out of range');
      byte = buf[pos++]!;
      hi |= (byte & 0x7f) << shift;
      if (byte < 0x80) break;
    }
    if (byte >= 0x80) throw Error('invalid varint encoding');
  }
  this.pos = pos;
  hi >>>= 0;
  if (hi >= 0x80000000) {
    // negative int64: two's complement
    return -((TWO_32 - 1 - hi) * TWO_32 + (TWO_32 - lo));
  }
  return hi * TWO_32 + lo;
}

/** A protobufjs reader over `bytes` whose int64 fields decode to plain numbers. */
export function createFrameReader(bytes: Uint8Array): protobuf.Reader {
  const reader = protobuf.Reader.create(bytes);
  (reader as unknown as { int64: () => number }).int64 = int64AsNumber;
  return reader;
}

/** Decodes one server frame. Throws (protobufjs' Error/RangeError) on malformed bytes. */
export function decodeFeedResponse(bytes: Uint8Array): WireFeedResponse {
  return FeedResponse.decode(createFrameReader(bytes)) as unknown as WireFeedResponse;
}

/**
 * Encodes a plain object (proto field names, camelCase) as a FeedResponse frame. Numbers are accepted for
 * int64 fields; enums by number or name. Used by the simulator and tests.
 */
export function encodeFeedResponse(response: object): Uint8Array {
  const message = FeedResponse.fromObject(response);
  return FeedResponse.encode(message).finish();
}

/** Looks a nested type up by its short name (tests, tools). */
export function lookupType(name: string): protobuf.Type {
  return root.lookupType(`${PACKAGE}.${name}`);
}
