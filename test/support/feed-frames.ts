/**
 * Plain-object FeedResponse builders (proto field names) for tests and measurements; encode them with
 * encodeFeedResponse from src/upstox/proto.ts. Values are deterministic functions of the key index.
 */

export function fullFeedObject(i: number, levels = 5): object {
  const ltp = 100 + i / 100;
  return {
    fullFeed: {
      marketFF: {
        ltpc: { ltp, ltt: 1_740_729_552_000 + i, ltq: 10 + (i % 90), cp: 99.5 },
        marketLevel: {
          bidAskQuote: Array.from({ length: levels }, (_, l) => ({
            bidQ: 100 + l,
            bidP: ltp - 0.05 * (l + 1),
            askQ: 200 + l,
            askP: ltp + 0.05 * (l + 1),
          })),
        },
        optionGreeks: {},
        marketOHLC: {
          ohlc: [
            { interval: '1d', open: 99, high: ltp + 1, low: 98, close: ltp, vol: 123_456 + i, ts: 1_740_700_000_000 },
            { interval: 'I1', open: ltp, high: ltp, low: ltp, close: ltp, vol: 1_000, ts: 1_740_729_500_000 },
          ],
        },
        atp: ltp - 0.3,
        vtt: 123_456 + i,
        tbq: 50_000,
        tsq: 60_000,
      },
    },
    requestMode: levels === 30 ? 3 : 1,
  };
}

export function ltpcFeedObject(i: number): object {
  return { ltpc: { ltp: 200 + i / 100, ltt: 1_740_729_552_000 + i, ltq: 1 + (i % 50), cp: 199 } };
}

export function feedsFrame(
  keys: readonly string[],
  feed: (i: number) => object,
  type = 1,
  currentTs = 1_740_729_553_000,
) {
  const feeds: Record<string, object> = {};
  keys.forEach((key, i) => {
    feeds[key] = feed(i);
  });
  return { type, feeds, currentTs };
}

export function equityKeys(count: number, segment = 'NSE_EQ'): string[] {
  return Array.from({ length: count }, (_, i) => `${segment}|INE${String(i).padStart(6, '0')}A01`);
}
