/** Recorded tick history: a Relay connection over TickStore.history with opaque keyset cursors. */
import type { HistoryCursor, StoredTick } from '../../store/tick-store.js';
import type { Builder } from '../builder.js';
import { ERROR_CODES, userError } from '../errors.js';
import type { CommonRefs } from './common.js';
import { assertInstrumentKeys } from './tick.js';

/** Opaque cursor: base64url of `[exchangeTs, id]`. */
export function encodeCursor({ exchangeTs, id }: HistoryCursor): string {
  return Buffer.from(JSON.stringify([exchangeTs, id])).toString('base64url');
}

/** The position a cursor names; throws INVALID_CURSOR for anything we did not produce. */
export function decodeCursor(cursor: string): HistoryCursor {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    parsed = null;
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length !== 2 ||
    !Number.isSafeInteger(parsed[0]) ||
    typeof parsed[1] !== 'string' ||
    !/^\d{1,20}$/.test(parsed[1])
  ) {
    throw userError(
      'Invalid cursor: pass an endCursor from a previous page of this connection unchanged',
      ERROR_CODES.INVALID_CURSOR,
    );
  }
  return { exchangeTs: parsed[0] as number, id: parsed[1] };
}

interface TickEdge {
  readonly cursor: string;
  readonly node: StoredTick;
}
interface PageInfo {
  readonly hasNextPage: boolean;
  readonly hasPreviousPage: boolean;
  readonly startCursor: string | null;
  readonly endCursor: string | null;
}
interface TickConnection {
  readonly edges: TickEdge[];
  readonly pageInfo: PageInfo;
}

export function registerHistory(builder: Builder, { FeedModeEnum }: CommonRefs) {
  const TickOrderEnum = builder.enumType('TickOrder', {
    values: {
      NEWEST_FIRST: { value: 'DESC' },
      OLDEST_FIRST: { value: 'ASC' },
    } as const,
  });

  const HistoricalTickRef = builder.objectRef<StoredTick>('HistoricalTick').implement({
    description: 'A recorded tick: the stored columns (best bid/ask and day OHLC flattened from depth and candles).',
    fields: (t) => ({
      id: t.exposeID('id'),
      instrumentKey: t.exposeString('instrumentKey'),
      exchangeTs: t.expose('exchangeTs', { type: 'Timestamp' }),
      receivedAt: t.expose('receivedAt', { type: 'Timestamp' }),
      mode: t.expose('mode', { type: FeedModeEnum }),
      ltp: t.exposeFloat('ltp', { nullable: true }),
      lastTradeTime: t.expose('lastTradeTime', { type: 'Timestamp', nullable: true }),
      ltq: t.expose('ltq', { type: 'SafeInt', nullable: true }),
      closePrice: t.exposeFloat('closePrice', { nullable: true }),
      volume: t.expose('volume', { type: 'SafeInt', nullable: true }),
      openInterest: t.exposeFloat('openInterest', { nullable: true }),
      averagePrice: t.exposeFloat('averagePrice', { nullable: true }),
      impliedVolatility: t.exposeFloat('impliedVolatility', { nullable: true }),
      totalBuyQty: t.exposeFloat('totalBuyQty', { nullable: true }),
      totalSellQty: t.exposeFloat('totalSellQty', { nullable: true }),
      bestBidPrice: t.exposeFloat('bestBidPrice', { nullable: true }),
      bestBidQty: t.expose('bestBidQty', { type: 'SafeInt', nullable: true }),
      bestAskPrice: t.exposeFloat('bestAskPrice', { nullable: true }),
      bestAskQty: t.expose('bestAskQty', { type: 'SafeInt', nullable: true }),
      dayOpen: t.exposeFloat('dayOpen', { nullable: true }),
      dayHigh: t.exposeFloat('dayHigh', { nullable: true }),
      dayLow: t.exposeFloat('dayLow', { nullable: true }),
      delta: t.exposeFloat('delta', { nullable: true }),
      theta: t.exposeFloat('theta', { nullable: true }),
      gamma: t.exposeFloat('gamma', { nullable: true }),
      vega: t.exposeFloat('vega', { nullable: true }),
      rho: t.exposeFloat('rho', { nullable: true }),
    }),
  });

  const TickEdgeRef = builder.objectRef<TickEdge>('TickEdge').implement({
    fields: (t) => ({
      cursor: t.exposeString('cursor'),
      node: t.field({ type: HistoricalTickRef, resolve: (edge) => edge.node }),
    }),
  });

  const PageInfoRef = builder.objectRef<PageInfo>('PageInfo').implement({
    fields: (t) => ({
      hasNextPage: t.exposeBoolean('hasNextPage'),
      hasPreviousPage: t.exposeBoolean('hasPreviousPage', {
        description: 'True when the page was requested with `after` (rows precede it).',
      }),
      startCursor: t.exposeString('startCursor', { nullable: true }),
      endCursor: t.exposeString('endCursor', { nullable: true }),
    }),
  });

  const TickConnectionRef = builder.objectRef<TickConnection>('TickConnection').implement({
    fields: (t) => ({
      edges: t.field({ type: [TickEdgeRef], resolve: (c) => c.edges }),
      pageInfo: t.field({ type: PageInfoRef, resolve: (c) => c.pageInfo }),
    }),
  });

  builder.queryField('ticks', (t) =>
    t.field({
      type: TickConnectionRef,
      description:
        'Recorded ticks of one instrument, paged by keyset (exchangeTs, id). `from` is inclusive, `to` exclusive.',
      args: {
        instrumentKey: t.arg.string({ required: true }),
        from: t.arg({ type: 'Timestamp' }),
        to: t.arg({ type: 'Timestamp' }),
        first: t.arg.int({ defaultValue: 100, description: 'Page size, 1 to the server limit (1,000 by default).' }),
        after: t.arg.string({ description: 'endCursor of the previous page.' }),
        order: t.arg({ type: TickOrderEnum, defaultValue: 'DESC' }),
      },
      resolve: async (_root, args, context) => {
        assertInstrumentKeys([args.instrumentKey]);
        const first = args.first ?? 100;
        const max = context.limits.maxPageSize;
        if (!Number.isInteger(first) || first < 1 || first > max) {
          throw userError(`first must be between 1 and ${max}; got ${first}`, ERROR_CODES.INVALID_ARGUMENT, {
            argument: 'first',
            max,
          });
        }
        const after = args.after == null ? undefined : decodeCursor(args.after);
        const rows = await context.services.store.history({
          instrumentKey: args.instrumentKey,
          ...(args.from == null ? {} : { from: args.from }),
          ...(args.to == null ? {} : { to: args.to }),
          order: args.order ?? 'DESC',
          limit: first + 1,
          ...(after ? { after } : {}),
        });
        const page = rows.slice(0, first);
        const edges = page.map((node) => ({ cursor: encodeCursor(node), node }));
        return {
          edges,
          pageInfo: {
            hasNextPage: rows.length > first,
            hasPreviousPage: after !== undefined,
            startCursor: edges[0]?.cursor ?? null,
            endCursor: edges.at(-1)?.cursor ?? null,
          },
        };
      },
    }),
  );
}
