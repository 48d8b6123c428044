/**
 * Our client for the Upstox Market Data Feed V3: authorize → single-use URL → WebSocket; binary JSON
 * requests; protobuf frames decoded once; desired-state subscriptions replayed on every connection;
 * jittered exponential backoff; liveness watchdog; status.
 *
 * CONTRACT (shared with graphql/, app.ts, bench/): the exported types below are stable; implementation
 * lives in createFeedClient().
 */
import type { FeedMode, MarketStatus } from './protocol.js';

export type FeedState = 'CONNECTING' | 'CONNECTED' | 'RECONNECTING' | 'UNAUTHORIZED' | 'STOPPED';
export type FeedSource = 'UPSTOX' | 'SIMULATOR' | 'REPLAY';

/** One segment's market status from `market_info`, with the 2026 CAS / pre-open maps folded in. */
export interface SegmentStatus {
  readonly segment: string;
  /** From `segmentStatus`; null when the segment appears only in the CAS / pre-open maps. */
  readonly status: MarketStatus | null;
  readonly casStatus: string | null;
  readonly casUpdatedAt: number | null;
  readonly preOpenStatus: string | null;
  readonly preOpenUpdatedAt: number | null;
}

export interface FeedStatus {
  readonly state: FeedState;
  readonly source: FeedSource;
  /** Epoch ms when the current connection opened; null when not connected. */
  readonly connectedSince: number | null;
  /** Connections opened after the first one. */
  readonly reconnects: number;
  /** Epoch ms of the last frame (or ping) received. */
  readonly lastFrameAt: number | null;
  /** Last connection/authorization error, secrets redacted. */
  readonly lastError: string | null;
  readonly framesDecoded: number;
  readonly ticksDecoded: number;
  readonly decodeErrors: number;
  /** Rates over the last few seconds. */
  readonly framesPerSecond: number;
  readonly ticksPerSecond: number;
  /** Desired keys per mode. */
  readonly keysByMode: Readonly<Record<FeedMode, number>>;
  /** Keys per mode sent on the current connection. */
  readonly activeKeysByMode: Readonly<Record<FeedMode, number>>;
  readonly segments: readonly SegmentStatus[];
}

export interface FeedClientEvents {
  /** State or counters changed in a way a status watcher cares about (state, segments, errors). */
  status: (status: FeedStatus) => void;
  /** A `market_info` frame changed segment statuses. */
  marketInfo: (segments: readonly SegmentStatus[]) => void;
}

export interface FeedClient {
  /** Connects (and keeps reconnecting) until stop(). Never throws for network errors: see status(). */
  start(): void;
  /** Closes the socket, cancels timers. Idempotent. */
  stop(): Promise<void>;
  status(): FeedStatus;
  on<E extends keyof FeedClientEvents>(event: E, listener: FeedClientEvents[E]): () => void;

  /** The desired set: instrument key → mode. The truth the connection converges to. */
  desired(): ReadonlyMap<string, FeedMode>;
  /** What has been sent on the current connection (empty while disconnected). */
  active(): ReadonlyMap<string, FeedMode>;
  /**
   * Replaces the desired set. Caps are checked first: over a cap it throws CapExceededError
   * (from subscriptions.ts) and nothing changes. When connected, the difference is sent as batched requests.
   */
  setDesired(next: ReadonlyMap<string, FeedMode>): void;
  /** Replaces the access token at runtime; leaves UNAUTHORIZED and reconnects when it was stuck there. */
  setAccessToken(token: string): void;
}
