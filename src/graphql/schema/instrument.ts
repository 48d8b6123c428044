/** The desired instrument-subscription set: list (query) and change (admin mutations). */
import type { InstrumentSubscriptionView, SubscriptionResult } from '../../instruments/instrument-service.js';
import type { Builder } from '../builder.js';
import { checkKeyCount, toGraphQLError } from '../errors.js';
import type { CommonRefs } from './common.js';

export function registerInstrument(builder: Builder, { FeedModeEnum }: CommonRefs) {
  const OutcomeEnum = builder.enumType('SubscriptionOutcome', {
    values: ['SUBSCRIBED', 'ALREADY_SUBSCRIBED', 'MODE_CHANGED', 'UNSUBSCRIBED', 'NOT_SUBSCRIBED'] as const,
  });

  const InstrumentSubscriptionRef = builder.objectRef<InstrumentSubscriptionView>('InstrumentSubscription').implement({
    description: 'One instrument of the desired set.',
    fields: (t) => ({
      instrumentKey: t.exposeString('instrumentKey'),
      mode: t.expose('mode', { type: FeedModeEnum, description: 'The desired mode.' }),
      active: t.boolean({
        description: 'Sent on the current feed connection in the desired mode.',
        resolve: (s) => s.activeMode === s.mode,
      }),
      activeMode: t.expose('activeMode', {
        type: FeedModeEnum,
        nullable: true,
        description: 'The mode sent on the current connection; null when not sent (yet) or disconnected.',
      }),
      createdAt: t.expose('createdAt', { type: 'DateTime', nullable: true }),
      updatedAt: t.expose('updatedAt', { type: 'DateTime', nullable: true }),
    }),
  });

  const ResultRef = builder.objectRef<SubscriptionResult>('SubscriptionResult').implement({
    fields: (t) => ({
      instrumentKey: t.exposeString('instrumentKey'),
      outcome: t.expose('outcome', { type: OutcomeEnum }),
      mode: t.expose('mode', { type: FeedModeEnum, nullable: true, description: 'Mode after the request.' }),
    }),
  });

  builder.queryField('instrumentSubscriptions', (t) =>
    t.field({
      type: [InstrumentSubscriptionRef],
      description: 'The desired subscription set, sorted by instrument key.',
      resolve: (_root, _args, context) => context.services.instruments.list(),
    }),
  );

  const run = async (task: () => Promise<SubscriptionResult[]>) => {
    try {
      return await task();
    } catch (error) {
      throw toGraphQLError(error);
    }
  };

  builder.mutationFields((t) => ({
    subscribeInstruments: t.field({
      type: [ResultRef],
      description:
        'Adds keys to the desired set in `mode` (keys already subscribed move to `mode`). Refused whole on any' +
        ' invalid key (INVALID_INSTRUMENT_KEY, UNKNOWN_SEGMENT) or Upstox cap breach (CAP_EXCEEDED).',
      args: {
        instrumentKeys: t.arg.stringList({ required: true }),
        mode: t.arg({ type: FeedModeEnum, defaultValue: 'ltpc' }),
      },
      resolve: (_root, { instrumentKeys, mode }, context) => {
        checkKeyCount(instrumentKeys, context.limits.maxKeysPerMutation);
        return run(() => context.services.instruments.subscribe(instrumentKeys, mode ?? 'ltpc'));
      },
    }),
    unsubscribeInstruments: t.field({
      type: [ResultRef],
      description: 'Removes keys from the desired set.',
      args: { instrumentKeys: t.arg.stringList({ required: true }) },
      resolve: (_root, { instrumentKeys }, context) => {
        checkKeyCount(instrumentKeys, context.limits.maxKeysPerMutation);
        return run(() => context.services.instruments.unsubscribe(instrumentKeys));
      },
    }),
    changeMode: t.field({
      type: [ResultRef],
      description: 'Changes the mode of subscribed keys; keys not subscribed come back NOT_SUBSCRIBED.',
      args: {
        instrumentKeys: t.arg.stringList({ required: true }),
        mode: t.arg({ type: FeedModeEnum, required: true }),
      },
      resolve: (_root, { instrumentKeys, mode }, context) => {
        checkKeyCount(instrumentKeys, context.limits.maxKeysPerMutation);
        return run(() => context.services.instruments.changeMode(instrumentKeys, mode));
      },
    }),
  }));
}
