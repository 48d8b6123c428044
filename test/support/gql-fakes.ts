/**
 * In-memory stand-ins for the feed client, the store and the latest cache, for GraphQL and server tests.
 * The tick bus is the real one (src/ticks/tick-bus.ts): its conflation and return() are what these tests
 * rely on.
 */
import type { HistoryQuery, InstrumentSubscriptionRow, StoredTick, TickStore } from '../../src/store/tick-store.js';
import type { Tick } from '../../src/ticks/tick.js';
import type { FeedClient, FeedClientEvents, FeedStatus, SegmentStatus } from '../../src/upstox/feed-client.js';
import type { FeedMode } from '../../src/upstox/protocol.js';
import { CapExceededError, checkCaps } from '../../src/upstox/subscriptions.js';

const zeroModes = (): Record<FeedMode, number> => ({ ltpc: 0, option_greeks: 0, full: 0, full_d30: 0 });

export interface FakeFeed extends FeedClient {
  /** Makes the "connection" send the desired set (active = desired). */
  activate(): void;
  emitStatus(patch?: Partial<FeedStatus>): void;
  emitMarketInfo(segments: readonly SegmentStatus[]): void;
  /** setDesired calls, for assertions. */
  readonly setDesiredCalls: number;
  /** Makes the next setDesired throw this (after the cap check). */
  failNextSetDesired(error: Error): void;
  listenerCount(event: keyof FeedClientEvents): number;
}

export function createFakeFeed({ connected = true }: { connected?: boolean } = {}): FakeFeed {
  let desired = new Map<string, FeedMode>();
  let active = new Map<string, FeedMode>();
  let calls = 0;
  let failure: Error | null = null;
  let status: FeedStatus = {
    state: 'CONNECTED',
    source: 'SIMULATOR',
    connectedSince: 1_760_000_000_000,
    reconnects: 0,
    lastFrameAt: null,
    lastError: null,
    framesDecoded: 0,
    ticksDecoded: 0,
    decodeErrors: 0,
    framesPerSecond: 0,
    ticksPerSecond: 0,
    keysByMode: zeroModes(),
    activeKeysByMode: zeroModes(),
    segments: [],
  };
  const listeners: { [E in keyof FeedClientEvents]: Set<FeedClientEvents[E]> } = {
    status: new Set(),
    marketInfo: new Set(),
  };
  const countModes = (map: ReadonlyMap<string, FeedMode>) => {
    const counts = zeroModes();
    for (const mode of map.values()) counts[mode]++;
    return counts;
  };
  const feed: FakeFeed = {
    start() {},
    async stop() {},
    status: () => ({ ...status, keysByMode: countModes(desired), activeKeysByMode: countModes(active) }),
    on(event, listener) {
      (listeners[event] as Set<typeof listener>).add(listener);
      return () => {
        (listeners[event] as Set<typeof listener>).delete(listener);
      };
    },
    desired: () => desired,
    active: () => active,
    setDesired(next) {
      calls++;
      // Like the real client: an over-cap set throws and changes nothing (Plus assumed; the service checks it).
      const violation = checkCaps(next, { plus: true });
      if (violation) throw new CapExceededError(violation);
      if (failure) {
        const error = failure;
        failure = null;
        throw error;
      }
      desired = new Map(next);
      if (connected) active = new Map(next);
    },
    setAccessToken() {},
    activate() {
      active = new Map(desired);
    },
    emitStatus(patch = {}) {
      status = { ...status, ...patch };
      for (const listener of listeners.status) listener(feed.status());
    },
    emitMarketInfo(segments) {
      status = { ...status, segments };
      for (const listener of listeners.marketInfo) listener(segments);
    },
    get setDesiredCalls() {
      return calls;
    },
    failNextSetDesired(error) {
      failure = error;
    },
    listenerCount: (event) => listeners[event].size,
  };
  return feed;
}

export interface FakeStore extends TickStore {
  readonly rows: Map<string, InstrumentSubscriptionRow>;
  readonly ticks: StoredTick[];
  /** Makes the next upsertSubscriptions reject. */
  failNextWrite(error: Error): void;
}

export function createFakeStore(): FakeStore {
  const rows = new Map<string, InstrumentSubscriptionRow>();
  const ticks: StoredTick[] = [];
  let failure: Error | null = null;
  const compare = (a: { exchangeTs: number; id: string }, b: { exchangeTs: number; id: string }) =>
    a.exchangeTs - b.exchangeTs || Number(BigInt(a.id) - BigInt(b.id));
  return {
    rows,
    ticks,
    failNextWrite(error) {
      failure = error;
    },
    async history({ instrumentKey, from, to, order, limit, after }: HistoryQuery) {
      const sign = order === 'ASC' ? 1 : -1;
      return ticks
        .filter((t) => t.instrumentKey === instrumentKey)
        .filter((t) => (from === undefined || t.exchangeTs >= from) && (to === undefined || t.exchangeTs < to))
        .filter((t) => after === undefined || sign * compare(t, after) > 0)
        .sort((a, b) => sign * compare(a, b))
        .slice(0, limit);
    },
    async listSubscriptions() {
      return [...rows.values()];
    },
    async upsertSubscriptions(entries) {
      if (failure) {
        const error = failure;
        failure = null;
        throw error;
      }
      const now = new Date();
      for (const { instrumentKey, mode } of entries) {
        const existing = rows.get(instrumentKey);
        rows.set(instrumentKey, { instrumentKey, mode, createdAt: existing?.createdAt ?? now, updatedAt: now });
      }
    },
    async removeSubscriptions(keys) {
      for (const key of keys) rows.delete(key);
    },
  };
}

export interface FakeCache {
  get(instrumentKey: string): Tick | undefined;
  set(tick: Tick): void;
}

export function createFakeCache(): FakeCache {
  const ticks = new Map<string, Tick>();
  return { get: (key) => ticks.get(key), set: (tick) => void ticks.set(tick.instrumentKey, tick) };
}

/** A stored tick with every column, ids increasing with `n`. */
export function makeStoredTick(
  instrumentKey: string,
  n: number,
  exchangeTs = 1_760_000_000_000 + n * 1_000,
): StoredTick {
  return {
    id: String(n),
    instrumentKey,
    exchangeTs,
    receivedAt: exchangeTs + 3,
    mode: 'full',
    ltp: 100 + n,
    lastTradeTime: exchangeTs - 10,
    ltq: 5,
    closePrice: 99,
    volume: 3_000_000_000 + n,
    openInterest: null,
    averagePrice: 100.5,
    impliedVolatility: null,
    totalBuyQty: 1_000,
    totalSellQty: 2_000,
    bestBidPrice: 99.95 + n,
    bestBidQty: 10,
    bestAskPrice: 100.05 + n,
    bestAskQty: 12,
    dayOpen: 98,
    dayHigh: 120,
    dayLow: 97,
    delta: null,
    theta: null,
    gamma: null,
    vega: null,
    rho: null,
  };
}
