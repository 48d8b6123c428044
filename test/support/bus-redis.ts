/**
 * Helpers for the Redis relay tests: recording stand-ins for the bus and the latest cache, and a log of events
 * that tests await by predicate (resolved on each record, never by polling).
 */
import type { LatestTickSink } from '../../src/cluster/redis-relay.js';
import type { Tick, TickBatch } from '../../src/ticks/tick.js';

export interface EventLog<T> {
  readonly items: readonly T[];
  push(item: T): void;
  /** Resolves once `predicate(items)` holds (checked now and after every push); rejects after timeoutMs. */
  waitFor(predicate: (items: readonly T[]) => boolean, timeoutMs?: number, what?: string): Promise<void>;
}

export function createEventLog<T>(): EventLog<T> {
  const items: T[] = [];
  const waiters = new Set<() => void>();
  return {
    items,
    push(item) {
      items.push(item);
      for (const check of [...waiters]) check();
    },
    waitFor(predicate, timeoutMs = 10_000, what = 'condition') {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (!predicate(items)) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
  };
}

export function createRecordingBus(): { publish(batch: TickBatch): void; batches: EventLog<TickBatch> } {
  const batches = createEventLog<TickBatch>();
  return { publish: (batch) => batches.push(batch), batches };
}

export function createRecordingCache(): LatestTickSink & { ticks: EventLog<Tick> } {
  const ticks = createEventLog<Tick>();
  return { set: (tick) => ticks.push(tick), ticks };
}
