/**
 * Hand-written async iterators for subscriptions. Not `async function*`: a generator parked at `await`
 * runs its `finally` only after the next value arrives, so an idle topic would keep a disconnected
 * client's resources forever. These iterators free everything inside return(), at once, and resolve a
 * pending next() with done.
 */
import type { TickUpdate } from '../ticks/tick.js';
import type { TickSubscription } from '../ticks/tick-bus.js';

const DONE = Object.freeze({ done: true, value: undefined }) as IteratorReturnResult<undefined>;

export interface LatestValueStreamOptions<T> {
  /** Starts listening; returns the function that stops it. Called once, synchronously. */
  readonly listen: (push: (value: T) => void) => () => void;
  /** Delivered first, when given. */
  readonly initial?: T;
  /** Minimum interval between two delivered values, ms; values in between are merged to the latest. @default 0 */
  readonly throttleMs?: number;
  /** Clock, for tests. @default Date.now */
  readonly now?: () => number;
}

/**
 * A stream that only ever holds the latest value (bounded by construction): a slow reader skips
 * intermediate values instead of queueing them.
 */
export function latestValueStream<T>({
  listen,
  initial,
  throttleMs = 0,
  now = Date.now,
}: LatestValueStreamOptions<T>): AsyncIterableIterator<T> & { return(): Promise<IteratorResult<T>> } {
  let latest: { value: T } | null = initial === undefined ? null : { value: initial };
  let pending: ((result: IteratorResult<T>) => void) | null = null;
  let lastEmitAt = Number.NEGATIVE_INFINITY;
  let timer: NodeJS.Timeout | null = null;
  let done = false;

  const take = (): IteratorResult<T> => {
    const { value } = latest!;
    latest = null;
    lastEmitAt = now();
    return { done: false, value };
  };
  const waitMs = () => lastEmitAt + throttleMs - now();
  const flush = () => {
    timer = null;
    if (!pending || !latest || done) return;
    const wait = waitMs();
    if (wait > 0) {
      timer = setTimeout(flush, wait);
      return;
    }
    const resolve = pending;
    pending = null;
    resolve(take());
  };
  const stop = listen((value) => {
    if (done) return;
    latest = { value };
    if (pending && !timer) flush();
  });

  const iterator = {
    next(): Promise<IteratorResult<T>> {
      if (done) return Promise.resolve(DONE);
      if (latest && waitMs() <= 0) return Promise.resolve(take());
      return new Promise<IteratorResult<T>>((resolve) => {
        pending = resolve;
        if (latest && !timer) timer = setTimeout(flush, waitMs());
      });
    },
    return(): Promise<IteratorResult<T>> {
      if (!done) {
        done = true;
        latest = null;
        if (timer) clearTimeout(timer);
        timer = null;
        stop();
        const resolve = pending;
        pending = null;
        resolve?.(DONE);
      }
      return Promise.resolve(DONE);
    },
    throw(error?: unknown): Promise<IteratorResult<T>> {
      void iterator.return();
      return Promise.reject(error);
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}

/** One event of the ticks subscription. */
export interface TickEvent {
  readonly updates: readonly TickUpdate[];
  /** Updates merged away for this subscriber so far because it read too slowly. */
  readonly conflated: number;
}

/**
 * The ticks subscription's source: first the snapshot (when non-empty), then the bus subscription's
 * batches as they are. return() ends the bus subscription immediately.
 */
export function tickStream(
  snapshot: readonly TickUpdate[],
  subscription: TickSubscription,
): AsyncIterableIterator<TickEvent> & { return(): Promise<IteratorResult<TickEvent>> } {
  let first: readonly TickUpdate[] | null = snapshot.length > 0 ? snapshot : null;
  let done = false;
  const iterator = {
    async next(): Promise<IteratorResult<TickEvent>> {
      if (done) return DONE;
      if (first) {
        const updates = first;
        first = null;
        return { done: false, value: { updates, conflated: 0 } };
      }
      const result = await subscription.next();
      if (result.done) {
        done = true;
        return DONE;
      }
      return { done: false, value: { updates: result.value, conflated: subscription.conflated } };
    },
    async return(): Promise<IteratorResult<TickEvent>> {
      done = true;
      first = null;
      await subscription.return();
      return DONE;
    },
    async throw(error?: unknown): Promise<IteratorResult<TickEvent>> {
      await iterator.return();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}
