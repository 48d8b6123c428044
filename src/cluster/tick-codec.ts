/**
 * Wire format of the Redis relay: tick batches, feed status and notifications as UTF-8 JSON strings.
 *
 * Batches use positional arrays instead of objects: a Tick's 20 field names are most of its JSON, so
 * tuples cut a 500-update full-mode batch to about half the bytes and encode/decode faster than
 * JSON.stringify of the objects (measured in bench/relay.ts). JSON stays: it is exact for our values
 * (finite doubles, strings, booleans as 0/1), debuggable with `redis-cli SUBSCRIBE`, and needs no dependency.
 *
 * Every decoder validates what it reads and throws RelayDecodeError naming the first bad path, so a bad
 * message from Redis is counted and dropped by the relay instead of reaching the cache or a client.
 * Messages carry a format version first; a version we do not know is a decode error, not a guess.
 */

import type { AuctionInfo, Candle, DepthLevel, Greeks, Tick, TickBatch, TickUpdate } from '../ticks/tick.js';
import type { FeedSource, FeedState, FeedStatus, SegmentStatus } from '../upstox/feed-client.js';
import { FEED_MODES, type FeedMode, MARKET_STATUSES, type MarketStatus } from '../upstox/protocol.js';

export const RELAY_FORMAT_VERSION = 1;

/** A relay message that is not what the format says; `path` locates the first problem. */
export class RelayDecodeError extends Error {
  override name = 'RelayDecodeError';
  readonly path: string;
  constructor(path: string, expected: string, cause?: unknown) {
    super(`bad relay message at ${path}: expected ${expected}`, cause === undefined ? undefined : { cause });
    this.path = path;
  }
}

/** A batch as relayed: who sent it (an instance id) and the batch. */
export interface RelayedBatch {
  readonly sender: string;
  readonly batch: TickBatch;
}

// --- encoding -----------------------------------------------------------------------------------------------

const MODE_INDEX: Readonly<Record<FeedMode, number>> = Object.fromEntries(FEED_MODES.map((m, i) => [m, i])) as Record<
  FeedMode,
  number
>;

function encodeDepth(depth: readonly DepthLevel[]): number[] {
  const flat = new Array<number>(depth.length * 4);
  for (let i = 0; i < depth.length; i++) {
    const level = depth[i]!;
    flat[i * 4] = level.bidQty;
    flat[i * 4 + 1] = level.bidPrice;
    flat[i * 4 + 2] = level.askQty;
    flat[i * 4 + 3] = level.askPrice;
  }
  return flat;
}

function encodeUpdate(update: TickUpdate): unknown[] {
  const t = update.tick;
  return [
    update.changed,
    update.snapshot ? 1 : 0,
    t.instrumentKey,
    MODE_INDEX[t.mode],
    t.isIndex ? 1 : 0,
    t.exchangeTs,
    t.receivedAt,
    t.ltp,
    t.lastTradeTime,
    t.ltq,
    t.closePrice,
    t.iep,
    t.depth === null ? null : encodeDepth(t.depth),
    t.candles === null ? null : t.candles.map((c) => [c.interval, c.open, c.high, c.low, c.close, c.volume, c.ts]),
    t.greeks === null ? null : [t.greeks.delta, t.greeks.theta, t.greeks.gamma, t.greeks.vega, t.greeks.rho],
    t.averagePrice,
    t.volume,
    t.openInterest,
    t.impliedVolatility,
    t.totalBuyQty,
    t.totalSellQty,
    t.auction === null
      ? null
      : [t.auction.iep, t.auction.rp, t.auction.ieq, t.auction.iiqTotal, t.auction.iiqM, t.auction.casEligible ? 1 : 0],
  ];
}

const UPDATE_FIELDS = 22;

/** `[version, sender, exchangeTs, receivedAt, [update tuple, ...]]` as a JSON string. */
export function encodeBatch(sender: string, batch: TickBatch): string {
  const updates = new Array<unknown[]>(batch.updates.length);
  for (let i = 0; i < batch.updates.length; i++) updates[i] = encodeUpdate(batch.updates[i]!);
  return JSON.stringify([RELAY_FORMAT_VERSION, sender, batch.exchangeTs, batch.receivedAt, updates]);
}

// --- decoding -----------------------------------------------------------------------------------------------

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new RelayDecodeError('$', 'JSON', error);
  }
}

function num(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new RelayDecodeError(path, 'a finite number');
  return value;
}

function numOrNull(value: unknown, path: string): number | null {
  return value === null ? null : num(value, path);
}

function str(value: unknown, path: string): string {
  if (typeof value !== 'string') throw new RelayDecodeError(path, 'a string');
  return value;
}

function strOrNull(value: unknown, path: string): string | null {
  return value === null ? null : str(value, path);
}

function flag(value: unknown, path: string): boolean {
  if (value === 0 || value === false) return false;
  if (value === 1 || value === true) return true;
  throw new RelayDecodeError(path, '0 or 1');
}

