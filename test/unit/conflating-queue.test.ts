import { describe, expect, it } from 'vitest';
import { createConflatingQueue, mergeUpdates } from '../../src/ticks/conflating-queue.js';
import { TickChange } from '../../src/ticks/tick.js';
import { makeUpdate } from '../support/bus-fixtures.js';

const keysOf = (list: readonly { tick: { instrumentKey: string } }[] | undefined) =>
  list?.map((u) => u.tick.instrumentKey);

describe('conflating queue', () => {
  it('hands lists out unchanged and in order while under the limit', () => {
    const queue = createConflatingQueue({ limit: 10 });
    const first = [makeUpdate('A', 1), makeUpdate('B', 1)];
    const second = [makeUpdate('A', 2)];
    queue.push(first);
    queue.push(second);
    expect(queue.size).toBe(3);
    expect(queue.shift()).toBe(first);
    expect(queue.shift()).toBe(second);
    expect(queue.shift()).toBeUndefined();
    expect(queue.conflated).toBe(0);
  });

  it('ignores empty lists', () => {
    const queue = createConflatingQueue({ limit: 1 });
    queue.push([]);
    expect(queue.size).toBe(0);
    expect(queue.shift()).toBeUndefined();
  });

  it('keeps only the latest update per instrument past the limit and counts the ones merged away', () => {
    const queue = createConflatingQueue({ limit: 2 });
    queue.push([makeUpdate('A', 1), makeUpdate('B', 1)]);
    queue.push([makeUpdate('A', 2)]);
    queue.push([makeUpdate('A', 3), makeUpdate('C', 1)]);
    queue.push([makeUpdate('A', 4)]);
    expect(queue.conflated).toBe(2);
    expect(queue.size).toBe(4);
    expect(keysOf(queue.shift())).toEqual(['A', 'B']);
    const overflow = queue.shift()!;
    expect(overflow.map((u) => [u.tick.instrumentKey, u.tick.ltp])).toEqual([
      ['A', 4],
      ['C', 1],
    ]);
    expect(queue.shift()).toBeUndefined();
  });

  it('ORs the change masks of merged updates so the reader learns every part that changed', () => {
    const queue = createConflatingQueue({ limit: 1 });
    queue.push([makeUpdate('X', 0)]);
    queue.push([makeUpdate('A', 1, TickChange.DEPTH)]);
    queue.push([makeUpdate('A', 2, TickChange.LTPC)]);
    queue.push([makeUpdate('A', 3, TickChange.GREEKS)]);
    queue.shift();
    const [merged] = queue.shift()!;
    expect(merged!.tick.ltp).toBe(3);
    expect(merged!.changed).toBe(TickChange.DEPTH | TickChange.LTPC | TickChange.GREEKS);
  });

  it('sends newer updates to the overflow until it has been read, so a stale update is never read last', () => {
    const queue = createConflatingQueue({ limit: 2 });
    queue.push([makeUpdate('A', 1), makeUpdate('B', 1)]);
    queue.push([makeUpdate('A', 2)]); // overflows
    expect(keysOf(queue.shift())).toEqual(['A', 'B']);
    // The FIFO is empty now, but A:2 waits in the overflow: A:3 must merge with it, not jump ahead of it.
    queue.push([makeUpdate('A', 3)]);
    expect(queue.shift()!.map((u) => u.tick.ltp)).toEqual([3]);
    // Drained: back to a plain FIFO.
    const next = [makeUpdate('A', 4)];
    queue.push(next);
    expect(queue.shift()).toBe(next);
  });

  it('stays within limit + distinct keys over 100k pushes to a reader that never reads', () => {
    const queue = createConflatingQueue({ limit: 100 });
    const keys = Array.from({ length: 20 }, (_, i) => `K${i}`);
    let maxSize = 0;
    for (let i = 0; i < 100_000; i++) {
      queue.push([makeUpdate(keys[i % keys.length]!, i)]);
      if (queue.size > maxSize) maxSize = queue.size;
    }
    expect(maxSize).toBeLessThanOrEqual(100 + keys.length);
    expect(queue.conflated).toBe(100_000 - queue.size);
  });

  it('compacts its FIFO while a reader keeps up with a long stream', () => {
    const queue = createConflatingQueue({ limit: 5_000 });
    let read = 0;
    for (let i = 0; i < 20_000; i++) {
      queue.push([makeUpdate('A', i)]);
      if (i % 2 === 1) {
        queue.shift();
        read++;
      }
    }
    while (queue.shift() !== undefined) read++;
    expect(read + queue.conflated).toBe(20_000);
    expect(queue.size).toBe(0);
  });

  it('forgets everything on clear()', () => {
    const queue = createConflatingQueue({ limit: 1 });
    queue.push([makeUpdate('A', 1)]);
    queue.push([makeUpdate('B', 1)]);
    queue.clear();
    expect(queue.size).toBe(0);
    expect(queue.shift()).toBeUndefined();
  });

  it('rejects a limit that is not a positive integer', () => {
    expect(() => createConflatingQueue({ limit: 0 })).toThrow(/limit must be an integer ≥ 1, got 0/);
    expect(() => createConflatingQueue({ limit: 1.5 })).toThrow(RangeError);
  });

  it('returns the newer update itself when its mask already covers the older one', () => {
    const older = makeUpdate('A', 1, TickChange.LTPC);
    const newer = makeUpdate('A', 2, TickChange.LTPC | TickChange.DEPTH);
    expect(mergeUpdates(older, newer)).toBe(newer);
    const merged = mergeUpdates(makeUpdate('A', 1, TickChange.DEPTH, false), makeUpdate('A', 2, TickChange.LTPC, true));
    expect(merged).toMatchObject({ changed: TickChange.DEPTH | TickChange.LTPC, snapshot: true });
  });
});
