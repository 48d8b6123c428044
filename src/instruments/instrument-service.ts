/**
 * The desired instrument-subscription set as a service: validated, capped, persisted, applied.
 *
 * Every change runs the same steps, one change at a time (a promise chain, so two concurrent mutations
 * never compute their next set from the same stale state):
 *   validate keys → compute the next desired map → check the Upstox caps → persist → apply (feed.setDesired)
 * A request with any invalid key or a cap breach is refused whole: nothing is persisted or applied.
 * Repeating a request is harmless (idempotent outcomes ALREADY_SUBSCRIBED / NOT_SUBSCRIBED).
 */
import type { Logger } from '../logger.js';
import type { TickStore } from '../store/tick-store.js';
import type { FeedClient } from '../upstox/feed-client.js';
import { type FeedMode, instrumentKeyProblem } from '../upstox/protocol.js';
import { CapExceededError, type CapViolation, checkCaps } from '../upstox/subscriptions.js';

export type SubscriptionOutcome =
  | 'SUBSCRIBED'
  | 'ALREADY_SUBSCRIBED'
  | 'MODE_CHANGED'
  | 'UNSUBSCRIBED'
  | 'NOT_SUBSCRIBED';

export interface SubscriptionResult {
  readonly instrumentKey: string;
  readonly outcome: SubscriptionOutcome;
  /** The key's mode after the request; null when it is not subscribed. */
  readonly mode: FeedMode | null;
}

/** One entry of the desired set, with whether the feed has it on the current connection. */
export interface InstrumentSubscriptionView {
  readonly instrumentKey: string;
  readonly mode: FeedMode;
  /** The mode sent on the current feed connection; null when not (yet) sent or disconnected. */
  readonly activeMode: FeedMode | null;
  readonly createdAt: Date | null;
  readonly updatedAt: Date | null;
}

export type InstrumentErrorCode =
  | 'INVALID_INSTRUMENT_KEY'
  | 'UNKNOWN_SEGMENT'
  | 'CAP_EXCEEDED'
  | 'PLUS_REQUIRED'
  | 'NO_INSTRUMENT_KEYS';

