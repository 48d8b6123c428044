/**
 * Builders for tick-bus and relay tests: whole Ticks with every field present (null where the mode does not
 * carry it), so tests only spell out what they assert on.
 */
import { blankTick, type Tick, type TickBatch, TickChange, type TickUpdate } from '../../src/ticks/tick.js';

export function makeTick(instrumentKey: string, ltp: number, overrides: Partial<Tick> = {}): Tick {
  return {
    ...blankTick(instrumentKey, 'ltpc', false, 1_760_000_000_000, 1_760_000_000_005),
    ltp,
    lastTradeTime: 1_759_999_999_000,
    ltq: 10,
    closePrice: 100,
    ...overrides,
  };
}

/** A full-mode tick with 5 depth levels, 2 candles and stats: the heavy case for serialization. */
export function makeFullTick(instrumentKey: string, ltp: number): Tick {
  return makeTick(instrumentKey, ltp, {
    mode: 'full',
    iep: null,
    depth: Array.from({ length: 5 }, (_, level) => ({
      bidQty: 100 + level,
      bidPrice: ltp - 0.05 * (level + 1),
      askQty: 200 + level,
      askPrice: ltp + 0.05 * (level + 1),
    })),
    candles: [
      { interval: '1d', open: 100, high: 110.5, low: 99.25, close: ltp, volume: 1_234_567, ts: 1_759_968_000_000 },
      { interval: 'I1', open: 101, high: 101.5, low: 100.75, close: ltp, volume: 4_567, ts: 1_759_999_940_000 },
    ],
    averagePrice: 101.23,
    volume: 1_234_567,
    openInterest: 0,
    impliedVolatility: null,
    totalBuyQty: 98_765,
    totalSellQty: 87_654,
  });
}

export function makeUpdate(
  instrumentKey: string,
  ltp: number,
  changed: number = TickChange.LTPC,
  snapshot = false,
): TickUpdate {
  return { tick: makeTick(instrumentKey, ltp), changed, snapshot };
}

export function makeBatch(...updates: TickUpdate[]): TickBatch {
  return { exchangeTs: 1_760_000_000_000, receivedAt: 1_760_000_000_005, updates };
}

const PENDING = Symbol('pending');

/** Resolves after a few microtask hops: long enough for an already-settled next() to win a race against it. */
async function microtasks(): Promise<typeof PENDING> {
  for (let i = 0; i < 10; i++) await null;
  return PENDING;
}

export interface Reader<T> {
  /** Everything the iterator hands out without waiting (no timers involved, so fake timers are fine). */
  drain(): Promise<T[]>;
  /** True when the iterator has finished. */
  readonly done: boolean;
}

/**
 * Wraps an async iterator for tests that ask "what is buffered right now?". A next() that had to wait is kept
 * and reused by the following drain(), so no value is lost to an abandoned promise.
 */
export function reader<T>(iterator: AsyncIterator<T>): Reader<T> {
  let pending: Promise<IteratorResult<T>> | undefined;
  let done = false;
  return {
    async drain() {
      const out: T[] = [];
      while (!done) {
        pending ??= iterator.next();
        const result = await Promise.race([pending, microtasks()]);
        if (result === PENDING) break;
        pending = undefined;
        if (result.done) done = true;
        else out.push(result.value);
      }
      return out;
    },
    get done() {
      return done;
    },
  };
}
