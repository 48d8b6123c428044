/**
 * The live path's pub/sub: batches in, per-subscriber filtered batches out, with a bounded, conflating
 * buffer per subscriber so a slow reader converges to the latest state instead of growing memory or
 * blocking others.
 *
 * CONTRACT (shared with graphql/, app.ts, bench/): the exported types are stable.
 */
import type { Logger } from '../logger.js';
import { type ConflatingQueue, createConflatingQueue, mergeUpdates } from './conflating-queue.js';
import type { TickBatch, TickUpdate } from './tick.js';

export interface TickSubscriptionOptions {
  /** Instrument keys to receive. */
  readonly instrumentKeys: readonly string[];
  /**
   * At most one update per instrument per interval, always the latest. 0 = every update.
   * @default 0
   */
  readonly throttleMs?: number;
  /**
   * Buffered updates before conflation starts. Past it, a newer update for an instrument replaces the
   * buffered one (counted as conflated), so the buffer never holds more than one update per key beyond this.
   * @default 1_000
   */
  readonly bufferLimit?: number;
}

/** An async iterator of update lists (one per upstream frame or throttle window). return() frees it at once. */
export interface TickSubscription extends AsyncIterableIterator<readonly TickUpdate[]> {
  /** Updates merged away for this subscriber because it read too slowly. */
  readonly conflated: number;
  return(): Promise<IteratorResult<readonly TickUpdate[]>>;
}

export interface TickBusStats {
  readonly subscribers: number;
  readonly batchesPublished: number;
  /** Total updates conflated across all subscribers, since start. */
  readonly conflated: number;
}

