/**
 * The fan-out of decoded tick batches to handlers — the seed's "dual handlers" (live path and persistence
 * path), and the extension point users add their own handlers to.
 *
 * CONTRACT: exported types are stable; implementation lives in createPipeline().
 */
import type { Logger } from '../logger.js';
import { silentLogger } from '../logger.js';
import type { TickBatch } from './tick.js';

export interface TickHandler {
  readonly name: string;
  /**
   * Called once per batch, in order. May return a promise: the next batch for this handler waits for it,
   * queued within the handler's bound (other handlers and the feed never wait). A throw or rejection is
   * counted and logged, never propagated.
   */
  handle(batch: TickBatch): void | Promise<void>;
}

export interface HandlerStats {
  readonly name: string;
  readonly batchesHandled: number;
  readonly errors: number;
  /** Batches waiting for this handler. */
  readonly queued: number;
  /** Ticks dropped because this handler's queue was full (oldest first). */
  readonly droppedTicks: number;
}

export interface HandlerOptions {
  /** Batches this handler may have waiting before the oldest is dropped (counted). @default the pipeline's */
  queueLimit?: number;
  /**
   * Call `handle()` synchronously inside `publish()`, with no queue. Only for handlers that never block and
   * cost O(batch) — the tick bus and the Redis relay: a queue in front of them would hold a backlog upstream of
   * the bus's per-subscriber conflation (measured: seconds of latency under load, nothing conflated). A throw is
   * counted and logged like any handler's. @default false
   */
  inline?: boolean;
}

export interface Pipeline {
  /** Adds a handler; returns a function that removes it. */
  use(handler: TickHandler, options?: HandlerOptions): () => void;
  publish(batch: TickBatch): void;
  stats(): readonly HandlerStats[];
  /** Waits for queued batches to be handled (bounded by timeoutMs), then stops accepting. Idempotent. */
  stop(timeoutMs?: number): Promise<void>;
}

// ---------------------------------------------------------------------------------------------------------
// Implementation
// ---------------------------------------------------------------------------------------------------------

export interface PipelineOptions {
  /** Handler failures are logged here (at most one line per handler every `errorLogIntervalMs`). @default silent */
  logger?: Logger;
  /**
   * Batches a handler may have waiting before the oldest is dropped (and its ticks counted in
   * `droppedTicks`). Per handler; `use(handler, { queueLimit })` overrides it.
   * @default 1_000
   */
  defaultQueueLimit?: number;
  /**
   * How long one handler may run synchronously before it yields the event loop (socket reads, timers and the
   * other handlers go first). A single batch is never split, so a handler slower than this per batch simply
   * gets one batch per turn.
   * @default 2 (ms)
   */
  turnBudgetMs?: number;
  /** Minimum spacing of "handler failed" log lines per handler. @default 10_000 (ms) */
  errorLogIntervalMs?: number;
}

interface Entry {
  readonly handler: TickHandler;
  readonly limit: number;
  readonly inline: boolean;
  queue: TickBatch[];
  head: number;
  handled: number;
  errors: number;
  droppedTicks: number;
  /** A drain turn is queued with setImmediate. */
  scheduled: boolean;
  /** An async handle() is in flight. */
  busy: boolean;
  removed: boolean;
  lastErrorLogAt: number;
  suppressedErrors: number;
}

function isThenable(value: unknown): value is PromiseLike<void> {
  return typeof value === 'object' && value !== null && typeof (value as PromiseLike<void>).then === 'function';
}

/**
 * Creates the fan-out. `publish()` only enqueues (O(handlers)) and returns: the feed's socket callback never
 * runs handler code. Each handler has its own bounded queue drained in its own `setImmediate` turns, so:
 * - a slow synchronous handler delays the others by at most one of its batches (or `turnBudgetMs`) per turn,
 *   never by its whole backlog, and socket I/O runs between turns;
 * - an async handler is awaited one batch at a time (order is kept), without blocking anyone else;
 * - a full queue drops its *oldest* batch and counts the ticks in `droppedTicks` (the live path wants the
 *   newest data; the recorder sets a larger `queueLimit`);
 * - a throw or rejection is counted in `errors`, logged (throttled) and never propagated.
 *
 * Extension point: anything that wants every decoded batch registers a handler —
 * `const remove = pipeline.use({ name: 'my-sink', handle: (batch) => sink.write(batch) }, { queueLimit: 5_000 })`.
 * Batches and their Ticks are immutable and shared by all handlers; do not mutate them.
 */
