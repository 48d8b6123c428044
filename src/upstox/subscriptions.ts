/**
 * Desired subscription set → cap check → ordered, batched requests. Pure (no I/O, no clock); the only
 * impurity is request guids, which can be injected.
 *
 * Caps (spec §2.5, KEY_CAPS in protocol.ts) are per connection and enforced by Upstox *silently*: keys past a
 * cap just never stream. So the client refuses an over-cap desired set up front ({@link checkCaps}), and
 * {@link planRequests} orders requests so the connection never exceeds a cap on the way from the active set
 * to the desired one: removals first, then mode changes and new subscriptions in chunks sized to the
 * headroom left at each step. Any subset of a cap-satisfying set satisfies the caps too (fewer keys, and
 * fewer categories only loosens "combined" to "individual"), which is what makes the greedy order complete.
 */
import { randomUUID } from 'node:crypto';
import { FEED_MODES, type FeedMode, type FeedRequest, KEY_CAPS } from './protocol.js';

export type CapKind = 'individual' | 'combined' | 'plan';

export interface CapViolation {
  readonly mode: FeedMode;
  /** Which cap: one mode in use (individual), several (combined), or a mode the plan lacks (full_d30). */
  readonly cap: CapKind;
  readonly limit: number;
  readonly requested: number;
  readonly excess: number;
}

/** A desired set over a per-connection cap. Thrown by FeedClient.setDesired; nothing changes when it is. */
export class CapExceededError extends Error {
  override name = 'CapExceededError' as const;
  readonly mode: FeedMode;
  readonly cap: CapKind;
  readonly limit: number;
  readonly requested: number;
  readonly excess: number;
  constructor(violation: CapViolation) {
    super(describeViolation(violation));
    this.mode = violation.mode;
    this.cap = violation.cap;
    this.limit = violation.limit;
    this.requested = violation.requested;
    this.excess = violation.excess;
  }
}

export function describeViolation({ mode, cap, limit, requested, excess }: CapViolation): string {
  if (cap === 'plan') {
    return `${mode} mode needs an Upstox Plus plan (${requested} key${requested === 1 ? '' : 's'} requested)`;
  }
  const when = cap === 'combined' ? ' when several modes are used' : '';
  return `${mode} mode would have ${requested} keys; the ${cap} cap is ${limit}${when} (${excess} over)`;
}

export interface CapOptions {
  /** The account has Upstox Plus (full_d30 allowed, 50 keys). @default false */
  plus?: boolean;
}

type Counts = Record<FeedMode, number>;

const zeroCounts = (): Counts => ({ ltpc: 0, option_greeks: 0, full: 0, full_d30: 0 });

export function countByMode(set: ReadonlyMap<string, FeedMode>): Counts {
  const counts = zeroCounts();
  for (const mode of set.values()) counts[mode]++;
  return counts;
}

function violationOf(counts: Counts, plus: boolean): CapViolation | null {
  if (!plus && counts.full_d30 > 0) {
    return { mode: 'full_d30', cap: 'plan', limit: 0, requested: counts.full_d30, excess: counts.full_d30 };
  }
  let used = 0;
  for (const mode of FEED_MODES) if (counts[mode] > 0) used++;
  const cap: CapKind = used > 1 ? 'combined' : 'individual';
  for (const mode of FEED_MODES) {
    const limit = KEY_CAPS[mode][cap as 'individual' | 'combined'];
    const requested = counts[mode];
    if (requested > limit) return { mode, cap, limit, requested, excess: requested - limit };
  }
  return null;
}

/** The first cap `desired` breaks (plan first, then modes in FEED_MODES order), or null when it fits. */
export function checkCaps(
  desired: ReadonlyMap<string, FeedMode>,
  { plus = false }: CapOptions = {},
): CapViolation | null {
  return violationOf(countByMode(desired), plus);
}

export interface PlanOptions {
  /**
   * Most instrument keys in one request frame. Upstox documents no per-message limit; practitioners chunk
   * at ≤ 500 (spec §2.5).
   * @default 500
   */
  maxKeysPerRequest?: number;
  /** Request id generator. @default crypto.randomUUID */
  guid?: () => string;
}

interface Pending {
  readonly method: 'sub' | 'change_mode';
  readonly mode: FeedMode;
  /** Source mode of a change_mode group (null for sub). */
  readonly from: FeedMode | null;
  readonly keys: string[];
  next: number;
}

/**
 * Requests that take a connection from `active` to `desired`, in an order that never exceeds a cap mid-way
 * (both ends are assumed within caps; plan entitlement is checkCaps' job). Empty when they are equal.
 */
