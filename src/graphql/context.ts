/**
 * What every resolver sees: the application's services, the caller's role and the request limits.
 * Built once per HTTP request and once per graphql-ws operation (by yoga's context factory, so both
 * transports get the same thing). No PrismaClient here: resolvers go through the services.
 */

import type { InstrumentService } from '../instruments/instrument-service.js';
import type { Logger } from '../logger.js';
import type { TickStore } from '../store/tick-store.js';
import type { Pipeline } from '../ticks/pipeline.js';
import type { Tick } from '../ticks/tick.js';
import type { TickBus } from '../ticks/tick-bus.js';
import type { FeedClient } from '../upstox/feed-client.js';

/** The part of the latest-tick cache GraphQL reads. */
export interface LatestTickReader {
  /** The merged latest state of `instrumentKey`, or nothing when no tick has arrived for it yet. */
  get(instrumentKey: string): Tick | null | undefined;
}

/** Counters owned by the composition root (pipeline handlers, recorder) that `feedStatus` exposes. */
export interface DropStats {
  /** Ticks dropped so far, by reason (e.g. `recorder-queue-full`, `store-write-failed`). */
  readonly dropped: Readonly<Record<string, number>>;
}

/**
 * Everything the GraphQL layer needs from the application; app.ts builds it from the real components.
 * Conflated updates are read from `bus.stats()`.
 */
export interface AppServices {
  readonly feed: FeedClient;
  readonly cache: LatestTickReader;
  readonly bus: TickBus;
  readonly store: TickStore;
  readonly instruments: InstrumentService;
  /**
   * The tick pipeline: its handlers' queue-full drops appear in `feedStatus.droppedTicks` as
   * `handler-queue-full:<handler>`. Optional (tests without a pipeline).
   */
  readonly pipeline?: Pipeline;
  /** Other drop counters for `feedStatus.droppedTicks` (e.g. the recorder's). @default none */
  readonly stats?: () => DropStats;
}

/**
 * ADMIN may do everything; READ may query and subscribe; NONE may do nothing (only when API keys are
 * configured and the request carried none, or a wrong one).
 */
export type Role = 'ADMIN' | 'READ' | 'NONE';

export interface AuthState {
  readonly role: Role;
  /** True when the request presented a key that matches no configured key. */
  readonly invalidKey: boolean;
}

/** Per-request limits that resolvers enforce (the document-shape limits live in the armor plugins). */
export interface ResolverLimits {
  /** Instrument keys one query or subscription may name. @default 500 */
  readonly maxKeysPerRead: number;
  /** Instrument keys one mutation may name. @default 5_000 */
  readonly maxKeysPerMutation: number;
  /** Largest `first` of the `ticks` history connection. @default 1_000 */
  readonly maxPageSize: number;
  /** Minimum interval between `feedStatus` subscription events, ms. @default 1_000 */
  readonly feedStatusThrottleMs: number;
  /** Per-subscriber bus buffer before conflation (see TickSubscriptionOptions.bufferLimit). @default 1_000 */
  readonly tickBufferLimit: number;
}

export const DEFAULT_RESOLVER_LIMITS: ResolverLimits = {
  maxKeysPerRead: 500,
  maxKeysPerMutation: 5_000,
  maxPageSize: 1_000,
  feedStatusThrottleMs: 1_000,
  tickBufferLimit: 1_000,
};

export interface GraphQLContext {
  readonly services: AppServices;
  readonly auth: AuthState;
  readonly limits: ResolverLimits;
  readonly logger: Logger;
}
