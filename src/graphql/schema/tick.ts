/** Live ticks: the Tick type, latest values from the cache, and the `ticks` subscription. */
import type { AuctionInfo, Candle, DepthLevel, Greeks, Tick, TickUpdate } from '../../ticks/tick.js';
import { changeNames, TickChange } from '../../ticks/tick.js';
import { instrumentKeyProblem } from '../../upstox/protocol.js';
import type { Builder } from '../builder.js';
import type { GraphQLContext } from '../context.js';
import { checkKeyCount, ERROR_CODES, userError } from '../errors.js';
import { type TickEvent, tickStream } from '../streams.js';
import type { CommonRefs } from './common.js';

const ALL_CHANGES = Object.values(TickChange).reduce((mask, bit) => mask | bit, 0);
const MAX_THROTTLE_MS = 60_000;

/** Throws INVALID_INSTRUMENT_KEY / UNKNOWN_SEGMENT for the first bad key. */
export function assertInstrumentKeys(keys: readonly string[]): void {
  for (const key of keys) {
    const problem = instrumentKeyProblem(key);
    if (problem === 'FORMAT') {
      throw userError(
        `Invalid instrument key ${JSON.stringify(key)}: expected SEGMENT|ID, e.g. NSE_EQ|INE002A01018`,
        'INVALID_INSTRUMENT_KEY',
        { invalidKeys: [key] },
      );
    }
    if (problem === 'UNKNOWN_SEGMENT') {
      throw userError(`Unknown segment in instrument key ${JSON.stringify(key)}`, 'UNKNOWN_SEGMENT', {
        unknownSegmentKeys: [key],
      });
    }
  }
}

/** The cached ticks of `keys` as snapshot updates (keys without a tick yet are skipped). */
function snapshotOf(context: GraphQLContext, keys: readonly string[]): TickUpdate[] {
  const updates: TickUpdate[] = [];
  for (const key of keys) {
    const tick = context.services.cache.get(key);
    if (tick) updates.push({ tick, changed: ALL_CHANGES, snapshot: true });
  }
  return updates;
}

