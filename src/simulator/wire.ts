/**
 * The simulator's side of the wire: plain FeedResponse shapes it builds, and an encoder/decoder over the
 * protobufjs binding of proto/MarketDataFeedV3.proto that the feed client owns (src/upstox/proto.ts). One
 * reflected .proto for both sides; the simulator's tests still decode with their own reflection
 * (test/support/sim-client.ts), so a binding bug cannot cancel out.
 */
import type protobuf from 'protobufjs';
import { FeedResponse } from '../upstox/proto.js';

/**
 * Plain-object shapes the simulator encodes. Enums are numbers, int64 are numbers (all values stay far below
 * 2^53). Fields left undefined are not written, which is what proto3 does for defaults (§3.4).
 */
export interface WireLtpc {
  ltp?: number;
  ltt?: number;
  ltq?: number;
  cp?: number;
  iep?: { value?: number };
}
export interface WireQuote {
  bidQ?: number;
  bidP?: number;
  askQ?: number;
  askP?: number;
}
export interface WireGreeks {
  delta?: number;
  theta?: number;
  gamma?: number;
  vega?: number;
  rho?: number;
}
export interface WireOhlc {
  interval: string;
  open: number;
  high: number;
  low: number;
  close: number;
  vol?: number;
  ts: number;
}
export interface WireMarketFullFeed {
  ltpc?: WireLtpc;
  marketLevel?: { bidAskQuote: WireQuote[] };
  optionGreeks?: WireGreeks;
  marketOHLC?: { ohlc: WireOhlc[] };
  atp?: number;
  vtt?: number;
  oi?: number;
  iv?: number;
  tbq?: number;
  tsq?: number;
  iep?: number;
  rp?: number;
  ieq?: number;
  iiqTotal?: number;
  iiqM?: number;
  casEligible?: boolean;
}
export interface WireIndexFullFeed {
  ltpc?: WireLtpc;
  marketOHLC?: { ohlc: WireOhlc[] };
}
export interface WireFirstLevelWithGreeks {
  ltpc?: WireLtpc;
  firstDepth?: WireQuote;
  optionGreeks?: WireGreeks;
  vtt?: number;
  oi?: number;
  iv?: number;
}
export interface WireFeed {
  ltpc?: WireLtpc;
  fullFeed?: { marketFF?: WireMarketFullFeed; indexFF?: WireIndexFullFeed };
  firstLevelWithGreeks?: WireFirstLevelWithGreeks;
  /** RequestMode enum number; omitted for ltpc (0). */
  requestMode?: number;
}
export interface WireStatusInfo {
  status?: string;
  updatedTime?: number;
}
export interface WireMarketInfo {
  segmentStatus: Record<string, number>;
  casMarketStatus?: Record<string, WireStatusInfo>;
  preOpenSessionStatus?: Record<string, WireStatusInfo>;
}
export interface WireFeedResponse {
  /** Type enum number; omitted for initial_feed (0). */
  type?: number;
  feeds?: Record<string, WireFeed>;
  currentTs: number;
  marketInfo?: WireMarketInfo;
}

export interface FeedCodec {
  /** Encodes one FeedResponse. Throws on a value protobufjs cannot write (a simulator bug, never client input). */
  encode(response: WireFeedResponse): Uint8Array;
  /** Decodes one FeedResponse to plain JSON-like data (int64 as numbers, enums as names). Throws on bad bytes. */
  decode(bytes: Uint8Array): Record<string, unknown>;
  /** Decodes to the simulator's own shape (enums and int64 as numbers), e.g. for replayed frames. */
  decodeWire(bytes: Uint8Array): WireFeedResponse;
  /** The reflected FeedResponse type, for callers that need raw protobufjs access. */
  readonly type: protobuf.Type;
}

/**
 * Encoder/decoder over the shared FeedResponse type. Encoding takes the plain object as is (no `fromObject`
 * copy): enums and int64 must already be numbers, which is what the frame builders produce.
 */
export function createFeedCodec(): FeedCodec {
  const type = FeedResponse;
  return {
    type,
    encode: (response) => type.encode(response as unknown as Record<string, unknown>).finish(),
    decode: (bytes) =>
      type.toObject(type.decode(bytes), { longs: Number, enums: String, defaults: false }) as Record<string, unknown>,
    decodeWire: (bytes) => type.toObject(type.decode(bytes), { longs: Number, defaults: false }) as WireFeedResponse,
  };
}
