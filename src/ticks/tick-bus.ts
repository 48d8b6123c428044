/**
 * The live path's pub/sub: batches in, per-subscriber filtered batches out, with a bounded, conflating
 * buffer per subscriber so a slow reader converges to the latest state instead of growing memory or
 * blocking others.
 *
 * CONTRACT (shared with graphql/, app.ts, bench/): the exported types are stable.
 */
import type { TickBatch, TickUpdate } from './tick.js';

export interface TickSubscriptionOptions {
  /** Instrument keys to receive. */
  readonly instrumentKeys: readonly string[];
  /**
   * At most one update per instrument per interval, always the latest. 0 = every update.
   * @default 0
   */
  readonly throttleMs?: number;
  /**
   * Buffered updates before conflation starts. Past it, a newer update for an instrument replaces the
   * buffered one (counted as conflated), so the buffer never holds more than one update per key beyond this.
   * @default 1_000
   */
  readonly bufferLimit?: number;
}

/** An async iterator of update lists (one per upstream frame or throttle window). return() frees it at once. */
export interface TickSubscription extends AsyncIterableIterator<readonly TickUpdate[]> {
  /** Updates merged away for this subscriber because it read too slowly. */
  readonly conflated: number;
  return(): Promise<IteratorResult<readonly TickUpdate[]>>;
}

export interface TickBusStats {
  readonly subscribers: number;
  readonly batchesPublished: number;
  /** Total updates conflated across all subscribers, since start. */
  readonly conflated: number;
}

export interface TickBus {
  publish(batch: TickBatch): void;
  subscribe(options: TickSubscriptionOptions): TickSubscription;
  stats(): TickBusStats;
  /** Ends every subscription. Idempotent. */
  stop(): Promise<void>;
}
