/**
 * Latest merged state per instrument. The decoder reads the previous Tick from here to merge a partial live
 * update and writes the new one back; GraphQL reads it for "latest" queries without touching the store.
 * Ticks are immutable, so handing them out needs no copies.
 */
import type { Tick } from './tick.js';

export interface LatestCache {
  get(instrumentKey: string): Tick | undefined;
  /** Ticks for `keys` in the same order; `undefined` where none is known. */
  getMany(instrumentKeys: readonly string[]): (Tick | undefined)[];
  set(tick: Tick): void;
  /** Forgets an instrument (e.g. after it leaves the desired set). True when it was known. */
  delete(instrumentKey: string): boolean;
  keys(): IterableIterator<string>;
  readonly size: number;
  clear(): void;
}

export function createLatestCache(): LatestCache {
  const ticks = new Map<string, Tick>();
  return {
    get: (key) => ticks.get(key),
    getMany: (keys) => keys.map((key) => ticks.get(key)),
    set: (tick) => {
      ticks.set(tick.instrumentKey, tick);
    },
    delete: (key) => ticks.delete(key),
    keys: () => ticks.keys(),
    get size() {
      return ticks.size;
    },
    clear: () => ticks.clear(),
  };
}
