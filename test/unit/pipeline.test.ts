import { describe, expect, it } from 'vitest';
import { createPipeline, type TickHandler } from '../../src/ticks/pipeline.js';
import type { TickBatch, TickUpdate } from '../../src/ticks/tick.js';

const batch = (n: number, ticks = 1): TickBatch => ({
  exchangeTs: n,
  receivedAt: n,
  updates: Array.from({ length: ticks }, () => ({}) as TickUpdate),
});

/** A promise with its resolve function exposed. */
function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

function busyWait(ms: number) {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    /* simulate CPU-bound work */
  }
}

describe('pipeline', () => {
  it('delivers every batch to every handler in order, after publish returns', async () => {
    const pipeline = createPipeline();
    const seenA: number[] = [];
    const seenB: number[] = [];
    const done = deferred();
    pipeline.use({ name: 'a', handle: (b) => void seenA.push(b.exchangeTs) });
    pipeline.use({
      name: 'b',
      handle: (b) => {
        seenB.push(b.exchangeTs);
        if (seenB.length === 3) done.resolve();
      },
    });
    for (let i = 1; i <= 3; i++) pipeline.publish(batch(i));
    expect(seenA).toEqual([]); // publish only enqueues
    await done.promise;
    await pipeline.stop();
    expect(seenA).toEqual([1, 2, 3]);
    expect(seenB).toEqual([1, 2, 3]);
    expect(pipeline.stats()).toEqual([
      { name: 'a', batchesHandled: 3, errors: 0, queued: 0, droppedTicks: 0 },
      { name: 'b', batchesHandled: 3, errors: 0, queued: 0, droppedTicks: 0 },
    ]);
  });

  it('counts a failing handler (throw or rejection) and keeps feeding it and the others', async () => {
    const pipeline = createPipeline();
    let good = 0;
    let calls = 0;
    pipeline.use({
      name: 'sync-throw',
      handle: () => {
        throw new Error('boom');
      },
    });
    pipeline.use({
      name: 'async-reject',
      handle: async () => {
        calls++;
        throw new Error('later boom');
      },
    });
    pipeline.use({ name: 'good', handle: () => void good++ });
    for (let i = 0; i < 4; i++) pipeline.publish(batch(i));
    await pipeline.stop();
    expect(good).toBe(4);
    expect(calls).toBe(4);
    const stats = Object.fromEntries(pipeline.stats().map((s) => [s.name, s]));
    expect(stats['sync-throw']).toMatchObject({ errors: 4, batchesHandled: 0 });
    expect(stats['async-reject']).toMatchObject({ errors: 4, batchesHandled: 0 });
    expect(stats['good']).toMatchObject({ errors: 0, batchesHandled: 4 });
  });

  it('does not let a slow async handler delay the others', async () => {
    const pipeline = createPipeline();
    const release = deferred();
    const fastDone = deferred();
    let slowStarted = 0;
    let fast = 0;
    pipeline.use({
      name: 'slow',
      handle: async () => {
        slowStarted++;
        await release.promise;
      },
    });
    pipeline.use({
      name: 'fast',
      handle: () => {
        if (++fast === 5) fastDone.resolve();
      },
    });
    for (let i = 0; i < 5; i++) pipeline.publish(batch(i));
    await fastDone.promise;
    expect(slowStarted).toBe(1); // awaited one batch at a time
    expect(pipeline.stats()[0]?.queued).toBe(4);
    release.resolve();
    await pipeline.stop();
    expect(pipeline.stats()[0]).toMatchObject({ batchesHandled: 5, queued: 0 });
  });

  it('does not let a slow synchronous handler hold back the others by more than one of its batches', async () => {
    const pipeline = createPipeline({ turnBudgetMs: 1 });
    const fastDone = deferred<number>();
    let slow = 0;
    pipeline.use({
      name: 'slow',
      handle: () => {
        busyWait(5);
        slow++;
      },
    });
    let fast = 0;
    pipeline.use({
      name: 'fast',
      handle: () => {
        if (++fast === 10) fastDone.resolve(slow);
      },
    });
    for (let i = 0; i < 10; i++) pipeline.publish(batch(i));
    expect(await fastDone.promise).toBeLessThanOrEqual(1);
    await pipeline.stop();
    expect(slow).toBe(10);
  });

  it('drops the oldest batches of a backed-up handler and counts their ticks', async () => {
    const pipeline = createPipeline({ defaultQueueLimit: 3 });
    const release = deferred();
    const seen: number[] = [];
    pipeline.use({
      name: 'stuck',
      handle: async (b) => {
        seen.push(b.exchangeTs);
        await release.promise;
      },
    });
    const roomy: number[] = [];
    pipeline.use({ name: 'roomy', handle: (b) => void roomy.push(b.exchangeTs) }, { queueLimit: 100 });
    pipeline.publish(batch(0, 2));
    await new Promise<void>((resolve) => setImmediate(resolve)); // batch 0 is now in flight
    for (let i = 1; i <= 6; i++) pipeline.publish(batch(i, 2));
    release.resolve();
    await pipeline.stop();
    expect(seen).toEqual([0, 4, 5, 6]);
    expect(pipeline.stats()[0]).toMatchObject({ name: 'stuck', droppedTicks: 6, queued: 0 });
    expect(roomy).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(pipeline.stats()[1]?.droppedTicks).toBe(0);
  });

  it('calls an inline handler synchronously inside publish, with no queue to back up, and counts its throws', async () => {
    const pipeline = createPipeline();
    const seen: number[] = [];
    let throwNext = true;
    pipeline.use({ name: 'live', handle: (b) => void seen.push(b.exchangeTs) }, { inline: true });
    pipeline.use(
      {
        name: 'flaky',
        handle: () => {
          if (throwNext) {
            throwNext = false;
            throw new Error('boom');
          }
        },
      },
      { inline: true },
    );
    const queuedHandled: number[] = [];
    pipeline.use({ name: 'queued', handle: (b) => void queuedHandled.push(b.exchangeTs) }, { queueLimit: 10_000 });
    for (let i = 0; i < 5_000; i++) pipeline.publish(batch(i));
    // Delivered before publish returned, even though the queued handler has not run yet; nothing dropped.
    expect(seen).toHaveLength(5_000);
    expect(queuedHandled).toHaveLength(0);
    const stats = Object.fromEntries(pipeline.stats().map((s) => [s.name, s]));
    expect(stats['live']).toMatchObject({ batchesHandled: 5_000, queued: 0, droppedTicks: 0, errors: 0 });
    expect(stats['flaky']).toMatchObject({ batchesHandled: 4_999, errors: 1, queued: 0 });
    await pipeline.stop();
  });

  it('drains queued batches on stop, and counts batches published after stop as dropped', async () => {
    const pipeline = createPipeline();
    const seen: number[] = [];
    pipeline.use({ name: 'h', handle: async (b) => void seen.push(b.exchangeTs) });
    for (let i = 0; i < 20; i++) pipeline.publish(batch(i));
    const stopping = pipeline.stop();
    expect(pipeline.stop()).toBe(stopping); // idempotent
    await stopping;
    expect(seen).toHaveLength(20);
    pipeline.publish(batch(99, 3));
    expect(pipeline.stats()[0]).toMatchObject({ batchesHandled: 20, droppedTicks: 3 });
  });

  it('gives up waiting at the stop timeout and counts what was still queued', async () => {
    const pipeline = createPipeline();
    const never = new Promise<void>(() => {});
    pipeline.use({ name: 'hung', handle: () => never } satisfies TickHandler);
    for (let i = 0; i < 3; i++) pipeline.publish(batch(i, 5));
    await pipeline.stop(20);
    expect(pipeline.stats()[0]).toMatchObject({ queued: 0, droppedTicks: 10, batchesHandled: 0 });
  });

  it('stops delivering to a removed handler', async () => {
    const pipeline = createPipeline();
    let a = 0;
    let b = 0;
    const removeA = pipeline.use({ name: 'a', handle: () => void a++ });
    pipeline.use({ name: 'b', handle: () => void b++ });
    removeA();
    pipeline.publish(batch(1));
    await pipeline.stop();
    expect(a).toBe(0);
    expect(b).toBe(1);
    expect(pipeline.stats().map((s) => s.name)).toEqual(['b']);
  });
});