function arr(value: unknown, path: string, length?: number): unknown[] {
  if (!Array.isArray(value)) throw new RelayDecodeError(path, 'an array');
  if (length !== undefined && value.length !== length) throw new RelayDecodeError(path, `${length} elements`);
  return value;
}

function obj(value: unknown, path: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new RelayDecodeError(path, 'an object');
  return value as Record<string, unknown>;
}

function decodeDepth(value: unknown, path: string): readonly DepthLevel[] | null {
  if (value === null) return null;
  const flat = arr(value, path);
  if (flat.length % 4 !== 0) throw new RelayDecodeError(path, 'a multiple of 4 numbers');
  const depth = new Array<DepthLevel>(flat.length / 4);
  for (let i = 0; i < depth.length; i++) {
    depth[i] = {
      bidQty: num(flat[i * 4], `${path}[${i * 4}]`),
      bidPrice: num(flat[i * 4 + 1], `${path}[${i * 4 + 1}]`),
      askQty: num(flat[i * 4 + 2], `${path}[${i * 4 + 2}]`),
      askPrice: num(flat[i * 4 + 3], `${path}[${i * 4 + 3}]`),
    };
  }
  return depth;
}

function decodeCandles(value: unknown, path: string): readonly Candle[] | null {
  if (value === null) return null;
  return arr(value, path).map((item, i) => {
    const p = `${path}[${i}]`;
    const c = arr(item, p, 7);
    return {
      interval: str(c[0], `${p}[0]`),
      open: num(c[1], `${p}[1]`),
      high: num(c[2], `${p}[2]`),
      low: num(c[3], `${p}[3]`),
      close: num(c[4], `${p}[4]`),
      volume: num(c[5], `${p}[5]`),
      ts: num(c[6], `${p}[6]`),
    };
  });
}

function decodeGreeks(value: unknown, path: string): Greeks | null {
  if (value === null) return null;
  const g = arr(value, path, 5);
  return {
    delta: num(g[0], `${path}[0]`),
    theta: num(g[1], `${path}[1]`),
    gamma: num(g[2], `${path}[2]`),
    vega: num(g[3], `${path}[3]`),
    rho: num(g[4], `${path}[4]`),
  };
}

function decodeAuction(value: unknown, path: string): AuctionInfo | null {
  if (value === null) return null;
  const a = arr(value, path, 6);
  return {
    iep: num(a[0], `${path}[0]`),
    rp: num(a[1], `${path}[1]`),
    ieq: num(a[2], `${path}[2]`),
    iiqTotal: num(a[3], `${path}[3]`),
    iiqM: num(a[4], `${path}[4]`),
    casEligible: flag(a[5], `${path}[5]`),
  };
}

function decodeUpdate(value: unknown, path: string): TickUpdate {
  const u = arr(value, path, UPDATE_FIELDS);
  const changed = num(u[0], `${path}[0]`);
  if (!Number.isInteger(changed) || changed < 0) throw new RelayDecodeError(`${path}[0]`, 'a change mask');
  const modeIndex = u[3];
  const mode = typeof modeIndex === 'number' ? FEED_MODES[modeIndex] : undefined;
  if (mode === undefined) throw new RelayDecodeError(`${path}[3]`, `a mode index 0..${FEED_MODES.length - 1}`);
  const instrumentKey = str(u[2], `${path}[2]`);
  if (instrumentKey.length === 0) throw new RelayDecodeError(`${path}[2]`, 'an instrument key');
  // Same property order as the decoder's ticks, so downstream property access stays monomorphic.
  const tick: Tick = {
    instrumentKey,
    mode,
    isIndex: flag(u[4], `${path}[4]`),
    exchangeTs: num(u[5], `${path}[5]`),
    receivedAt: num(u[6], `${path}[6]`),
    ltp: numOrNull(u[7], `${path}[7]`),
    lastTradeTime: numOrNull(u[8], `${path}[8]`),
    ltq: numOrNull(u[9], `${path}[9]`),
    closePrice: numOrNull(u[10], `${path}[10]`),
    iep: numOrNull(u[11], `${path}[11]`),
    depth: decodeDepth(u[12], `${path}[12]`),
    candles: decodeCandles(u[13], `${path}[13]`),
    greeks: decodeGreeks(u[14], `${path}[14]`),
    averagePrice: numOrNull(u[15], `${path}[15]`),
    volume: numOrNull(u[16], `${path}[16]`),
    openInterest: numOrNull(u[17], `${path}[17]`),
    impliedVolatility: numOrNull(u[18], `${path}[18]`),
    totalBuyQty: numOrNull(u[19], `${path}[19]`),
    totalSellQty: numOrNull(u[20], `${path}[20]`),
    auction: decodeAuction(u[21], `${path}[21]`),
  };
  return { tick, changed, snapshot: flag(u[1], `${path}[1]`) };
}

