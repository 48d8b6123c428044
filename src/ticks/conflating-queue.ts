/**
 * A per-subscriber buffer of update lists that stays bounded when its reader is slower than the feed.
 *
 * Up to `limit` buffered updates it is a plain FIFO of lists (a short burst reaches the reader unchanged).
 * Past the limit, newer updates go to an overflow map keyed by instrument: a newer update for a key already
 * there replaces it (latest wins) with the `changed` masks OR-ed, so the reader still learns every part that
 * changed. The overflow is always newer than the FIFO and is handed out, as one list, after it; so memory is
 * at most `limit` + (number of distinct keys) updates, whatever the publish rate.
 */
import type { TickUpdate } from './tick.js';

export interface ConflatingQueueOptions {
  /**
   * Updates kept as-is before conflation starts. Must be an integer ≥ 1.
   * @default 1_000
   */
  readonly limit?: number;
}

export interface ConflatingQueue {
  /** Appends one list (never empty). Never throws, never blocks. */
  push(updates: readonly TickUpdate[]): void;
  /** The oldest list, or undefined when empty. The overflow map comes out as one list, after the FIFO. */
  shift(): readonly TickUpdate[] | undefined;
  /** Updates currently held. */
  readonly size: number;
  /** Updates merged away (replaced by a newer update for the same instrument) since creation. */
  readonly conflated: number;
  clear(): void;
}

/**
 * The merge of two updates of one instrument, `newer` after `older`: newer state, both change masks.
 * `snapshot` follows the newer update, whose state the merged update carries.
 */
export function mergeUpdates(older: TickUpdate, newer: TickUpdate): TickUpdate {
  if ((older.changed | newer.changed) === newer.changed) return newer;
  return { tick: newer.tick, changed: older.changed | newer.changed, snapshot: newer.snapshot };
}

/** Compacts the FIFO's backing array once this many consumed slots sit at its front. */
const COMPACT_AFTER = 1_024;

export function createConflatingQueue({ limit = 1_000 }: ConflatingQueueOptions = {}): ConflatingQueue {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be an integer ≥ 1, got ${limit}`);

  // FIFO of lists with a moving head: Array#shift is O(n) on large arrays.
  let lists: (readonly TickUpdate[])[] = [];
  let head = 0;
  let fifoSize = 0;
  // Insertion-ordered; non-empty only after the FIFO reached `limit`.
  const overflow = new Map<string, TickUpdate>();
  let conflated = 0;

  function toOverflow(updates: readonly TickUpdate[]): void {
    for (const update of updates) {
      const key = update.tick.instrumentKey;
      const previous = overflow.get(key);
      if (previous === undefined) {
        overflow.set(key, update);
      } else {
        overflow.set(key, mergeUpdates(previous, update));
        conflated++;
      }
    }
  }

  return {
    push(updates) {
      if (updates.length === 0) return;
      // Once anything overflowed, everything newer must go there too, or a stale update would be read last.
      if (overflow.size === 0 && fifoSize + updates.length <= limit) {
        lists.push(updates);
        fifoSize += updates.length;
        return;
      }
      toOverflow(updates);
    },
    shift() {
      if (head < lists.length) {
        const next = lists[head]!;
        lists[head] = EMPTY;
        head++;
        fifoSize -= next.length;
        if (head === lists.length) {
          lists = [];
          head = 0;
        } else if (head >= COMPACT_AFTER && head * 2 >= lists.length) {
          lists = lists.slice(head);
          head = 0;
        }
        return next;
      }
      if (overflow.size === 0) return undefined;
      const merged = Array.from(overflow.values());
      overflow.clear();
      return merged;
    },
    get size() {
      return fifoSize + overflow.size;
    },
    get conflated() {
      return conflated;
    },
    clear() {
      lists = [];
      head = 0;
      fifoSize = 0;
      overflow.clear();
    },
  };
}

const EMPTY: readonly TickUpdate[] = Object.freeze([]);