export function registerTick(builder: Builder, { FeedModeEnum, TickChangeEnum }: CommonRefs) {
  const DepthLevelRef = builder.objectRef<DepthLevel>('DepthLevel').implement({
    description: 'One order-book level; level 0 is the best bid/ask.',
    fields: (t) => ({
      bidQty: t.expose('bidQty', { type: 'SafeInt' }),
      bidPrice: t.exposeFloat('bidPrice'),
      askQty: t.expose('askQty', { type: 'SafeInt' }),
      askPrice: t.exposeFloat('askPrice'),
    }),
  });

  const CandleRef = builder.objectRef<Candle>('Candle').implement({
    description: 'An OHLC candle: interval `1d` (today) or `I1` (last completed minute).',
    fields: (t) => ({
      interval: t.exposeString('interval'),
      open: t.exposeFloat('open'),
      high: t.exposeFloat('high'),
      low: t.exposeFloat('low'),
      close: t.exposeFloat('close'),
      volume: t.expose('volume', { type: 'SafeInt' }),
      ts: t.expose('ts', { type: 'Timestamp', description: 'Candle start.' }),
    }),
  });

  const GreeksRef = builder.objectRef<Greeks>('Greeks').implement({
    fields: (t) => ({
      delta: t.exposeFloat('delta'),
      theta: t.exposeFloat('theta'),
      gamma: t.exposeFloat('gamma'),
      vega: t.exposeFloat('vega'),
      rho: t.exposeFloat('rho'),
    }),
  });

  const AuctionRef = builder.objectRef<AuctionInfo>('Auction').implement({
    description: 'Call-auction / pre-open session fields (full mode).',
    fields: (t) => ({
      iep: t.exposeFloat('iep', { description: 'Indicative equilibrium price.' }),
      rp: t.exposeFloat('rp'),
      ieq: t.expose('ieq', { type: 'SafeInt', description: 'Indicative equilibrium quantity.' }),
      iiqTotal: t.expose('iiqTotal', { type: 'SafeInt' }),
      iiqM: t.expose('iiqM', { type: 'SafeInt' }),
      casEligible: t.exposeBoolean('casEligible'),
    }),
  });

  const TickRef = builder.objectRef<Tick>('Tick').implement({
    description: 'The merged latest state of one instrument. Fields the mode does not carry are null.',
    fields: (t) => ({
      instrumentKey: t.exposeString('instrumentKey'),
      mode: t.expose('mode', { type: FeedModeEnum }),
      isIndex: t.exposeBoolean('isIndex'),
      exchangeTs: t.expose('exchangeTs', { type: 'Timestamp', description: 'Feed timestamp of the last update.' }),
      receivedAt: t.expose('receivedAt', { type: 'Timestamp', description: 'When the server received it.' }),
      ltp: t.exposeFloat('ltp', { nullable: true, description: 'Last traded price.' }),
      lastTradeTime: t.expose('lastTradeTime', { type: 'Timestamp', nullable: true }),
      ltq: t.expose('ltq', { type: 'SafeInt', nullable: true, description: 'Last traded quantity.' }),
      closePrice: t.exposeFloat('closePrice', { nullable: true, description: 'Previous day close.' }),
      iep: t.exposeFloat('iep', { nullable: true, description: 'Indicative equilibrium price (pre-open).' }),
      depth: t.field({
        type: [DepthLevelRef],
        nullable: true,
        description: 'Order book, best level first (5 levels in FULL, 30 in FULL_D30, 1 in OPTION_GREEKS).',
        resolve: (tick) => tick.depth as DepthLevel[] | null,
      }),
      candles: t.field({ type: [CandleRef], nullable: true, resolve: (tick) => tick.candles as Candle[] | null }),
      greeks: t.field({ type: GreeksRef, nullable: true, resolve: (tick) => tick.greeks }),
      averagePrice: t.exposeFloat('averagePrice', { nullable: true, description: 'Average traded price (ATP).' }),
      volume: t.expose('volume', { type: 'SafeInt', nullable: true, description: 'Volume traded today.' }),
      openInterest: t.exposeFloat('openInterest', { nullable: true }),
      impliedVolatility: t.exposeFloat('impliedVolatility', {
        nullable: true,
        description: 'Implied volatility as a fraction (0.1334 = 13.34 %).',
      }),
      totalBuyQty: t.exposeFloat('totalBuyQty', { nullable: true }),
      totalSellQty: t.exposeFloat('totalSellQty', { nullable: true }),
      auction: t.field({ type: AuctionRef, nullable: true, resolve: (tick) => tick.auction }),
    }),
  });

  const TickUpdateRef = builder.objectRef<TickUpdate>('TickUpdate').implement({
    description: 'One instrument in a live event: the merged tick and what this update changed.',
    fields: (t) => ({
      instrumentKey: t.string({ resolve: (u) => u.tick.instrumentKey }),
      changed: t.field({ type: [TickChangeEnum], resolve: (u) => changeNames(u.changed) }),
      snapshot: t.exposeBoolean('snapshot', { description: 'From the cache or an initial feed, not a live frame.' }),
      tick: t.field({ type: TickRef, resolve: (u) => u.tick }),
    }),
  });

  const TickEventRef = builder.objectRef<TickEvent>('TickEvent').implement({
    description: 'One event of the `ticks` subscription: the updates of one upstream frame (or throttle window).',
    fields: (t) => ({
      updates: t.field({ type: [TickUpdateRef], resolve: (event) => event.updates as TickUpdate[] }),
      conflated: t.expose('conflated', {
        type: 'SafeInt',
        description:
          'Updates merged into newer ones for this subscription so far because the client read too slowly (0 for a client that keeps up).',
      }),
    }),
  });

  builder.queryFields((t) => ({
    latestTick: t.field({
      type: TickRef,
      nullable: true,
      description: 'The latest tick of one instrument from the live cache; null when none has arrived.',
      args: { instrumentKey: t.arg.string({ required: true }) },
      resolve: (_root, { instrumentKey }, context) => {
        assertInstrumentKeys([instrumentKey]);
        return context.services.cache.get(instrumentKey) ?? null;
      },
    }),
    latestTicks: t.field({
      type: [TickRef],
      description: 'The latest ticks of several instruments, in request order; keys without a tick are left out.',
      args: { instrumentKeys: t.arg.stringList({ required: true }) },
      resolve: (_root, { instrumentKeys }, context) => {
        checkKeyCount(instrumentKeys, context.limits.maxKeysPerRead);
        assertInstrumentKeys(instrumentKeys);
        return snapshotOf(context, [...new Set(instrumentKeys)]).map((u) => u.tick);
      },
    }),
  }));

  builder.subscriptionFields((t) => ({
    ticks: t.field({
      type: TickEventRef,
      description:
        'Live ticks of instruments in the desired set: first one event with the cached state of each key (when' +
        ' includeSnapshot and any is cached), then one event per upstream frame. A slow client receives the latest' +
        ' state per instrument rather than every update. Keys not in the desired set are refused with NOT_SUBSCRIBED:' +
        ' call subscribeInstruments (admin) first.',
      args: {
        instrumentKeys: t.arg.stringList({ required: true }),
        throttleMs: t.arg.int({
          defaultValue: 0,
          description: `At most one update per instrument per interval (the latest), 0 to ${MAX_THROTTLE_MS}; 0 = every update.`,
        }),
        includeSnapshot: t.arg.boolean({ defaultValue: true }),
      },
      subscribe: (_root, { instrumentKeys, throttleMs, includeSnapshot }, context) => {
        checkKeyCount(instrumentKeys, context.limits.maxKeysPerRead);
        const keys = [...new Set(instrumentKeys)];
        if (keys.length === 0) throw userError('instrumentKeys is empty', ERROR_CODES.INVALID_ARGUMENT);
        assertInstrumentKeys(keys);
        const throttle = throttleMs ?? 0;
        if (!Number.isInteger(throttle) || throttle < 0 || throttle > MAX_THROTTLE_MS) {
          throw userError(
            `throttleMs must be between 0 and ${MAX_THROTTLE_MS}; got ${throttle}`,
            ERROR_CODES.INVALID_ARGUMENT,
          );
        }
        // Decision: a reader may not grow the upstream subscription set (that is an admin mutation, bound by
        // Upstox caps), so keys outside the desired set are refused rather than subscribed implicitly.
        const missing = keys.filter((key) => !context.services.instruments.isDesired(key));
        if (missing.length > 0) {
          throw userError(
            `Not subscribed: ${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ` and ${missing.length - 10} more` : ''}; call the subscribeInstruments mutation first`,
            ERROR_CODES.NOT_SUBSCRIBED,
            { instrumentKeys: missing.slice(0, 100) },
          );
        }
        const snapshot = includeSnapshot === false ? [] : snapshotOf(context, keys);
        const subscription = context.services.bus.subscribe({
          instrumentKeys: keys,
          throttleMs: throttle,
          bufferLimit: context.limits.tickBufferLimit,
        });
        return tickStream(snapshot, subscription);
      },
      resolve: (event) => event,
    }),
  }));

  return { TickRef };
}
