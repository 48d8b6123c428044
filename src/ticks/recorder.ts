/**
 * The persistence handler: records every tick update to the `Tick` table without ever slowing the live path.
 *
 * `handle()` only appends each tick to an in-memory columnar segment (src/store/tick-writer.ts): a few
 * stores per tick, no I/O, no promise. Full segments (`batchSize` ticks), or whatever accumulated after
 * `flushIntervalMs`, queue for the writer, which runs in a worker thread with its own connection
 * (better-sqlite3 is synchronous; a COPY stream costs CPU): one write in flight at a time, several queued
 * segments per write when the database fell behind.
 *
 * No silent loss:
 * - a failed write keeps its ticks at the head of the queue and is retried with jittered exponential backoff;
 * - ticks stay buffered (queued + in flight + filling) up to `maxBufferedTicks`; beyond that the OLDEST
 *   queued segment is dropped and counted under `buffer_full`;
 * - `stop()` flushes everything buffered (retrying) before it resolves; whatever still cannot be written
 *   after `stopTimeoutMs` is counted under `shutdown`. Ticks handed in after stop count under `stopped`.
 * So at any time: ticks handled = written + buffered + sum(dropped).
 */
import type { Logger } from '../logger.js';
import { parseDatabaseUrl } from '../store/connection.js';
import type { Database } from '../store/prisma.js';
import {
  createSegmentBuilder,
  type TickSegment,
  type TickWriter,
  type TickWriterOptions,
} from '../store/tick-writer.js';
import { createThreadedTickWriter } from '../store/tick-writer-thread.js';
import type { TickHandler } from './pipeline.js';
import type { TickBatch } from './tick.js';

export type RecorderDropReason = 'buffer_full' | 'shutdown' | 'stopped';

export interface RecorderStats {
  /** Ticks committed to the database. */
  readonly written: number;
  /** Ticks held in memory: filling + queued + in flight. */
  readonly buffered: number;
  /** Ticks in the write currently running. */
  readonly inFlight: number;
  readonly dropped: Readonly<Record<RecorderDropReason, number>>;
  /** Failed write attempts (each retried). */
  readonly writeErrors: number;
  /** Message of the most recent failed write (no connection strings or secrets: driver messages only). */
  readonly lastError: string | null;
  /** Duration of the last successful write, ms. */
  readonly lastFlushMs: number | null;
  /** Rows of the last successful write. */
  readonly lastFlushRows: number;
  /** Successful writes. */
  readonly flushes: number;
  /** True while waiting to retry after a failed write. */
  readonly retrying: boolean;
}

export interface Recorder extends TickHandler {
  stats(): RecorderStats;
  /** Queues what is filling and resolves when everything buffered so far is written (for tests and drains). */
  flush(): Promise<void>;
  /** Flushes everything buffered (bounded by stopTimeoutMs), then closes the writer. Idempotent. */
  stop(): Promise<void>;
}

export interface RecorderOptions {
  /** The database to record into (its connection info; the writer opens its own connection). */
  database?: Pick<Database, 'connection'>;
  /** Alternatively, the database URL (same forms as createDatabase). One of `database` / `url` is required. */
  url?: string;
  /** Ticks per segment: a full segment is queued for writing at once. @default 2_000 */
  batchSize?: number;
  /** A partly filled segment is queued after this long, ms. @default 250 */
  flushIntervalMs?: number;
  /** Memory budget in ticks (filling + queued + in flight); beyond it the oldest queued ticks are dropped. @default 200_000 */
  maxBufferedTicks?: number;
  /** Most ticks per write when the queue holds several segments. @default 5 × batchSize */
  maxTicksPerWrite?: number;
  /** Delay before retry `attempt` (1, 2, …) of a failed write, ms. @default jittered 100 ms × 2^(attempt−1), capped at 5_000 */
  retryDelayMs?: (attempt: number) => number;
  /** How long `stop()` keeps retrying before counting the rest as dropped (`shutdown`), ms. @default 15_000 */
  stopTimeoutMs?: number;
  /** SQLite busy timeout / PostgreSQL statement_timeout of one write, ms. @default 5_000 */
  writeTimeoutMs?: number;
  /** The writer to use instead of the worker-thread writer (tests, benchmarks). */
  writer?: TickWriter;
  /** Extra options for the default writer (e.g. `pgMethod`). */
  writerOptions?: Partial<Pick<TickWriterOptions, 'pgMethod' | 'sqliteRowsPerStatement'>>;
  logger?: Logger;
  /** Called after each failed write (before its retry is scheduled). */
  onWriteError?: (error: Error, attempt: number) => void;
  /** Called after each successful write. */
  onWrite?: (rows: number, ms: number) => void;
  /** @default 'recorder' */
  name?: string;
}

