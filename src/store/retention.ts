/**
 * Retention: deletes ticks older than `maxAgeMs` (by `receivedAt`) in small batches in the background.
 *
 * Ids grow in insertion order and insertion follows `receivedAt` (the recorder writes in arrival order), so
 * the oldest ticks sit at the head of the primary key. Each batch deletes among the first `batchSize` ids only
 * — `id <= (the batchSize-th id) AND receivedAt < cutoff` — an index range on the primary key: no full scan
 * and no extra index to maintain on the hot write path. A batch that deletes fewer than `batchSize` rows means
 * the head is no longer entirely old, and the run ends. Between batches the loop yields to the event loop, so
 * reads and the recorder's writes interleave; on SQLite each batch is one short synchronous statement
 * (hence the smaller default batch there), and the recorder's worker waits on its busy timeout meanwhile.
 */
import type { Logger } from '../logger.js';
import type { Database } from './prisma.js';

export interface RetentionStats {
  /** Rows deleted since start. */
  readonly pruned: number;
  readonly runs: number;
  /** Duration of the last run, ms. */
  readonly lastRunMs: number | null;
  readonly lastError: string | null;
}

export interface Retention {
  /** Starts the periodic runs (the first after `intervalMs`). */
  start(): void;
  /** Runs one pruning pass now; resolves with the rows deleted. Concurrent calls share the pass. */
  runOnce(): Promise<number>;
  stats(): RetentionStats;
  /** Stops the timer and waits for a running pass. Idempotent. */
  stop(): Promise<void>;
}

export interface RetentionOptions {
  database: Pick<Database, 'prisma' | 'provider'>;
  /** Ticks received longer ago than this are deleted, ms. 0 disables pruning. */
  maxAgeMs: number;
  /** Time between passes, ms. @default 60_000 */
  intervalMs?: number;
  /**
   * Most rows deleted per statement. On SQLite a statement runs synchronously on the calling thread (Prisma's
   * better-sqlite3 adapter), so batches stay small there to keep each pause of the event loop short.
   * @default 5_000 on PostgreSQL, 500 on SQLite
   */
  batchSize?: number;
  /** Most batches per pass, so one pass stays bounded after a long outage. @default 1_000 */
  maxBatchesPerRun?: number;
  /** Clock, epoch ms. @default Date.now */
  now?: () => number;
  logger?: Logger;
}

export function createRetention({
  database,
  maxAgeMs,
  intervalMs = 60_000,
  batchSize = database.provider === 'sqlite' ? 500 : 5_000,
  maxBatchesPerRun = 1_000,
  now = Date.now,
  logger,
}: RetentionOptions): Retention {
  const { prisma } = database;
  let pruned = 0;
  let runs = 0;
  let lastRunMs: number | null = null;
  let lastError: string | null = null;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<number> | undefined;
  let stopped = false;

  const pass = async (): Promise<number> => {
    const started = performance.now();
    const cutoff = BigInt(Math.floor(now() - maxAgeMs));
    let deletedThisRun = 0;
    try {
      for (let batch = 0; batch < maxBatchesPerRun && !stopped; batch++) {
        const head = await prisma.$queryRaw<{ id: bigint }[]>`
          SELECT "id" FROM "Tick" ORDER BY "id" ASC LIMIT 1 OFFSET ${batchSize - 1}`;
        const boundary =
          head[0]?.id ?? (await prisma.$queryRaw<{ id: bigint | null }[]>`SELECT MAX("id") AS "id" FROM "Tick"`)[0]?.id;
        if (boundary === null || boundary === undefined) break;
        const deleted = await prisma.$executeRaw`
          DELETE FROM "Tick" WHERE "id" <= ${boundary} AND "receivedAt" < ${cutoff}`;
        deletedThisRun += deleted;
        pruned += deleted;
        if (deleted < batchSize) break;
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      lastError = null;
    } catch (error) {
      lastError = (error as Error).message;
      logger?.warn({ err: lastError }, 'tick retention pass failed; will retry next interval');
    }
    runs++;
    lastRunMs = performance.now() - started;
    if (deletedThisRun > 0) logger?.info({ deleted: deletedThisRun, ms: Math.round(lastRunMs) }, 'old ticks pruned');
    return deletedThisRun;
  };

  const runOnce = () => {
    if (maxAgeMs <= 0) return Promise.resolve(0);
    running ??= pass().finally(() => {
      running = undefined;
    });
    return running;
  };

  let stopping: Promise<void> | undefined;
  return {
    start() {
      if (timer || stopped || maxAgeMs <= 0) return;
      timer = setInterval(() => void runOnce(), intervalMs);
      timer.unref();
    },
    runOnce,
    stats: () => ({ pruned, runs, lastRunMs, lastError }),
    stop() {
      stopping ??= (async () => {
        stopped = true;
        clearInterval(timer);
        timer = undefined;
        await running;
      })();
      return stopping;
    },
  };
}