export function createPipeline({
  logger = silentLogger(),
  defaultQueueLimit = 1_000,
  turnBudgetMs = 2,
  errorLogIntervalMs = 10_000,
}: PipelineOptions = {}): Pipeline {
  let entries: Entry[] = [];
  let stopped = false;
  let stopping: Promise<void> | undefined;
  const idleWaiters = new Set<() => void>();

  const queued = (e: Entry) => e.queue.length - e.head;
  const allIdle = () => entries.every((e) => queued(e) === 0 && !e.busy);
  const notifyIdle = () => {
    if (idleWaiters.size > 0 && allIdle()) for (const waiter of [...idleWaiters]) waiter();
  };

  function fail(e: Entry, error: unknown): void {
    e.errors++;
    const now = Date.now();
    if (now - e.lastErrorLogAt >= errorLogIntervalMs) {
      logger.warn(
        { err: error, handler: e.handler.name, errors: e.errors, suppressed: e.suppressedErrors },
        'tick handler failed; batch skipped for this handler',
      );
      e.lastErrorLogAt = now;
      e.suppressedErrors = 0;
    } else {
      e.suppressedErrors++;
    }
  }

  function schedule(e: Entry): void {
    if (e.scheduled || e.busy || e.removed) return;
    e.scheduled = true;
    setImmediate(drain, e);
  }

  function take(e: Entry): TickBatch {
    const batch = e.queue[e.head]!;
    e.queue[e.head] = undefined as unknown as TickBatch; // release for GC
    e.head++;
    if (e.head === e.queue.length) {
      e.queue = [];
      e.head = 0;
    } else if (e.head >= 1_024 && e.head * 2 >= e.queue.length) {
      e.queue = e.queue.slice(e.head);
      e.head = 0;
    }
    return batch;
  }

  function drain(e: Entry): void {
    e.scheduled = false;
    if (e.removed) return;
    const started = performance.now();
    while (queued(e) > 0) {
      const batch = take(e);
      let result: void | Promise<void>;
      try {
        result = e.handler.handle(batch);
      } catch (error) {
        fail(e, error);
        continue;
      }
      if (isThenable(result)) {
        e.busy = true;
        Promise.resolve(result).then(
          () => {
            e.handled++;
            e.busy = false;
            if (queued(e) > 0) schedule(e);
            else notifyIdle();
          },
          (error: unknown) => {
            fail(e, error);
            e.busy = false;
            if (queued(e) > 0) schedule(e);
            else notifyIdle();
          },
        );
        return;
      }
      e.handled++;
      if (performance.now() - started >= turnBudgetMs) break;
    }
    if (queued(e) > 0) schedule(e);
    else notifyIdle();
  }

  function handleInline(e: Entry, batch: TickBatch): void {
    try {
      const result = e.handler.handle(batch);
      if (isThenable(result)) Promise.resolve(result).catch((error: unknown) => fail(e, error));
      e.handled++;
    } catch (error) {
      fail(e, error);
    }
  }

  function dropAll(e: Entry): void {
    while (queued(e) > 0) e.droppedTicks += take(e).updates.length;
  }

  return {
    use(handler, { queueLimit = defaultQueueLimit, inline = false } = {}) {
      if (!(queueLimit >= 1)) throw new RangeError(`queueLimit must be ≥ 1, got ${queueLimit}`);
      const entry: Entry = {
        handler,
        limit: queueLimit,
        inline,
        queue: [],
        head: 0,
        handled: 0,
        errors: 0,
        droppedTicks: 0,
        scheduled: false,
        busy: false,
        removed: false,
        lastErrorLogAt: Number.NEGATIVE_INFINITY,
        suppressedErrors: 0,
      };
      entries = [...entries, entry];
      return () => {
        if (entry.removed) return;
        entry.removed = true;
        dropAll(entry);
        entries = entries.filter((e) => e !== entry);
        notifyIdle();
      };
    },

    publish(batch) {
      for (const e of entries) {
        if (stopped) {
          e.droppedTicks += batch.updates.length;
          continue;
        }
        if (e.inline) {
          handleInline(e, batch);
          continue;
        }
        if (queued(e) >= e.limit) e.droppedTicks += take(e).updates.length;
        e.queue.push(batch);
        schedule(e);
      }
    },

    stats() {
      return entries.map((e) => ({
        name: e.handler.name,
        batchesHandled: e.handled,
        errors: e.errors,
        queued: queued(e),
        droppedTicks: e.droppedTicks,
      }));
    },

    stop(timeoutMs = 5_000) {
      stopping ??= (async () => {
        if (!allIdle()) {
          await new Promise<void>((resolve) => {
            const done = () => {
              clearTimeout(timer);
              idleWaiters.delete(done);
              resolve();
            };
            const timer = setTimeout(done, timeoutMs);
            idleWaiters.add(done);
          });
        }
        stopped = true;
        for (const e of entries) {
          if (queued(e) > 0) {
            logger.warn({ handler: e.handler.name, queued: queued(e) }, 'pipeline stopped before this handler drained');
          }
          dropAll(e);
        }
      })();
      return stopping;
    },
  };
}
