/** Feed health: status query, throttled status subscription, market (segment) status subscription. */
import type { FeedStatus, SegmentStatus } from '../../upstox/feed-client.js';
import { FEED_MODES, type FeedMode, MARKET_STATUSES } from '../../upstox/protocol.js';
import type { Builder } from '../builder.js';
import type { GraphQLContext } from '../context.js';
import { latestValueStream } from '../streams.js';
import type { CommonRefs } from './common.js';

/** FeedStatus plus the counters other components own, as the GraphQL type serves it. */
interface FeedStatusView extends FeedStatus {
  readonly droppedTicks: readonly { reason: string; count: number }[];
  readonly conflatedUpdates: number;
  readonly liveSubscribers: number;
}

function statusView(context: GraphQLContext, status: FeedStatus = context.services.feed.status()): FeedStatusView {
  const dropped: Record<string, number> = {};
  for (const handler of context.services.pipeline?.stats() ?? []) {
    dropped[`handler-queue-full:${handler.name}`] = handler.droppedTicks;
  }
  Object.assign(dropped, context.services.stats?.().dropped);
  const bus = context.services.bus.stats();
  return {
    ...status,
    droppedTicks: Object.entries(dropped)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([reason, count]) => ({ reason, count })),
    conflatedUpdates: bus.conflated,
    liveSubscribers: bus.subscribers,
  };
}

const modeCounts = (byMode: Readonly<Record<FeedMode, number>>) =>
  FEED_MODES.map((mode) => ({ mode, count: byMode[mode] ?? 0 }));

export function registerFeedStatus(builder: Builder, { FeedModeEnum }: CommonRefs) {
  const FeedStateEnum = builder.enumType('FeedState', {
    values: ['CONNECTING', 'CONNECTED', 'RECONNECTING', 'UNAUTHORIZED', 'STOPPED'] as const,
  });
  const FeedSourceEnum = builder.enumType('FeedSource', { values: ['UPSTOX', 'SIMULATOR', 'REPLAY'] as const });
  const MarketStatusEnum = builder.enumType('MarketStatus', { values: MARKET_STATUSES });

  const SegmentStatusRef = builder.objectRef<SegmentStatus>('SegmentStatus').implement({
    description: "One segment's market status from the feed's market_info, with call-auction and pre-open states.",
    fields: (t) => ({
      segment: t.exposeString('segment'),
      status: t.expose('status', { type: MarketStatusEnum, nullable: true }),
      casStatus: t.exposeString('casStatus', { nullable: true }),
      casUpdatedAt: t.expose('casUpdatedAt', { type: 'Timestamp', nullable: true }),
      preOpenStatus: t.exposeString('preOpenStatus', { nullable: true }),
      preOpenUpdatedAt: t.expose('preOpenUpdatedAt', { type: 'Timestamp', nullable: true }),
    }),
  });

  const ModeCountRef = builder.objectRef<{ mode: FeedMode; count: number }>('ModeCount').implement({
    fields: (t) => ({
      mode: t.expose('mode', { type: FeedModeEnum }),
      count: t.exposeInt('count'),
    }),
  });

  const DropCountRef = builder.objectRef<{ reason: string; count: number }>('DropCount').implement({
    fields: (t) => ({
      reason: t.exposeString('reason'),
      count: t.expose('count', { type: 'SafeInt' }),
    }),
  });

  const FeedStatusRef = builder.objectRef<FeedStatusView>('FeedStatus').implement({
    description: 'The upstream feed connection and the counters of everything dropped or merged on the way.',
    fields: (t) => ({
      state: t.expose('state', { type: FeedStateEnum }),
      source: t.expose('source', { type: FeedSourceEnum }),
      connectedSince: t.expose('connectedSince', { type: 'Timestamp', nullable: true }),
      reconnects: t.expose('reconnects', { type: 'SafeInt', description: 'Connections opened after the first.' }),
      lastFrameAt: t.expose('lastFrameAt', { type: 'Timestamp', nullable: true }),
      lastError: t.exposeString('lastError', { nullable: true, description: 'Secrets redacted.' }),
      framesDecoded: t.expose('framesDecoded', { type: 'SafeInt' }),
      ticksDecoded: t.expose('ticksDecoded', { type: 'SafeInt' }),
      decodeErrors: t.expose('decodeErrors', { type: 'SafeInt' }),
      framesPerSecond: t.exposeFloat('framesPerSecond'),
      ticksPerSecond: t.exposeFloat('ticksPerSecond'),
      keysByMode: t.field({
        type: [ModeCountRef],
        description: 'Desired keys per mode.',
        resolve: (s) => modeCounts(s.keysByMode),
      }),
      activeKeysByMode: t.field({
        type: [ModeCountRef],
        description: 'Keys per mode sent on the current connection.',
        resolve: (s) => modeCounts(s.activeKeysByMode),
      }),
      segments: t.field({ type: [SegmentStatusRef], resolve: (s) => s.segments as SegmentStatus[] }),
      droppedTicks: t.field({
        type: [DropCountRef],
        description: 'Ticks dropped since start, by reason.',
        resolve: (s) => s.droppedTicks as { reason: string; count: number }[],
      }),
      conflatedUpdates: t.expose('conflatedUpdates', {
        type: 'SafeInt',
        description: 'Live updates merged into a newer one for slow subscribers, since start.',
      }),
      liveSubscribers: t.exposeInt('liveSubscribers', { description: 'Open live tick subscriptions.' }),
    }),
  });

  builder.queryField('feedStatus', (t) =>
    t.field({ type: FeedStatusRef, resolve: (_root, _args, context) => statusView(context) }),
  );

  builder.subscriptionFields((t) => ({
    feedStatus: t.field({
      type: FeedStatusRef,
      description: 'The current status, then on every change, at most once per throttle interval (the latest).',
      subscribe: (_root, _args, context) =>
        latestValueStream<FeedStatus>({
          initial: context.services.feed.status(),
          throttleMs: context.limits.feedStatusThrottleMs,
          listen: (push) => context.services.feed.on('status', push),
        }),
      resolve: (status, _args, context) => statusView(context, status),
    }),
    marketStatus: t.field({
      type: [SegmentStatusRef],
      description: 'Segment statuses now, then each time the feed reports a change (market_info).',
      subscribe: (_root, _args, context) =>
        latestValueStream<readonly SegmentStatus[]>({
          initial: context.services.feed.status().segments,
          listen: (push) => context.services.feed.on('marketInfo', push),
        }),
      resolve: (segments) => segments as SegmentStatus[],
    }),
  }));
}