function checkVersion(value: unknown, path: string): void {
  if (value !== RELAY_FORMAT_VERSION) throw new RelayDecodeError(path, `format version ${RELAY_FORMAT_VERSION}`);
}

/** Parses and validates a batch message; throws RelayDecodeError. */
export function decodeBatch(text: string): RelayedBatch {
  const m = arr(parse(text), '$', 5);
  checkVersion(m[0], '$[0]');
  const sender = str(m[1], '$[1]');
  const exchangeTs = num(m[2], '$[2]');
  const receivedAt = num(m[3], '$[3]');
  const raw = arr(m[4], '$[4]');
  const updates = new Array<TickUpdate>(raw.length);
  for (let i = 0; i < raw.length; i++) updates[i] = decodeUpdate(raw[i], `$[4][${i}]`);
  return { sender, batch: { exchangeTs, receivedAt, updates } };
}

// --- feed status --------------------------------------------------------------------------------------------

const FEED_STATES: readonly FeedState[] = ['CONNECTING', 'CONNECTED', 'RECONNECTING', 'UNAUTHORIZED', 'STOPPED'];
const FEED_SOURCES: readonly FeedSource[] = ['UPSTOX', 'SIMULATOR', 'REPLAY'];

/** `{ v, sender, status }` as a JSON string. */
export function encodeStatus(sender: string, status: FeedStatus): string {
  return JSON.stringify({ v: RELAY_FORMAT_VERSION, sender, status });
}

function oneOf<T extends string>(value: unknown, allowed: readonly T[], path: string): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new RelayDecodeError(path, `one of ${allowed.join(', ')}`);
  }
  return value as T;
}

function modeCounts(value: unknown, path: string): Readonly<Record<FeedMode, number>> {
  const o = obj(value, path);
  const out = {} as Record<FeedMode, number>;
  for (const mode of FEED_MODES) out[mode] = num(o[mode], `${path}.${mode}`);
  return out;
}

function decodeSegment(value: unknown, path: string): SegmentStatus {
  const s = obj(value, path);
  return {
    segment: str(s.segment, `${path}.segment`),
    status: s.status === null ? null : oneOf<MarketStatus>(s.status, MARKET_STATUSES, `${path}.status`),
    casStatus: strOrNull(s.casStatus, `${path}.casStatus`),
    casUpdatedAt: numOrNull(s.casUpdatedAt, `${path}.casUpdatedAt`),
    preOpenStatus: strOrNull(s.preOpenStatus, `${path}.preOpenStatus`),
    preOpenUpdatedAt: numOrNull(s.preOpenUpdatedAt, `${path}.preOpenUpdatedAt`),
  };
}

/** Parses and validates a status message; throws RelayDecodeError. */
export function decodeStatus(text: string): { readonly sender: string; readonly status: FeedStatus } {
  const m = obj(parse(text), '$');
  checkVersion(m.v, '$.v');
  const sender = str(m.sender, '$.sender');
  const s = obj(m.status, '$.status');
  const p = '$.status';
  const status: FeedStatus = {
    state: oneOf(s.state, FEED_STATES, `${p}.state`),
    source: oneOf(s.source, FEED_SOURCES, `${p}.source`),
    connectedSince: numOrNull(s.connectedSince, `${p}.connectedSince`),
    reconnects: num(s.reconnects, `${p}.reconnects`),
    lastFrameAt: numOrNull(s.lastFrameAt, `${p}.lastFrameAt`),
    lastError: strOrNull(s.lastError, `${p}.lastError`),
    framesDecoded: num(s.framesDecoded, `${p}.framesDecoded`),
    ticksDecoded: num(s.ticksDecoded, `${p}.ticksDecoded`),
    decodeErrors: num(s.decodeErrors, `${p}.decodeErrors`),
    framesPerSecond: num(s.framesPerSecond, `${p}.framesPerSecond`),
    ticksPerSecond: num(s.ticksPerSecond, `${p}.ticksPerSecond`),
    keysByMode: modeCounts(s.keysByMode, `${p}.keysByMode`),
    activeKeysByMode: modeCounts(s.activeKeysByMode, `${p}.activeKeysByMode`),
    segments: arr(s.segments, `${p}.segments`).map((seg, i) => decodeSegment(seg, `${p}.segments[${i}]`)),
  };
  return { sender, status };
}

// --- notifications ------------------------------------------------------------------------------------------

/** `{ v, sender }` as a JSON string. */
export function encodeNotice(sender: string): string {
  return JSON.stringify({ v: RELAY_FORMAT_VERSION, sender });
}

/** Parses and validates a notification; throws RelayDecodeError. */
export function decodeNotice(text: string): { readonly sender: string } {
  const m = obj(parse(text), '$');
  checkVersion(m.v, '$.v');
  return { sender: str(m.sender, '$.sender') };
}
