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

/** Deterministic PRNG (LCG) for generated frames. */
export function createRandom(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

/**
 * A random FeedResponse object exercising every branch: random presence of each sub-message and scalar,
 * zeros, mode changes, indices, CAS fields, empty greeks, unknown request modes. For differential tests.
 */
export function randomFrame(random: () => number, keys: readonly string[], type: number): object {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const maybe = (p = 0.5) => random() < p;
  const num = () => (maybe(0.15) ? 0 : Math.round(random() * 100_000) / 100);
  const int = () => (maybe(0.15) ? 0 : Math.floor(random() * 2 ** 40));
  const ltpc = () => {
    const o: Record<string, unknown> = {};
    if (maybe(0.9)) o.ltp = num();
    if (maybe()) o.ltt = int();
    if (maybe()) o.ltq = int();
    if (maybe()) o.cp = num();
    if (maybe(0.2)) o.iep = maybe(0.8) ? { value: num() } : {};
    return o;
  };
  const quote = () => ({ bidQ: int(), bidP: num(), askQ: int(), askP: num() });
  const greeks = () =>
    maybe(0.3) ? {} : { delta: num(), theta: -num() || 0, gamma: num(), vega: num(), rho: maybe() ? 0 : num() };
  const ohlc = () => ({
    ohlc: Array.from({ length: Math.floor(random() * 3) }, () => ({
      interval: pick(['1d', 'I1', 'I30']),
      open: num(),
      high: num(),
      low: num(),
      close: num(),
      vol: int(),
      ts: int(),
    })),
  });
  const feeds: Record<string, object> = {};
  for (const key of keys) {
    if (!maybe(0.7)) continue;
    const branch = Math.floor(random() * 5);
    const feed: Record<string, unknown> = {};
    if (branch === 0) feed.ltpc = ltpc();
    else if (branch === 1 || branch === 2) {
      const ff: Record<string, unknown> = {};
      if (maybe(0.7)) ff.ltpc = ltpc();
      if (maybe(0.6)) {
        ff.marketLevel = { bidAskQuote: Array.from({ length: pick([0, 1, 5, 30]) }, quote) };
      }
      if (maybe(0.5)) ff.optionGreeks = greeks();
      if (maybe(0.5)) ff.marketOHLC = ohlc();
      for (const f of ['atp', 'oi', 'iv', 'tbq', 'tsq', 'iep', 'rp']) if (maybe(0.3)) ff[f] = num();
      for (const f of ['vtt', 'ieq', 'iiqTotal', 'iiqM']) if (maybe(0.3)) ff[f] = int();
      if (maybe(0.2)) ff.casEligible = maybe();
      feed.fullFeed = { marketFF: ff };
    } else if (branch === 3) {
      const ix: Record<string, unknown> = {};
      if (maybe(0.8)) ix.ltpc = ltpc();
      if (maybe(0.6)) ix.marketOHLC = ohlc();
      feed.fullFeed = maybe(0.95) ? { indexFF: ix } : {};
    } else {
      const g: Record<string, unknown> = {};
      if (maybe(0.7)) g.ltpc = ltpc();
      if (maybe(0.5)) g.firstDepth = quote();
      if (maybe(0.5)) g.optionGreeks = greeks();
      if (maybe(0.4)) g.vtt = int();
      if (maybe(0.4)) g.oi = num();
      if (maybe(0.4)) g.iv = num();
      feed.firstLevelWithGreeks = g;
    }
    if (maybe(0.8)) feed.requestMode = pick([0, 1, 2, 3, 1, 3, 7]);
    feeds[key] = feed;
  }
  return { type, feeds, currentTs: maybe(0.9) ? int() : 0 };
}
