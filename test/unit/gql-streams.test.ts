import { afterEach, describe, expect, it, vi } from 'vitest';
import { latestValueStream, tickStream } from '../../src/graphql/streams.js';
import type { TickUpdate } from '../../src/ticks/tick.js';
import type { TickSubscription } from '../../src/ticks/tick-bus.js';
import { makeUpdate } from '../support/bus-fixtures.js';

function emitter<T>() {
  const listeners = new Set<(value: T) => void>();
  return {
    listen: (push: (value: T) => void) => {
      listeners.add(push);
      return () => listeners.delete(push);
    },
    emit: (value: T) => {
      for (const l of listeners) l(value);
    },
    get size() {
      return listeners.size;
    },
  };
}

describe('latestValueStream', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('delivers the initial value, then only the latest of values that arrived while nobody read', async () => {
    const source = emitter<number>();
    const stream = latestValueStream({ listen: source.listen, initial: 0 });
    expect(await stream.next()).toEqual({ done: false, value: 0 });
    source.emit(1);
    source.emit(2);
    expect(await stream.next()).toEqual({ done: false, value: 2 });
    const pending = stream.next();
    source.emit(3);
    expect(await pending).toEqual({ done: false, value: 3 });
  });

  it('stops listening and ends a pending next() as soon as return() is called', async () => {
    const source = emitter<number>();
    const stream = latestValueStream({ listen: source.listen });
    const pending = stream.next();
    expect(source.size).toBe(1);
    await stream.return();
    expect(source.size).toBe(0);
    expect(await pending).toEqual({ done: true, value: undefined });
    expect(await stream.next()).toEqual({ done: true, value: undefined });
  });

  it('delivers at most one value per throttle interval, the latest', async () => {
    vi.useFakeTimers({ now: 0 });
    const source = emitter<string>();
    const stream = latestValueStream({ listen: source.listen, initial: 'a', throttleMs: 1_000, now: () => Date.now() });
    expect((await stream.next()).value).toBe('a');
    const pending = stream.next();
    source.emit('b');
    source.emit('c');
    let settled = false;
    void pending.then(() => {
      settled = true;
    });
    await vi.advanceTimersByTimeAsync(999);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await pending).toEqual({ done: false, value: 'c' });
    await stream.return();
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('tickStream', () => {
  function fakeSubscription(batches: (readonly TickUpdate[])[]) {
    let returned = 0;
    const sub = {
      conflated: 0,
      async next() {
        const value = batches.shift();
        return value ? { done: false as const, value } : { done: true as const, value: undefined };
      },
      async return() {
        returned++;
        return { done: true as const, value: undefined };
      },
      [Symbol.asyncIterator]() {
        return sub;
      },
    };
    return { sub: sub as unknown as TickSubscription, returned: () => returned };
  }

  it('yields the snapshot first, then the bus batches', async () => {
    const live = [makeUpdate('NSE_EQ|A', 2)];
    const { sub } = fakeSubscription([live]);
    const stream = tickStream([makeUpdate('NSE_EQ|A', 1, 1, true)], sub);
    expect((await stream.next()).value?.updates[0]?.tick.ltp).toBe(1);
    expect((await stream.next()).value).toEqual({ updates: live, conflated: 0 });
    expect((await stream.next()).done).toBe(true);
  });

  it('skips an empty snapshot and frees the bus subscription on return()', async () => {
    const { sub, returned } = fakeSubscription([[makeUpdate('NSE_EQ|A', 2)]]);
    const stream = tickStream([], sub);
    expect((await stream.next()).value?.updates[0]?.tick.ltp).toBe(2);
    await stream.return();
    expect(returned()).toBe(1);
    expect((await stream.next()).done).toBe(true);
  });
});
