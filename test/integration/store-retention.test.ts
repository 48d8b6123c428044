import { afterAll, describe, expect, it } from 'vitest';
import { createRetention } from '../../src/store/retention.js';
import { createRecorder } from '../../src/ticks/recorder.js';
import { backends, batchOf, countTicks, createTestDatabase, sampleTick, type TestDatabase } from '../support/db.js';

const NOW = 1_800_000_000_000;
const HOUR = 3_600_000;

describe.each(backends())('retention on $provider', ({ provider }) => {
  const opened: TestDatabase[] = [];
  afterAll(async () => {
    await Promise.all(opened.map((db) => db.cleanup()));
  });

  it('deletes only ticks older than maxAge, in batches, and counts them', async () => {
    const db = await createTestDatabase(provider, 'retention');
    opened.push(db);
    const { database } = db;
    // 230 old ticks (2 h ago) followed by 70 recent ones (1 min ago), in arrival order.
    const recorder = createRecorder({ database, batchSize: 100 });
    const ticks = Array.from({ length: 300 }, (_, i) =>
      sampleTick(i, { receivedAt: i < 230 ? NOW - 2 * HOUR + i : NOW - 60_000 + i }),
    );
    recorder.handle(batchOf(ticks));
    await recorder.stop();
    expect(await countTicks(database)).toBe(300);

    const retention = createRetention({ database, maxAgeMs: HOUR, batchSize: 50, now: () => NOW });
    expect(await retention.runOnce()).toBe(230);
    expect(retention.stats()).toMatchObject({ pruned: 230, runs: 1, lastError: null });
    expect(await countTicks(database)).toBe(70);
    const oldest = await database.prisma.tick.findFirst({ orderBy: { receivedAt: 'asc' } });
    expect(Number(oldest!.receivedAt)).toBeGreaterThanOrEqual(NOW - HOUR);

    // Nothing old left: a second pass deletes nothing and stays cheap (one head batch).
    expect(await retention.runOnce()).toBe(0);
    expect(retention.stats()).toMatchObject({ pruned: 230, runs: 2 });
    await retention.stop();
    await retention.stop();
  });

  it('prunes while the recorder keeps writing, without losing recent ticks', async () => {
    const db = await createTestDatabase(provider, 'retention-live');
    opened.push(db);
    const { database } = db;
    const recorder = createRecorder({ database, batchSize: 200, flushIntervalMs: 10 });
    let sent = 0;
    const send = (n: number, receivedAt: (i: number) => number) => {
      recorder.handle(
        batchOf(Array.from({ length: n }, (_, j) => sampleTick(sent + j, { receivedAt: receivedAt(sent + j) }))),
      );
      sent += n;
    };
    send(1_000, (i) => NOW - 5 * HOUR + i);
    await recorder.flush();
    const retention = createRetention({ database, maxAgeMs: HOUR, batchSize: 100, now: () => NOW });
    // Recent ticks arrive while the old ones are being pruned.
    const pass = retention.runOnce();
    send(500, (i) => NOW + i);
    await Promise.all([pass, recorder.flush()]);
    await retention.runOnce();
    await recorder.stop();
    await retention.stop();
    expect(retention.stats().pruned).toBe(1_000);
    expect(await countTicks(database)).toBe(500);
  });

  it('does nothing when maxAge is 0 (retention disabled)', async () => {
    const db = await createTestDatabase(provider, 'retention-off');
    opened.push(db);
    const retention = createRetention({ database: db.database, maxAgeMs: 0 });
    retention.start();
    expect(await retention.runOnce()).toBe(0);
    await retention.stop();
    expect(retention.stats()).toMatchObject({ pruned: 0, runs: 0 });
  });
});