export function planRequests(
  active: ReadonlyMap<string, FeedMode>,
  desired: ReadonlyMap<string, FeedMode>,
  { maxKeysPerRequest = 500, guid = randomUUID }: PlanOptions = {},
): FeedRequest[] {
  if (!(maxKeysPerRequest >= 1)) throw new RangeError(`maxKeysPerRequest must be ≥ 1, got ${maxKeysPerRequest}`);
  const requests: FeedRequest[] = [];
  const counts = countByMode(active);

  const removed: string[] = [];
  for (const [key, mode] of active) {
    if (!desired.has(key)) {
      removed.push(key);
      counts[mode]--;
    }
  }
  const subs = new Map<FeedMode, string[]>();
  const moves = new Map<string, string[]>(); // "from>to" → keys
  for (const [key, mode] of desired) {
    const current = active.get(key);
    if (current === mode) continue;
    if (current === undefined) {
      const list = subs.get(mode);
      if (list) list.push(key);
      else subs.set(mode, [key]);
    } else {
      const id = `${current}>${mode}`;
      const list = moves.get(id);
      if (list) list.push(key);
      else moves.set(id, [key]);
    }
  }

  const push = (method: FeedRequest['method'], keys: string[], mode?: FeedMode) => {
    requests.push({
      guid: guid(),
      method,
      data: mode === undefined ? { instrumentKeys: keys } : { mode, instrumentKeys: keys },
    });
  };

  // 1. Removals only ever loosen caps.
  for (let i = 0; i < removed.length; i += maxKeysPerRequest) push('unsub', removed.slice(i, i + maxKeysPerRequest));

  // 2. Mode changes before new keys (a change frees room in its source mode), each chunk sized to the room.
  const pending: Pending[] = [];
  for (const [id, keys] of moves) {
    const [from, to] = id.split('>') as [FeedMode, FeedMode];
    pending.push({ method: 'change_mode', mode: to, from, keys, next: 0 });
  }
  for (const [mode, keys] of subs) pending.push({ method: 'sub', mode, from: null, keys, next: 0 });

  const fits = (group: Pending, n: number): boolean => {
    counts[group.mode] += n;
    if (group.from) counts[group.from] -= n;
    const ok = violationOf(counts, true) === null;
    counts[group.mode] -= n;
    if (group.from) counts[group.from] += n;
    return ok;
  };
  const room = (group: Pending): number => {
    let n = Math.min(maxKeysPerRequest, group.keys.length - group.next);
    if (fits(group, n)) return n;
    let lo = 0; // fits
    let hi = n; // does not fit
    while (hi - lo > 1) {
      n = (lo + hi) >>> 1;
      if (fits(group, n)) lo = n;
      else hi = n;
    }
    return lo;
  };
  const take = (group: Pending, n: number): string[] => {
    const keys = group.keys.slice(group.next, group.next + n);
    group.next += n;
    return keys;
  };

  let open = pending.filter((g) => g.keys.length > 0);
  while (open.length > 0) {
    let progressed = false;
    for (const group of open) {
      for (let n = room(group); n > 0; n = room(group)) {
        push(group.method, take(group, n), group.mode);
        counts[group.mode] += n;
        if (group.from) counts[group.from] -= n;
        progressed = true;
      }
    }
    open = open.filter((g) => g.next < g.keys.length);
    if (!progressed && open.length > 0) {
      // Deadlock (e.g. swapping two modes that are both at their caps): unsubscribe a chunk of one move
      // and subscribe those keys afresh later, in the target mode. Subsets of `desired` always fit.
      const stuck = open.find((g) => g.method === 'change_mode');
      if (!stuck) throw new Error('planRequests: desired set exceeds a cap (call checkCaps first)');
      const keys = take(stuck, Math.min(maxKeysPerRequest, stuck.keys.length - stuck.next));
      push('unsub', keys);
      counts[stuck.from!] -= keys.length;
      pending.push({ method: 'sub', mode: stuck.mode, from: null, keys, next: 0 });
      open = pending.filter((g) => g.next < g.keys.length);
    }
  }
  return requests;
}

/** The set a connection holds after `requests` are applied to `active` (what the server believes). */
export function applyRequests(
  active: ReadonlyMap<string, FeedMode>,
  requests: readonly FeedRequest[],
): Map<string, FeedMode> {
  const next = new Map(active);
  for (const { method, data } of requests) {
    for (const key of data.instrumentKeys) {
      if (method === 'unsub') next.delete(key);
      else if (method === 'sub') next.set(key, data.mode ?? 'ltpc');
      else if (next.has(key)) next.set(key, data.mode ?? 'ltpc');
    }
  }
  return next;
}