export function defaultRetryDelayMs(attempt: number): number {
  const base = Math.min(5_000, 100 * 2 ** Math.max(0, attempt - 1));
  return base / 2 + Math.random() * (base / 2);
}

export function createRecorder({
  database,
  url,
  batchSize = 2_000,
  flushIntervalMs = 250,
  maxBufferedTicks = 200_000,
  maxTicksPerWrite = batchSize * 5,
  retryDelayMs = defaultRetryDelayMs,
  stopTimeoutMs = 15_000,
  writeTimeoutMs = 5_000,
  writer = undefined,
  writerOptions = {},
  logger,
  onWriteError,
  onWrite,
  name = 'recorder',
}: RecorderOptions): Recorder {
  if (!(batchSize >= 1)) throw new RangeError(`batchSize must be ≥ 1, got ${batchSize}`);
  if (!(maxBufferedTicks >= batchSize)) {
    throw new RangeError(`maxBufferedTicks (${maxBufferedTicks}) must be ≥ batchSize (${batchSize})`);
  }
  const connection = database?.connection ?? (url === undefined ? undefined : parseDatabaseUrl(url));
  if (!writer && !connection) throw new TypeError('createRecorder needs `database` or `url`');
  if (!writer && connection?.provider === 'sqlite' && connection.filename === ':memory:') {
    // The writer thread opens its own connection, and an in-memory database is private to one connection.
    throw new TypeError('the recorder cannot write to an in-memory SQLite database (file::memory:); use a file');
  }
  const sink = writer ?? createThreadedTickWriter({ connection: connection!, writeTimeoutMs, ...writerOptions });
  const builder = createSegmentBuilder(batchSize);
  /** Sealed segments waiting for the writer, oldest first. */
  const queue: TickSegment[] = [];
  let queued = 0;
  let inFlight: TickSegment[] | null = null;
  let inFlightCount = 0;
  let retryTimer: NodeJS.Timeout | undefined;
  let attempt = 0;
  let stopped = false;
  let stopping: Promise<void> | undefined;
  /** Set when stop() timed out: a write failing now is counted as dropped instead of retried. */
  let abandoned = false;
  let drainWaiters: (() => void)[] = [];

  let written = 0;
  const dropped: Record<RecorderDropReason, number> = { buffer_full: 0, shutdown: 0, stopped: 0 };
  let writeErrors = 0;
  let lastError: string | null = null;
  let lastFlushMs: number | null = null;
  let lastFlushRows = 0;
  let flushes = 0;

  const buffered = () => builder.count + queued + inFlightCount;

  const seal = () => {
    if (builder.count === 0) return;
    const segment = builder.seal();
    queue.push(segment);
    queued += segment.count;
  };

  /** Keeps the budget by dropping the oldest queued (not in-flight) segments. */
  const enforceBudget = () => {
    while (buffered() > maxBufferedTicks && queue.length > 0) {
      const oldest = queue.shift()!;
      queued -= oldest.count;
      dropped.buffer_full += oldest.count;
    }
  };

  const settleDrain = () => {
    if (inFlight || queue.length > 0 || builder.count > 0) return;
    const waiters = drainWaiters;
    drainWaiters = [];
    for (const resolve of waiters) resolve();
  };

  const pump = () => {
    if (inFlight || retryTimer || queue.length === 0) return;
    const batch: TickSegment[] = [];
    let rows = 0;
    while (queue.length > 0 && (batch.length === 0 || rows + queue[0]!.count <= maxTicksPerWrite)) {
      const segment = queue.shift()!;
      batch.push(segment);
      rows += segment.count;
    }
    queued -= rows;
    inFlight = batch;
    inFlightCount = rows;
    const started = performance.now();
    sink.write(batch).then(
      () => {
        const ms = performance.now() - started;
        inFlight = null;
        inFlightCount = 0;
        attempt = 0;
        written += rows;
        flushes++;
        lastFlushMs = ms;
        lastFlushRows = rows;
        onWrite?.(rows, ms);
        pump();
        settleDrain();
      },
      (error: Error) => {
        inFlight = null;
        inFlightCount = 0;
        writeErrors++;
        lastError = error.message;
        if (abandoned) {
          dropped.shutdown += rows;
          settleDrain();
          return;
        }
        // Back to the head of the queue, in order; the budget may now drop the oldest of them.
        queue.unshift(...batch);
        queued += rows;
        attempt++;
        enforceBudget();
        if (attempt === 1 || attempt % 10 === 0) {
          logger?.warn({ err: error.message, attempt, buffered: buffered() }, 'tick write failed; retrying');
        }
        onWriteError?.(error, attempt);
        retryTimer = setTimeout(() => {
          retryTimer = undefined;
          pump();
          settleDrain();
        }, retryDelayMs(attempt));
        if (!stopping) retryTimer.unref();
      },
    );
  };

  const interval = setInterval(() => {
    seal();
    pump();
  }, flushIntervalMs);
  interval.unref();

  const flush = () => {
    seal();
    pump();
    if (!inFlight && queue.length === 0) return Promise.resolve();
    return new Promise<void>((resolve) => drainWaiters.push(resolve));
  };

  return {
    name,
    handle(batch: TickBatch) {
      const updates = batch.updates;
      if (stopped) {
        dropped.stopped += updates.length;
        return;
      }
      for (let i = 0; i < updates.length; i++) {
        if (!builder.push(updates[i]!.tick)) {
          seal();
          builder.push(updates[i]!.tick);
        }
      }
      if (builder.count === batchSize) seal();
      if (buffered() > maxBufferedTicks) enforceBudget();
      if (queue.length > 0) pump();
    },

    stats() {
      return {
        written,
        buffered: buffered(),
        inFlight: inFlightCount,
        dropped: { ...dropped },
        writeErrors,
        lastError,
        lastFlushMs,
        lastFlushRows,
        flushes,
        retrying: retryTimer !== undefined,
      };
    },

    flush,

    stop() {
      stopping ??= (async () => {
        stopped = true;
        clearInterval(interval);
        // Retries during shutdown keep the process alive until the flush is done or times out.
        retryTimer?.ref();
        let timer: NodeJS.Timeout | undefined;
        const timedOut = new Promise<'timeout'>((resolve) => {
          timer = setTimeout(() => resolve('timeout'), stopTimeoutMs);
        });
        const result = await Promise.race([flush().then(() => 'flushed' as const), timedOut]);
        clearTimeout(timer);
        if (result === 'timeout') {
          abandoned = true;
          clearTimeout(retryTimer);
          retryTimer = undefined;
          const lost = queued + builder.count;
          if (builder.count > 0) seal();
          dropped.shutdown += queued;
          queue.length = 0;
          queued = 0;
          logger?.error(
            { lost, inFlight: inFlightCount, lastError },
            'recorder stop timed out: ticks that could not be written are counted as dropped (shutdown)',
          );
          // A write still in flight settles into `written` or back into the (now ignored) queue.
          if (inFlight) await new Promise<void>((resolve) => drainWaiters.push(resolve));
        }
        await sink.close();
        logger?.info({ written, dropped }, 'recorder stopped');
      })();
      return stopping;
    },
  };
}