/** A refused request. `details` go to GraphQL error extensions as they are (no secrets in them). */
export class InstrumentRequestError extends Error {
  override name = 'InstrumentRequestError';
  constructor(
    message: string,
    readonly code: InstrumentErrorCode,
    readonly details: Readonly<Record<string, unknown>> = {},
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export interface InstrumentService {
  /** Reads the persisted set from the store and makes it the feed's desired set. Call once at start-up. */
  load(): Promise<void>;
  /** Subscribes keys in `mode`; keys already subscribed in another mode move to `mode`. */
  subscribe(instrumentKeys: readonly string[], mode: FeedMode): Promise<SubscriptionResult[]>;
  unsubscribe(instrumentKeys: readonly string[]): Promise<SubscriptionResult[]>;
  /** Changes the mode of subscribed keys; keys not subscribed are reported NOT_SUBSCRIBED and left alone. */
  changeMode(instrumentKeys: readonly string[], mode: FeedMode): Promise<SubscriptionResult[]>;
  /** The desired set with active state and store timestamps, sorted by key. */
  list(): Promise<InstrumentSubscriptionView[]>;
  /** True when `instrumentKey` is in the desired set. */
  isDesired(instrumentKey: string): boolean;
  /** Calls `listener` after each change this service applied (not after load()); returns an unsubscribe. */
  onChange(listener: () => void): () => void;
}

export interface InstrumentServiceOptions {
  /** The feed client: the desired set is read from and applied to it (setDesired throws on a cap breach). */
  readonly feed: Pick<FeedClient, 'desired' | 'active' | 'setDesired'>;
  /** Where the desired set persists across restarts. */
  readonly store: Pick<TickStore, 'listSubscriptions' | 'upsertSubscriptions' | 'removeSubscriptions'>;
  /** The Upstox account has Plus (full_d30 allowed, capped at 50 keys). @default false */
  readonly plus?: boolean;
  /** Component logger: applied changes at info, refused persisted rows at warn. */
  readonly logger: Logger;
}

const SHOWN_KEYS = 10;
function listForMessage(keys: readonly string[]): string {
  const shown = keys.slice(0, SHOWN_KEYS).map((k) => JSON.stringify(k));
  return keys.length > SHOWN_KEYS ? `${shown.join(', ')} and ${keys.length - SHOWN_KEYS} more` : shown.join(', ');
}

/** Unique keys in request order; throws InstrumentRequestError for an empty list or any invalid key. */
export function validateInstrumentKeys(instrumentKeys: readonly string[]): string[] {
  const unique = [...new Set(instrumentKeys)];
  if (unique.length === 0) {
    throw new InstrumentRequestError('instrumentKeys is empty: name at least one instrument key', 'NO_INSTRUMENT_KEYS');
  }
  const badFormat: string[] = [];
  const unknownSegment: string[] = [];
  for (const key of unique) {
    const problem = instrumentKeyProblem(key);
    if (problem === 'FORMAT') badFormat.push(key);
    else if (problem === 'UNKNOWN_SEGMENT') unknownSegment.push(key);
  }
  if (badFormat.length > 0) {
    throw new InstrumentRequestError(
      `Invalid instrument key(s) ${listForMessage(badFormat)}: expected SEGMENT|ID, e.g. NSE_EQ|INE002A01018`,
      'INVALID_INSTRUMENT_KEY',
      { invalidKeys: badFormat.slice(0, 100), unknownSegmentKeys: unknownSegment.slice(0, 100) },
    );
  }
  if (unknownSegment.length > 0) {
    throw new InstrumentRequestError(
      `Unknown segment in instrument key(s) ${listForMessage(unknownSegment)}: the segment must be one of NSE_EQ, NSE_INDEX, NSE_FO, NSE_COM, NCD_FO, BSE_EQ, BSE_INDEX, BSE_FO, BCD_FO, MCX_FO, MCX_INDEX, GLOBAL_INDEX, GLOBAL_INDICATOR`,
      'UNKNOWN_SEGMENT',
      { unknownSegmentKeys: unknownSegment.slice(0, 100) },
    );
  }
  return unique;
}

/** Our coded error for a cap violation (the same check the feed client runs in setDesired). */
function capError(violation: CapViolation, options?: ErrorOptions): InstrumentRequestError {
  if (violation.cap === 'plan') {
    return new InstrumentRequestError(
      `Mode FULL_D30 needs an Upstox Plus subscription, which this server is not configured for (${violation.requested} keys requested)`,
      'PLUS_REQUIRED',
      { mode: violation.mode, requested: violation.requested },
      options,
    );
  }
  return new InstrumentRequestError(
    `The request would subscribe ${violation.requested} keys in mode ${violation.mode}, over the ${violation.cap} cap of ${violation.limit} by ${violation.excess}; unsubscribe some keys or use another mode`,
    'CAP_EXCEEDED',
    {
      mode: violation.mode,
      cap: violation.cap,
      limit: violation.limit,
      requested: violation.requested,
      excess: violation.excess,
    },
    options,
  );
}

/** The feed client's CapExceededError as our coded error; other errors as they are. */
function fromFeedError(error: unknown): unknown {
  return error instanceof CapExceededError ? capError(error, { cause: error }) : error;
}

export function createInstrumentService({
  feed,
  store,
  plus = false,
  logger,
}: InstrumentServiceOptions): InstrumentService {
  let chain: Promise<unknown> = Promise.resolve();
  const listeners = new Set<() => void>();

  /** Runs `task` after every earlier change has settled (whatever its outcome). */
  function serialize<T>(task: () => Promise<T>): Promise<T> {
    const run = chain.then(task, task);
    chain = run.catch(() => undefined);
    return run;
  }

  /** Persists the difference between `current` and `next`, then applies `next`; compensates on failure. */
  /**
   * One mutation: validated keys, a copy of the desired set changed key by key by `decide` (which reports each
   * key's outcome), then committed whole (caps, persistence, feed) — serialized with every other change.
   */
  function change(
    instrumentKeys: readonly string[],
    decide: (instrumentKey: string, before: FeedMode | undefined, next: Map<string, FeedMode>) => SubscriptionResult,
  ): Promise<SubscriptionResult[]> {
    return serialize(async () => {
      const keys = validateInstrumentKeys(instrumentKeys);
      const current = feed.desired();
      const next = new Map(current);
      const results = keys.map((instrumentKey) => decide(instrumentKey, current.get(instrumentKey), next));
      await commit(current, next);
      return results;
    });
  }

  async function commit(current: ReadonlyMap<string, FeedMode>, next: Map<string, FeedMode>): Promise<void> {
    const violation = checkCaps(next, { plus });
    if (violation) throw capError(violation);

    const upserts: { instrumentKey: string; mode: FeedMode }[] = [];
    const removals: string[] = [];
    for (const [instrumentKey, mode] of next)
      if (current.get(instrumentKey) !== mode) upserts.push({ instrumentKey, mode });
    for (const key of current.keys()) if (!next.has(key)) removals.push(key);
    if (upserts.length === 0 && removals.length === 0) return;

    if (upserts.length > 0) await store.upsertSubscriptions(upserts);
    if (removals.length > 0) await store.removeSubscriptions(removals);
    try {
      feed.setDesired(next);
    } catch (error) {
      // The feed refused (its cap rules may be stricter than ours): put the store back as it was.
      const restore = [...current]
        .filter(([k, m]) => next.get(k) !== m)
        .map(([instrumentKey, mode]) => ({ instrumentKey, mode }));
      const added = upserts.filter((u) => !current.has(u.instrumentKey)).map((u) => u.instrumentKey);
      await Promise.all([
        restore.length > 0 ? store.upsertSubscriptions(restore) : undefined,
        added.length > 0 ? store.removeSubscriptions(added) : undefined,
      ]).catch((restoreError: unknown) =>
        logger.error(
          { err: restoreError },
          'could not restore the persisted subscription set after the feed refused it',
        ),
      );
      throw fromFeedError(error);
    }
    logger.info(
      { upserted: upserts.length, removed: removals.length, desired: next.size },
      'desired subscriptions changed',
    );
    for (const listener of listeners) {
      try {
        listener();
      } catch (error) {
        logger.error({ err: error }, 'subscription change listener threw');
      }
    }
  }

  return {
    async load() {
      const rows = await store.listSubscriptions();
      const next = new Map<string, FeedMode>();
      for (const row of rows) {
        const problem = instrumentKeyProblem(row.instrumentKey);
        if (problem) {
          logger.warn(
            { instrumentKey: row.instrumentKey, problem },
            'persisted subscription has an invalid key; not applied (row kept)',
          );
          continue;
        }
        next.set(row.instrumentKey, row.mode);
      }
      const violation = checkCaps(next, { plus });
      if (violation) throw capError(violation);
      try {
        feed.setDesired(next);
      } catch (error) {
        throw fromFeedError(error);
      }
      logger.info({ desired: next.size }, 'loaded persisted subscriptions');
    },

    subscribe(instrumentKeys, mode) {
      return change(instrumentKeys, (instrumentKey, before, next) => {
        next.set(instrumentKey, mode);
        const outcome = before === undefined ? 'SUBSCRIBED' : before === mode ? 'ALREADY_SUBSCRIBED' : 'MODE_CHANGED';
        return { instrumentKey, outcome, mode };
      });
    },

    unsubscribe(instrumentKeys) {
      return change(instrumentKeys, (instrumentKey, _before, next) => ({
        instrumentKey,
        outcome: next.delete(instrumentKey) ? 'UNSUBSCRIBED' : 'NOT_SUBSCRIBED',
        mode: null,
      }));
    },

    changeMode(instrumentKeys, mode) {
      return change(instrumentKeys, (instrumentKey, before, next) => {
        if (before === undefined) return { instrumentKey, outcome: 'NOT_SUBSCRIBED', mode: null };
        next.set(instrumentKey, mode);
        return { instrumentKey, outcome: before === mode ? 'ALREADY_SUBSCRIBED' : 'MODE_CHANGED', mode };
      });
    },

    async list() {
      const desired = feed.desired();
      const active = feed.active();
      const rows = await store.listSubscriptions();
      const times = new Map(rows.map((row) => [row.instrumentKey, row]));
      return [...desired]
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([instrumentKey, mode]) => ({
          instrumentKey,
          mode,
          activeMode: active.get(instrumentKey) ?? null,
          createdAt: times.get(instrumentKey)?.createdAt ?? null,
          updatedAt: times.get(instrumentKey)?.updatedAt ?? null,
        }));
    },

    isDesired(instrumentKey) {
      return feed.desired().has(instrumentKey);
    },

    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
