import SqliteDatabase from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { createTickStore } from '../../src/store/tick-store.js';
import { createRecorder, type Recorder } from '../../src/ticks/recorder.js';
import { backends, batchOf, countTicks, createTestDatabase, sampleTick, type TestDatabase } from '../support/db.js';

/** Resolves on the recorder's next failed write. */
function nextWriteError(hooks: { onError?: () => void }): Promise<void> {
  return new Promise((resolve) => {
    hooks.onError = () => {
      hooks.onError = undefined;
      resolve();
    };
  });
}

describe.each(backends())('recorder on $provider', ({ provider }) => {
  const opened: TestDatabase[] = [];
  const recorders: Recorder[] = [];
  afterAll(async () => {
    await Promise.all(recorders.map((r) => r.stop()));
    await Promise.all(opened.map((db) => db.cleanup()));
  });
  const open = async (label: string) => {
    const db = await createTestDatabase(provider, label);
    opened.push(db);
    return db;
  };

  it('stores LTPC, the best depth level, the day candle, greeks and stats of each tick, and NULL for what a mode lacks', async () => {
    const { database } = await open('fields');
    const recorder = createRecorder({ database });
    recorders.push(recorder);
    const full = sampleTick(1);
    const ltpc = sampleTick(2, {
      mode: 'ltpc',
      depth: null,
      candles: null,
      greeks: null,
      averagePrice: null,
      volume: null,
      openInterest: null,
      impliedVolatility: null,
      totalBuyQty: null,
      totalSellQty: null,
      instrumentKey: full.instrumentKey,
    });
    expect(recorder.handle(batchOf([full, ltpc]))).toBeUndefined();
    await recorder.flush();

    const page = await createTickStore({ database }).history({
      instrumentKey: full.instrumentKey,
      order: 'ASC',
      limit: 10,
    });
    expect(page).toEqual([
      {
        id: expect.stringMatching(/^\d+$/),
        instrumentKey: full.instrumentKey,
        exchangeTs: full.exchangeTs,
        receivedAt: full.receivedAt,
        mode: 'full',
        ltp: full.ltp,
        lastTradeTime: full.lastTradeTime,
        ltq: 25,
        closePrice: 99.5,
        volume: full.volume,
        openInterest: 5_000,
        averagePrice: 99.9,
        impliedVolatility: 0.1334,
        totalBuyQty: 10_000,
        totalSellQty: 12_000,
        bestBidPrice: 100.05,
        bestBidQty: 40,
        bestAskPrice: 100.1,
        bestAskQty: 60,
        dayOpen: 98.25,
        dayHigh: 101.5,
        dayLow: 97.75,
        delta: 0.51,
        theta: -2.5,
        gamma: 0.002,
        vega: 7.25,
        rho: 1.125,
      },
      {
        id: expect.stringMatching(/^\d+$/),
        instrumentKey: full.instrumentKey,
        exchangeTs: ltpc.exchangeTs,
        receivedAt: ltpc.receivedAt,
        mode: 'ltpc',
        ltp: ltpc.ltp,
        lastTradeTime: ltpc.lastTradeTime,
        ltq: 25,
        closePrice: 99.5,
        volume: null,
        openInterest: null,
        averagePrice: null,
        impliedVolatility: null,
        totalBuyQty: null,
        totalSellQty: null,
        bestBidPrice: null,
        bestBidQty: null,
        bestAskPrice: null,
        bestAskQty: null,
        dayOpen: null,
        dayHigh: null,
        dayLow: null,
        delta: null,
        theta: null,
        gamma: null,
        vega: null,
        rho: null,
      },
    ]);
    await recorder.stop();
  });

  it('writes everything still buffered when stopped', async () => {
    const { database } = await open('stop');
    // A long interval and a large batch: nothing is written until stop().
    const recorder = createRecorder({ database, batchSize: 10_000, flushIntervalMs: 60_000 });
    recorders.push(recorder);
    for (let i = 0; i < 50; i++) recorder.handle(batchOf(Array.from({ length: 37 }, (_, j) => sampleTick(i * 37 + j))));
    expect(recorder.stats().buffered).toBe(1_850);
    await recorder.stop();
    expect(await countTicks(database)).toBe(1_850);
    expect(recorder.stats()).toMatchObject({ written: 1_850, buffered: 0, dropped: { buffer_full: 0, shutdown: 0 } });
  });

  it('loses nothing unaccounted while the database is blocked: rows written + ticks dropped = ticks sent', async () => {
    const db = await open('blocked');
    const { database } = db;
    const hooks: { onError?: () => void } = {};
    const recorder = createRecorder({
      database,
      batchSize: 100,
      flushIntervalMs: 20,
      maxBufferedTicks: 1_000,
      writeTimeoutMs: 150,
      retryDelayMs: () => 25,
      onWriteError: () => hooks.onError?.(),
    });
    recorders.push(recorder);
    let sent = 0;
    const send = (n: number) => {
      for (let k = 0; k < n; k += 50) {
        const size = Math.min(50, n - k);
        recorder.handle(batchOf(Array.from({ length: size }, (_, j) => sampleTick(sent + j))));
        sent += size;
      }
    };

    send(500);
    await recorder.flush();
    expect(await countTicks(database)).toBe(500);

    // Block every write from another connection.
    let release: () => Promise<void>;
    if (provider === 'sqlite') {
      const blocker = new SqliteDatabase(db.where);
      blocker.exec('BEGIN EXCLUSIVE');
      release = async () => {
        blocker.exec('ROLLBACK');
        blocker.close();
      };
    } else {
      const blocker = await db.rawPg();
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE "Tick" IN ACCESS EXCLUSIVE MODE');
      release = async () => {
        await blocker.query('ROLLBACK');
      };
    }
    const failed = nextWriteError(hooks);
    send(300);
    await failed;
    // Past the 1,000-tick budget: the oldest queued ticks must be dropped and counted.
    send(2_000);
    const during = recorder.stats();
    expect(during.dropped.buffer_full).toBeGreaterThan(0);
    expect(during.buffered).toBeLessThanOrEqual(1_000);
    expect(during.writeErrors).toBeGreaterThan(0);
    expect(during.written + during.buffered + during.dropped.buffer_full).toBe(sent);

    await release();
    send(200);
    await recorder.stop();

    const stats = recorder.stats();
    const rows = await countTicks(database);
    expect(stats.buffered).toBe(0);
    expect(stats.dropped.shutdown).toBe(0);
    expect(rows).toBe(stats.written);
    expect(rows + stats.dropped.buffer_full).toBe(sent);
    // No tick was written twice by a retry.
    const distinct = await database.prisma.tick.groupBy({ by: ['exchangeTs'] });
    expect(distinct).toHaveLength(rows);
  });

  it.runIf(provider === 'postgresql')(
    'reconnects and keeps every tick after its database connection is terminated',
    async () => {
      const db = await open('terminated');
      const { database } = db;
      const hooks: { onError?: () => void } = {};
      const recorder = createRecorder({
        database,
        batchSize: 100,
        flushIntervalMs: 20,
        writeTimeoutMs: 2_000,
        retryDelayMs: () => 25,
        onWriteError: () => hooks.onError?.(),
      });
      recorders.push(recorder);
      let sent = 0;
      const send = (n: number) => {
        recorder.handle(batchOf(Array.from({ length: n }, (_, j) => sampleTick(sent + j))));
        sent += n;
      };
      send(300);
      await recorder.flush();

      // Hold the table so the next write waits on the server, then kill the writer's backend mid-write.
      const admin = await db.rawPg();
      const blocker = await db.rawPg();
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE "Tick" IN ACCESS EXCLUSIVE MODE');
      const failed = nextWriteError(hooks);
      send(400);
      const appName = `tickgraph-recorder:${db.where}`.slice(0, 63);
      // Wait (event-free, bounded) for the writer's COPY to be queued on the lock, then terminate it.
      let killed = false;
      for (let i = 0; i < 200 && !killed; i++) {
        const { rows } = await admin.query(
          `SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'`,
          [appName],
        );
        killed = rows.length > 0;
        if (!killed) await new Promise((resolve) => setImmediate(resolve));
      }
      expect(killed).toBe(true);
      await failed;
      await blocker.query('ROLLBACK');
      await recorder.stop();
      const stats = recorder.stats();
      expect(stats.writeErrors).toBeGreaterThan(0);
      expect(await countTicks(database)).toBe(sent);
      expect(stats).toMatchObject({ written: sent, buffered: 0, dropped: { buffer_full: 0, shutdown: 0 } });
    },
  );
});
