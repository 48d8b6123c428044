/** Enums several domains share: the feed mode and the parts of a tick an update can change. */
import { TickChange } from '../../ticks/tick.js';
import type { Builder } from '../builder.js';

export function registerCommon(builder: Builder) {
  const FeedModeEnum = builder.enumType('FeedMode', {
    description: 'Upstox subscription modes.',
    values: {
      LTPC: { value: 'ltpc', description: 'Last traded price, time, quantity and previous close.' },
      OPTION_GREEKS: { value: 'option_greeks', description: 'LTPC, best bid/ask, greeks, IV, OI, volume.' },
      FULL: { value: 'full', description: 'LTPC, 5 depth levels, candles, ATP, volume, OI, IV, totals, auction.' },
      FULL_D30: { value: 'full_d30', description: 'FULL with 30 depth levels (Upstox Plus, 50 keys).' },
    } as const,
  });

  const TickChangeEnum = builder.enumType('TickChange', {
    description: 'Which parts of a tick an update touched.',
    values: Object.fromEntries(Object.keys(TickChange).map((name) => [name, { value: name }])) as {
      [K in keyof typeof TickChange]: { value: K };
    },
  });

  return { FeedModeEnum, TickChangeEnum };
}

export type CommonRefs = ReturnType<typeof registerCommon>;
