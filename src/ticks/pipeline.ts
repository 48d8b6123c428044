/**
 * The fan-out of decoded tick batches to handlers — the seed's "dual handlers" (live path and persistence
 * path), and the extension point users add their own handlers to.
 *
 * CONTRACT: exported types are stable; implementation lives in createPipeline().
 */
import type { TickBatch } from './tick.js';

export interface TickHandler {
  readonly name: string;
  /**
   * Called once per batch, in order. May return a promise: the next batch for this handler waits for it,
   * queued within the handler's bound (other handlers and the feed never wait). A throw or rejection is
   * counted and logged, never propagated.
   */
  handle(batch: TickBatch): void | Promise<void>;
}

export interface HandlerStats {
  readonly name: string;
  readonly batchesHandled: number;
  readonly errors: number;
  /** Batches waiting for this handler. */
  readonly queued: number;
  /** Ticks dropped because this handler's queue was full (oldest first). */
  readonly droppedTicks: number;
}

export interface Pipeline {
  /** Adds a handler; returns a function that removes it. */
  use(handler: TickHandler, options?: { queueLimit?: number }): () => void;
  publish(batch: TickBatch): void;
  stats(): readonly HandlerStats[];
  /** Waits for queued batches to be handled (bounded by timeoutMs), then stops accepting. Idempotent. */
  stop(timeoutMs?: number): Promise<void>;
}