export interface TickBus {
  publish(batch: TickBatch): void;
  subscribe(options: TickSubscriptionOptions): TickSubscription;
  stats(): TickBusStats;
  /** Ends every subscription. Idempotent. */
  stop(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------------------------
// Implementation
// ---------------------------------------------------------------------------------------------------------------

export type TickBusErrorCode = 'INVALID_THROTTLE' | 'INVALID_BUFFER_LIMIT';

/** A subscription asked for something the bus cannot do; the message names the value and what was expected. */
export class TickBusError extends Error {
  override name = 'TickBusError';
  readonly code: TickBusErrorCode;
  constructor(message: string, code: TickBusErrorCode) {
    super(message);
    this.code = code;
  }
}

export interface TickBusOptions {
  /** Component logger: stop() at debug level; nothing on the publish or subscribe path. */
  readonly logger: Logger;
  /**
   * bufferLimit for subscriptions that do not set one: updates buffered as-is before conflation starts.
   * @default 1_000
   */
  readonly defaultBufferLimit?: number;
  /**
   * Largest accepted `throttleMs`; a larger one makes subscribe() throw TickBusError('INVALID_THROTTLE').
   * @default 60_000 (ms)
   */
  readonly maxThrottleMs?: number;
}

/** What the publish loop keeps per subscriber; one shape for all, so the hot loop stays monomorphic. */
interface Subscriber {
  /** publish() call that last touched `matched`/`current`. */
  epoch: number;
  /** Updates of the batch being published that are for this subscriber. */
  matched: number;
  /**
   * Those updates, or null while they are exactly the batch's first `matched` updates: then no list is built
   * (a subscriber of every key in a batch costs no allocation at all; it shares the batch's array).
   */
  current: TickUpdate[] | null;
  accept(updates: readonly TickUpdate[]): void;
  close(): void;
}

type Resolve = (result: IteratorResult<readonly TickUpdate[]>) => void;

const DONE: IteratorResult<readonly TickUpdate[]> = Object.freeze({ done: true, value: undefined });

/**
 * Creates the in-process tick bus.
 *
 * publish() is synchronous and never runs subscriber code: it appends to per-subscriber buffers and resolves
 * waiting next() promises (their continuations run later, as microtasks). Its cost is
 * O(updates + Σ subscribers of each updated key); subscribers of other keys are never visited.
 *
 * Throttling is per subscriber window: an update arriving while the window is closed goes out at once and opens
 * a `throttleMs` window; updates inside it are merged per instrument (latest wins, masks OR-ed) and go out as one
 * list when it ends (the trailing edge, so the final value is never lost), which opens the next window. Each
 * instrument therefore gets at most one update per interval, and the reader gets one list per window.
 */
export function createTickBus({ logger, defaultBufferLimit = 1_000, maxThrottleMs = 60_000 }: TickBusOptions): TickBus {
  checkBufferLimit(defaultBufferLimit, 'defaultBufferLimit');
  const index = new Map<string, Set<Subscriber>>();
  /** Subscribers touched by the publish() in progress (reused to avoid an allocation per batch). */
  const touched: Subscriber[] = [];
  let epoch = 0;
  let batchesPublished = 0;
  let conflatedByEnded = 0;
  /** Live subscribers and their buffers. */
  const queues = new Map<Subscriber, ConflatingQueue>();
  let stopped = false;
  let stopping: Promise<void> | undefined;

  function subscribe({ instrumentKeys, throttleMs = 0, bufferLimit = defaultBufferLimit }: TickSubscriptionOptions) {
    if (!Number.isFinite(throttleMs) || throttleMs < 0 || throttleMs > maxThrottleMs) {
      throw new TickBusError(
        `throttleMs must be a number of milliseconds from 0 to ${maxThrottleMs}, got ${throttleMs}`,
        'INVALID_THROTTLE',
      );
    }
    checkBufferLimit(bufferLimit, 'bufferLimit');
    const keys = [...new Set(instrumentKeys)];
    const queue = createConflatingQueue({ limit: bufferLimit });
    const waiting: Resolve[] = [];
    let done = stopped;

    // Throttle state (unused when throttleMs is 0).
    let windowTimer: ReturnType<typeof setTimeout> | undefined;
    const held = new Map<string, TickUpdate>();

    function deliver(updates: readonly TickUpdate[]): void {
      const resolve = waiting.shift();
      if (resolve !== undefined) resolve({ done: false, value: updates });
      else queue.push(updates);
    }

    function openWindow(): void {
      windowTimer = setTimeout(closeWindow, throttleMs);
    }

    function closeWindow(): void {
      windowTimer = undefined;
      if (held.size === 0) return;
      const updates = Array.from(held.values());
      held.clear();
      deliver(updates);
      openWindow();
    }

    const subscriber: Subscriber = {
      epoch: 0,
      matched: 0,
      current: null,
      accept:
        throttleMs === 0
          ? deliver
          : (updates) => {
              if (windowTimer === undefined) {
                deliver(updates);
                openWindow();
                return;
              }
              for (const update of updates) {
                const key = update.tick.instrumentKey;
                const previous = held.get(key);
                held.set(key, previous === undefined ? update : mergeUpdates(previous, update));
              }
            },
      close,
    };

    function close(): void {
      if (done) return;
      done = true;
      for (const key of keys) {
        const subscribers = index.get(key);
        if (subscribers === undefined) continue;
        subscribers.delete(subscriber);
        if (subscribers.size === 0) index.delete(key);
      }
      conflatedByEnded += queue.conflated;
      queues.delete(subscriber);
      if (windowTimer !== undefined) clearTimeout(windowTimer);
      windowTimer = undefined;
      held.clear();
      queue.clear();
      for (const resolve of waiting.splice(0)) resolve(DONE);
    }

    if (!done) {
      for (const key of keys) {
        let subscribers = index.get(key);
        if (subscribers === undefined) {
          subscribers = new Set();
          index.set(key, subscribers);
        }
        subscribers.add(subscriber);
      }
      queues.set(subscriber, queue);
    }

    const subscription: TickSubscription = {
      get conflated() {
        return queue.conflated;
      },
      next() {
        const buffered = queue.shift();
        if (buffered !== undefined) return Promise.resolve({ done: false, value: buffered });
        if (done) return Promise.resolve(DONE);
        return new Promise<IteratorResult<readonly TickUpdate[]>>((resolve) => waiting.push(resolve));
      },
      return() {
        close();
        return Promise.resolve(DONE);
      },
      throw(error?: unknown) {
        close();
        return Promise.reject(error);
      },
      [Symbol.asyncIterator]() {
        return this;
      },
    };
    return subscription;
  }

  return {
    publish(batch) {
      if (stopped) return;
      batchesPublished++;
      const updates = batch.updates;
      if (index.size === 0 || updates.length === 0) return;
      epoch++;
      for (let i = 0; i < updates.length; i++) {
        const update = updates[i]!;
        const subscribers = index.get(update.tick.instrumentKey);
        if (subscribers === undefined) continue;
        for (const subscriber of subscribers) {
          if (subscriber.epoch !== epoch) {
            subscriber.epoch = epoch;
            subscriber.matched = 1;
            subscriber.current = i === 0 ? null : [update];
            touched.push(subscriber);
          } else if (subscriber.current !== null) {
            subscriber.current.push(update);
            subscriber.matched++;
          } else if (subscriber.matched === i) {
            subscriber.matched++; // still the batch's prefix
          } else {
            const list = updates.slice(0, subscriber.matched);
            list.push(update);
            subscriber.current = list;
            subscriber.matched++;
          }
        }
      }
      for (let i = 0; i < touched.length; i++) {
        const subscriber = touched[i]!;
        const mine =
          subscriber.current ??
          (subscriber.matched === updates.length ? updates : updates.slice(0, subscriber.matched));
        subscriber.current = null;
        subscriber.accept(mine);
      }
      touched.length = 0;
    },
    subscribe,
    stats() {
      let conflated = conflatedByEnded;
      for (const queue of queues.values()) conflated += queue.conflated;
      return { subscribers: queues.size, batchesPublished, conflated };
    },
    stop() {
      stopping ??= (async () => {
        stopped = true;
        const ending = queues.size;
        for (const subscriber of [...queues.keys()]) subscriber.close();
        logger.debug({ subscriptions: ending }, 'tick bus stopped');
      })();
      return stopping;
    },
  };
}

function checkBufferLimit(value: number, name: string): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new TickBusError(`${name} must be an integer ≥ 1, got ${value}`, 'INVALID_BUFFER_LIMIT');
  }
}
