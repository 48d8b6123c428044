import { afterEach, describe, expect, it, vi } from 'vitest';
import { silentLogger } from '../../src/logger.js';
import { TickChange, type TickUpdate } from '../../src/ticks/tick.js';
import { createTickBus, type TickBus, TickBusError } from '../../src/ticks/tick-bus.js';
import { makeBatch, makeUpdate, reader } from '../support/bus-fixtures.js';

const buses: TickBus[] = [];
function newBus(options: { defaultBufferLimit?: number; maxThrottleMs?: number } = {}): TickBus {
  const bus = createTickBus({ logger: silentLogger(), ...options });
  buses.push(bus);
  return bus;
}

afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(buses.splice(0).map((bus) => bus.stop()));
});

const pairs = (list: readonly TickUpdate[]) => list.map((u) => [u.tick.instrumentKey, u.tick.ltp]);

describe('tick bus', () => {
  it('delivers one list per published batch with only the subscribed instruments, in batch order', async () => {
    const bus = newBus();
    const sub = reader(bus.subscribe({ instrumentKeys: ['A', 'C'] }));
    bus.publish(makeBatch(makeUpdate('A', 1), makeUpdate('B', 1), makeUpdate('C', 1)));
    bus.publish(makeBatch(makeUpdate('C', 2), makeUpdate('A', 2)));
    const lists = await sub.drain();
    expect(lists.map(pairs)).toEqual([
      [
        ['A', 1],
        ['C', 1],
      ],
      [
        ['C', 2],
        ['A', 2],
      ],
    ]);
  });

  it('cuts each subscriber its own list whether its updates open, sit inside or fill the batch', async () => {
    const bus = newBus();
    const head = reader(bus.subscribe({ instrumentKeys: ['A', 'B'] }));
    const gaps = reader(bus.subscribe({ instrumentKeys: ['A', 'B', 'D'] }));
    const tail = reader(bus.subscribe({ instrumentKeys: ['C', 'D'] }));
    const every = reader(bus.subscribe({ instrumentKeys: ['A', 'B', 'C', 'D'] }));
    const batch = makeBatch(makeUpdate('A', 1), makeUpdate('B', 1), makeUpdate('C', 1), makeUpdate('D', 1));
    bus.publish(batch);
    const keys = async (r: typeof head) => (await r.drain()).map((list) => list.map((u) => u.tick.instrumentKey));
    expect(await keys(head)).toEqual([['A', 'B']]);
    expect(await keys(gaps)).toEqual([['A', 'B', 'D']]);
    expect(await keys(tail)).toEqual([['C', 'D']]);
    const [whole] = await every.drain();
    expect(whole).toBe(batch.updates);
  });

  it('hands nothing to a subscriber when a batch carries none of its instruments', async () => {
    const bus = newBus();
    const sub = reader(bus.subscribe({ instrumentKeys: ['A'] }));
    bus.publish(makeBatch(makeUpdate('B', 1)));
    bus.publish(makeBatch());
    expect(await sub.drain()).toEqual([]);
    expect(bus.stats().batchesPublished).toBe(2);
  });

  it('resolves a waiting next() from publish()', async () => {
    const bus = newBus();
    const sub = bus.subscribe({ instrumentKeys: ['A'] });
    const next = sub.next();
    bus.publish(makeBatch(makeUpdate('A', 7)));
    const result = await next;
    expect(result.done).toBe(false);
    expect(pairs(result.value!)).toEqual([['A', 7]]);
  });

  it('keeps instruments apart: each subscriber sees only its own keys, whatever the others subscribe to', async () => {
    const bus = newBus();
    const a = reader(bus.subscribe({ instrumentKeys: ['A'] }));
    const b = reader(bus.subscribe({ instrumentKeys: ['B'] }));
    const ab = reader(bus.subscribe({ instrumentKeys: ['A', 'B'] }));
    for (let i = 0; i < 5; i++) bus.publish(makeBatch(makeUpdate('A', i), makeUpdate('B', -i)));
    const onlyKeys = async (r: typeof a) => new Set((await r.drain()).flat().map((u) => u.tick.instrumentKey));
    expect(await onlyKeys(a)).toEqual(new Set(['A']));
    expect(await onlyKeys(b)).toEqual(new Set(['B']));
    expect(await onlyKeys(ab)).toEqual(new Set(['A', 'B']));
  });

  it('delivers an update once to a subscriber that listed its instrument twice', async () => {
    const bus = newBus();
    const sub = reader(bus.subscribe({ instrumentKeys: ['A', 'A'] }));
    bus.publish(makeBatch(makeUpdate('A', 1)));
    expect((await sub.drain()).map(pairs)).toEqual([[['A', 1]]]);
  });

  it('gives many overlapping subscribers each exactly their share of every batch', async () => {
    const bus = newBus();
    const keys = Array.from({ length: 50 }, (_, i) => `K${i}`);
    // Subscriber s watches every key whose index is a multiple of (s % 7) + 1.
    const subs = Array.from({ length: 300 }, (_, s) => {
      const step = (s % 7) + 1;
      const mine = keys.filter((_, i) => i % step === 0);
      return { mine, read: reader(bus.subscribe({ instrumentKeys: mine })) };
    });
    expect(bus.stats().subscribers).toBe(300);
    for (let round = 0; round < 3; round++) bus.publish(makeBatch(...keys.map((key) => makeUpdate(key, round))));
    for (const { mine, read } of subs) {
      const lists = await read.drain();
      expect(lists).toHaveLength(3);
      lists.forEach((list, round) => {
        expect(list.map((u) => u.tick.instrumentKey)).toEqual(mine);
        expect(list.every((u) => u.tick.ltp === round)).toBe(true);
      });
    }
  });

  describe('slow readers', () => {
    it('conflates to the latest update per instrument past the buffer limit and counts what it merged', async () => {
      const bus = newBus();
      const sub = bus.subscribe({ instrumentKeys: ['A', 'B'], bufferLimit: 2 });
      bus.publish(makeBatch(makeUpdate('A', 1), makeUpdate('B', 1))); // fills the buffer
      bus.publish(makeBatch(makeUpdate('A', 2)));
      bus.publish(makeBatch(makeUpdate('A', 3), makeUpdate('B', 3)));
      bus.publish(makeBatch(makeUpdate('A', 4)));
      expect(sub.conflated).toBe(2);
      expect(bus.stats().conflated).toBe(2);
      const lists = await reader(sub).drain();
      expect(lists.map(pairs)).toEqual([
        [
          ['A', 1],
          ['B', 1],
        ],
        [
          ['A', 4],
          ['B', 3],
        ],
      ]);
    });

    it('merges the change masks of conflated updates', async () => {
      const bus = newBus();
      const sub = bus.subscribe({ instrumentKeys: ['A'], bufferLimit: 1 });
      bus.publish(makeBatch(makeUpdate('A', 1)));
      bus.publish(makeBatch(makeUpdate('A', 2, TickChange.DEPTH)));
      bus.publish(makeBatch(makeUpdate('A', 3, TickChange.LTPC)));
      bus.publish(makeBatch(makeUpdate('A', 4, TickChange.STATS)));
      const [, last] = await reader(sub).drain();
      expect(last).toHaveLength(1);
      expect(last![0]!.tick.ltp).toBe(4);
      expect(last![0]!.changed).toBe(TickChange.DEPTH | TickChange.LTPC | TickChange.STATS);
    });

    it('holds at most bufferLimit + its keys for a reader stalled over 100k batches, and ends on the latest state', async () => {
      const bus = newBus();
      const keys = Array.from({ length: 10 }, (_, i) => `K${i}`);
      const stalled = bus.subscribe({ instrumentKeys: keys, bufferLimit: 50 });
      const batches = 100_000;
      for (let i = 0; i < batches; i++) bus.publish(makeBatch(makeUpdate(keys[i % 10]!, i)));
      const lists = await reader(stalled).drain();
      const delivered = lists.flat();
      expect(delivered.length).toBeLessThanOrEqual(50 + keys.length);
      expect(delivered.length + stalled.conflated).toBe(batches);
      const latest = new Map(delivered.map((u) => [u.tick.instrumentKey, u.tick.ltp]));
      for (const [k, key] of keys.entries()) expect(latest.get(key)).toBe(batches - 10 + k);
    });

    it('never lets a reader that never reads hold up publish() or the other subscribers', async () => {
      const bus = newBus();
      bus.subscribe({ instrumentKeys: ['A'], bufferLimit: 1 }); // never read
      const fast = bus.subscribe({ instrumentKeys: ['A'] });
      for (let i = 0; i < 1_000; i++) {
        const next = fast.next();
        bus.publish(makeBatch(makeUpdate('A', i)));
        expect(pairs((await next).value!)).toEqual([['A', i]]);
      }
      expect(fast.conflated).toBe(0);
      expect(bus.stats().conflated).toBe(998);
    });
  });

  describe('freeing', () => {
    it('return() on an idle subscription resolves the waiting next() with done and unindexes it at once', async () => {
      const bus = newBus();
      const sub = bus.subscribe({ instrumentKeys: ['A', 'B'] });
      const waiting = sub.next();
      expect(bus.stats().subscribers).toBe(1);
      await expect(sub.return()).resolves.toEqual({ done: true, value: undefined });
      await expect(waiting).resolves.toEqual({ done: true, value: undefined });
      expect(bus.stats().subscribers).toBe(0);
      bus.publish(makeBatch(makeUpdate('A', 1)));
      await expect(sub.next()).resolves.toEqual({ done: true, value: undefined });
    });

    it('drops what was buffered when returned, and a second return() is harmless', async () => {
      const bus = newBus();
      const sub = bus.subscribe({ instrumentKeys: ['A'] });
      bus.publish(makeBatch(makeUpdate('A', 1)));
      await sub.return();
      await sub.return();
      await expect(sub.next()).resolves.toMatchObject({ done: true });
    });

    it('frees the subscription when a for-await loop breaks', async () => {
      const bus = newBus();
      const sub = bus.subscribe({ instrumentKeys: ['A'] });
      bus.publish(makeBatch(makeUpdate('A', 1)));
      for await (const list of sub) {
        expect(pairs(list)).toEqual([['A', 1]]);
        break;
      }
      expect(bus.stats().subscribers).toBe(0);
    });

    it('throw() frees the subscription and rejects with the given error', async () => {
      const bus = newBus();
      const sub = bus.subscribe({ instrumentKeys: ['A'] });
      const boom = new Error('client went away');
      await expect(sub.throw!(boom)).rejects.toBe(boom);
      expect(bus.stats().subscribers).toBe(0);
    });

    it('keeps counting the conflation of subscriptions that have ended', async () => {
      const bus = newBus();
      const sub = bus.subscribe({ instrumentKeys: ['A'], bufferLimit: 1 });
      for (let i = 0; i < 5; i++) bus.publish(makeBatch(makeUpdate('A', i)));
      await sub.return();
      expect(bus.stats()).toEqual({ subscribers: 0, batchesPublished: 5, conflated: 3 });
    });

    it('stop() ends every subscription, ignores later publishes and hands out finished subscriptions', async () => {
      const bus = newBus();
      const a = bus.subscribe({ instrumentKeys: ['A'] });
      const b = bus.subscribe({ instrumentKeys: ['B'] });
      const waitingA = a.next();
      await Promise.all([bus.stop(), bus.stop()]);
      await expect(waitingA).resolves.toMatchObject({ done: true });
      await expect(b.next()).resolves.toMatchObject({ done: true });
      bus.publish(makeBatch(makeUpdate('A', 1)));
      expect(bus.stats()).toEqual({ subscribers: 0, batchesPublished: 0, conflated: 0 });
      const late = bus.subscribe({ instrumentKeys: ['A'] });
      await expect(late.next()).resolves.toMatchObject({ done: true });
    });
  });

  describe('throttle', () => {
    it('sends the first update at once, then the latest per instrument at the end of each window', async () => {
      vi.useFakeTimers();
      const bus = newBus();
      const sub = reader(bus.subscribe({ instrumentKeys: ['A', 'B'], throttleMs: 100 }));
      bus.publish(makeBatch(makeUpdate('A', 1)));
      expect((await sub.drain()).map(pairs)).toEqual([[['A', 1]]]);

      bus.publish(makeBatch(makeUpdate('A', 2)));
      bus.publish(makeBatch(makeUpdate('B', 2)));
      bus.publish(makeBatch(makeUpdate('A', 3), makeUpdate('B', 3)));
      expect(await sub.drain()).toEqual([]);
      vi.advanceTimersByTime(99);
      expect(await sub.drain()).toEqual([]);
      vi.advanceTimersByTime(1);
      expect((await sub.drain()).map(pairs)).toEqual([
        [
          ['A', 3],
          ['B', 3],
        ],
      ]);
    });

    it('delivers the trailing value so the final state is never lost, and ORs the masks it merged', async () => {
      vi.useFakeTimers();
      const bus = newBus();
      const sub = reader(bus.subscribe({ instrumentKeys: ['A'], throttleMs: 1_000 }));
      bus.publish(makeBatch(makeUpdate('A', 0)));
      for (let i = 1; i <= 500; i++) {
        bus.publish(makeBatch(makeUpdate('A', i, i % 2 === 0 ? TickChange.DEPTH : TickChange.LTPC)));
      }
      await sub.drain();
      vi.advanceTimersByTime(1_000);
      const [trailing] = await sub.drain();
      expect(trailing).toHaveLength(1);
      expect(trailing![0]!.tick.ltp).toBe(500);
      expect(trailing![0]!.changed).toBe(TickChange.DEPTH | TickChange.LTPC);
    });

    it('sends at most one update per instrument per interval under a steady stream', async () => {
      vi.useFakeTimers();
      const bus = newBus();
      const sub = reader(bus.subscribe({ instrumentKeys: ['A'], throttleMs: 50 }));
      const start = Date.now();
      const deliveries: { at: number; ltp: number | null }[] = [];
      const collect = async () => {
        for (const list of await sub.drain())
          for (const u of list) deliveries.push({ at: Date.now() - start, ltp: u.tick.ltp });
      };
      for (let ms = 0; ms < 1_000; ms += 5) {
        bus.publish(makeBatch(makeUpdate('A', ms)));
        await collect();
        vi.advanceTimersByTime(5);
      }
      await collect();
      // t=0 at once, then one trailing update per 50 ms window; the window ending at 1,000 carries the last one.
      expect(deliveries.map((d) => d.at)).toEqual(Array.from({ length: 21 }, (_, i) => i * 50));
      expect(deliveries.at(-1)!.ltp).toBe(995);
    });

    it('goes back to immediate delivery after a quiet window', async () => {
      vi.useFakeTimers();
      const bus = newBus();
      const sub = reader(bus.subscribe({ instrumentKeys: ['A'], throttleMs: 100 }));
      bus.publish(makeBatch(makeUpdate('A', 1)));
      vi.advanceTimersByTime(100); // window ends with nothing held
      expect(vi.getTimerCount()).toBe(0);
      bus.publish(makeBatch(makeUpdate('A', 2)));
      expect((await sub.drain()).map(pairs)).toEqual([[['A', 1]], [['A', 2]]]);
    });

    it('clears its window timer on return()', async () => {
      vi.useFakeTimers();
      const bus = newBus();
      const sub = bus.subscribe({ instrumentKeys: ['A'], throttleMs: 100 });
      bus.publish(makeBatch(makeUpdate('A', 1)));
      bus.publish(makeBatch(makeUpdate('A', 2)));
      expect(vi.getTimerCount()).toBe(1);
      await sub.return();
      expect(vi.getTimerCount()).toBe(0);
    });
  });

  describe('validation', () => {
    it('rejects a throttle outside 0..maxThrottleMs with a TickBusError naming the value', () => {
      const bus = newBus({ maxThrottleMs: 5_000 });
      for (const throttleMs of [-1, 5_001, Number.NaN]) {
        expect(() => bus.subscribe({ instrumentKeys: ['A'], throttleMs })).toThrow(TickBusError);
      }
      expect(() => bus.subscribe({ instrumentKeys: ['A'], throttleMs: 5_001 })).toThrow(
        'throttleMs must be a number of milliseconds from 0 to 5000, got 5001',
      );
      expect(bus.stats().subscribers).toBe(0);
    });

    it('rejects a buffer limit that is not a positive integer', () => {
      const bus = newBus();
      try {
        bus.subscribe({ instrumentKeys: ['A'], bufferLimit: 0 });
        expect.unreachable();
      } catch (error) {
        expect(error).toBeInstanceOf(TickBusError);
        expect((error as TickBusError).code).toBe('INVALID_BUFFER_LIMIT');
      }
      expect(() => createTickBus({ logger: silentLogger(), defaultBufferLimit: -5 })).toThrow(TickBusError);
    });
  });
});
