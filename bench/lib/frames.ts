/**
 * Recorded frames for the decode benchmark: simulator-style FeedResponse payloads (multi-key, partial live
 * updates, proto3 default-omitting) encoded once with protobufjs from proto/MarketDataFeedV3.proto, so every
 * decoder under test reads exactly the same bytes. Deterministic (seeded), so runs are comparable.
 */
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

export const PROTO_PATH = fileURLToPath(new URL('../../proto/MarketDataFeedV3.proto', import.meta.url));
export const FEED_RESPONSE_TYPE = 'com.upstox.marketdatafeederv3udapi.rpc.proto.FeedResponse';

export type FrameMode = 'ltpc' | 'full' | 'option_greeks';

/** Mulberry32: tiny seeded PRNG so recorded frames are identical run to run. */
export function createRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Instrument keys shaped like real ones: equities by ISIN-like id, derivatives by exchange token. */
export function instrumentKeys(mode: FrameMode, count: number): string[] {
  const keys: string[] = [];
  for (let i = 0; i < count; i++) {
    if (mode === 'option_greeks') keys.push(`NSE_FO|${40_000 + i}`);
    else keys.push(`NSE_EQ|INE${String(100_000 + i).padStart(6, '0')}A01018`);
  }
  return keys;
}

interface PriceState {
  ltp: number;
  cp: number;
  vtt: number;
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}

function ltpcOf(state: PriceState, now: number, random: () => number) {
  state.ltp = round2(Math.max(1, state.ltp * (1 + (random() - 0.5) * 0.002)));
  const ltq = 1 + Math.floor(random() * 500);
  state.vtt += ltq;
  return { ltp: state.ltp, ltt: now - Math.floor(random() * 50), ltq, cp: state.cp };
}

function depthOf(state: PriceState, levels: number, random: () => number) {
  const quotes = [];
  for (let level = 0; level < levels; level++) {
    quotes.push({
      bidQ: 1 + Math.floor(random() * 5_000),
      bidP: round2(state.ltp - 0.05 * (level + 1)),
      askQ: 1 + Math.floor(random() * 5_000),
      askP: round2(state.ltp + 0.05 * (level + 1)),
    });
  }
  return quotes;
}

function feedFor(mode: FrameMode, state: PriceState, now: number, random: () => number, snapshot: boolean) {
  if (mode === 'ltpc') return { ltpc: ltpcOf(state, now, random) };
  if (mode === 'option_greeks') {
    return {
      firstLevelWithGreeks: {
        ltpc: ltpcOf(state, now, random),
        firstDepth: depthOf(state, 1, random)[0],
        optionGreeks: {
          delta: round2(random()),
          theta: -round2(random() * 10),
          gamma: random() / 1_000,
          vega: round2(random() * 20),
          rho: round2(random()),
        },
        vtt: state.vtt,
        oi: Math.floor(random() * 500_000),
        iv: random() * 0.4,
      },
      requestMode: 2,
    };
  }
  // full: snapshots carry everything; live updates are partial (depth-only or LTPC+OHLC-only packets occur).
  const shape = snapshot ? 0 : Math.floor(random() * 3);
  const ltpc = shape !== 1 ? ltpcOf(state, now, random) : undefined;
  const dayStart = now - (now % 86_400_000);
  const minuteStart = now - (now % 60_000) - 60_000;
  const marketFF: Record<string, unknown> = {
    ltpc,
    marketLevel: shape !== 2 ? { bidAskQuote: depthOf(state, 5, random) } : undefined,
    optionGreeks: {},
    marketOHLC:
      shape !== 1
        ? {
            ohlc: [
              {
                interval: '1d',
                open: state.cp,
                high: round2(state.ltp * 1.01),
                low: round2(state.ltp * 0.99),
                close: state.ltp,
                vol: state.vtt,
                ts: dayStart,
              },
              {
                interval: 'I1',
                open: state.ltp,
                high: state.ltp,
                low: state.ltp,
                close: state.ltp,
                vol: 1_000,
                ts: minuteStart,
              },
            ],
          }
        : undefined,
    atp: round2(state.ltp * 0.999),
    vtt: state.vtt,
    tbq: Math.floor(random() * 1_000_000),
    tsq: Math.floor(random() * 1_000_000),
  };
  return { fullFeed: { marketFF }, requestMode: 1 };
}

export interface RecordedFrames {
  readonly mode: FrameMode;
  readonly keys: readonly string[];
  /** frames[0] is the snapshot of every key (type omitted = initial_feed); the rest are live frames. */
  readonly frames: readonly Uint8Array[];
  /** Instrument updates carried by each frame (same index as frames). */
  readonly ticksPerFrame: readonly number[];
}

export interface RecordOptions {
  readonly mode: FrameMode;
  /** Universe size: the snapshot carries all of them. */
  readonly keyCount: number;
  /** Live frames to record after the snapshot. */
  readonly liveFrames: number;
  /** Keys per live frame (a random subset of the universe). */
  readonly keysPerLiveFrame: number;
  readonly seed?: number;
}

/** Encodes a snapshot plus live frames with protobufjs (the repo's copy, our proto). */
export function recordFrames({
  mode,
  keyCount,
  liveFrames,
  keysPerLiveFrame,
  seed = 42,
}: RecordOptions): RecordedFrames {
  const root = protobuf.loadSync(PROTO_PATH);
  const FeedResponse = root.lookupType(FEED_RESPONSE_TYPE);
  const random = createRandom(seed);
  const keys = instrumentKeys(mode, keyCount);
  const states = keys.map(() => {
    const price = round2(50 + random() * 3_000);
    return { ltp: price, cp: price, vtt: Math.floor(random() * 1_000_000) };
  });
  let now = Date.UTC(2026, 10, 24, 4, 0, 0);
  const frames: Uint8Array[] = [];
  const ticksPerFrame: number[] = [];
  const encode = (message: Record<string, unknown>) =>
    FeedResponse.encode(FeedResponse.fromObject(message)).finish().slice();

  const snapshot: Record<string, unknown> = {};
  keys.forEach((key, i) => {
    snapshot[key] = feedFor(mode, states[i]!, now, random, true);
  });
  frames.push(encode({ currentTs: now, feeds: snapshot }));
  ticksPerFrame.push(keys.length);

  const perFrame = Math.min(keysPerLiveFrame, keys.length);
  for (let f = 0; f < liveFrames; f++) {
    now += 1 + Math.floor(random() * 5);
    const feeds: Record<string, unknown> = {};
    while (Object.keys(feeds).length < perFrame) {
      const i = Math.floor(random() * keys.length);
      feeds[keys[i]!] = feedFor(mode, states[i]!, now, random, false);
    }
    frames.push(encode({ type: 1, currentTs: now, feeds }));
    ticksPerFrame.push(perFrame);
  }
  return { mode, keys, frames, ticksPerFrame };
}
