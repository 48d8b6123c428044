import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TickChange } from '../../src/ticks/tick.js';
import { makeBatch, makeFullTick, makeTick } from '../support/bus-fixtures.js';
import { makeStoredTick } from '../support/gql-fakes.js';
import { type GqlTestServer, gql, sseSubscribe, startGqlServer, until } from '../support/gql-server.js';

const A = 'NSE_EQ|INE002A01018';
const B = 'NSE_FO|45450';
const IDX = 'NSE_INDEX|Nifty 50';

type Result = { instrumentKey: string; outcome: string; mode: string | null };
const SUBSCRIBE = `mutation ($keys: [String!]!, $mode: FeedMode) { subscribeInstruments(instrumentKeys: $keys, mode: $mode) { instrumentKey outcome mode } }`;
const UNSUBSCRIBE = `mutation ($keys: [String!]!) { unsubscribeInstruments(instrumentKeys: $keys) { instrumentKey outcome mode } }`;
const CHANGE_MODE = `mutation ($keys: [String!]!, $mode: FeedMode!) { changeMode(instrumentKeys: $keys, mode: $mode) { instrumentKey outcome mode } }`;

describe('GraphQL over HTTP and SSE', () => {
  let t: GqlTestServer;
  beforeAll(async () => {
    t = await startGqlServer();
  });
  afterAll(async () => {
    await t.stop();
  });

  describe('mutations', () => {
    it('subscribes, reports idempotent outcomes, changes modes and unsubscribes', async () => {
      const first = await gql<{ subscribeInstruments: Result[] }>(t.url, SUBSCRIBE, {
        keys: [A, IDX, A],
        mode: 'FULL',
      });
      expect(first.data!.subscribeInstruments).toEqual([
        { instrumentKey: A, outcome: 'SUBSCRIBED', mode: 'FULL' },
        { instrumentKey: IDX, outcome: 'SUBSCRIBED', mode: 'FULL' },
      ]);
      const again = await gql<{ subscribeInstruments: Result[] }>(t.url, SUBSCRIBE, { keys: [A], mode: 'FULL' });
      expect(again.data!.subscribeInstruments).toEqual([
        { instrumentKey: A, outcome: 'ALREADY_SUBSCRIBED', mode: 'FULL' },
      ]);
      const moved = await gql<{ subscribeInstruments: Result[] }>(t.url, SUBSCRIBE, { keys: [A] });
      expect(moved.data!.subscribeInstruments).toEqual([{ instrumentKey: A, outcome: 'MODE_CHANGED', mode: 'LTPC' }]);
      const changed = await gql<{ changeMode: Result[] }>(t.url, CHANGE_MODE, { keys: [A, B], mode: 'OPTION_GREEKS' });
      expect(changed.data!.changeMode).toEqual([
        { instrumentKey: A, outcome: 'MODE_CHANGED', mode: 'OPTION_GREEKS' },
        { instrumentKey: B, outcome: 'NOT_SUBSCRIBED', mode: null },
      ]);
      expect(t.feed.desired()).toEqual(
        new Map([
          [A, 'option_greeks'],
          [IDX, 'full'],
        ]),
      );
      expect(t.store.rows.get(A)?.mode).toBe('option_greeks');

      const listed = await gql<{ instrumentSubscriptions: Record<string, unknown>[] }>(
        t.url,
        '{ instrumentSubscriptions { instrumentKey mode active activeMode createdAt updatedAt } }',
      );
      expect(listed.data!.instrumentSubscriptions).toEqual([
        {
          instrumentKey: A,
          mode: 'OPTION_GREEKS',
          active: true,
          activeMode: 'OPTION_GREEKS',
          createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
          updatedAt: expect.any(String),
        },
        {
          instrumentKey: IDX,
          mode: 'FULL',
          active: true,
          activeMode: 'FULL',
          createdAt: expect.any(String),
          updatedAt: expect.any(String),
        },
      ]);

      const removed = await gql<{ unsubscribeInstruments: Result[] }>(t.url, UNSUBSCRIBE, { keys: [IDX, B] });
      expect(removed.data!.unsubscribeInstruments).toEqual([
        { instrumentKey: IDX, outcome: 'UNSUBSCRIBED', mode: null },
        { instrumentKey: B, outcome: 'NOT_SUBSCRIBED', mode: null },
      ]);
      expect([...t.store.rows.keys()]).toEqual([A]);
    });

    it('refuses the whole request on a malformed key, naming it, and changes nothing', async () => {
      const before = new Map(t.feed.desired());
      const res = await gql(t.url, SUBSCRIBE, { keys: [B, 'RELIANCE'], mode: 'LTPC' });
      expect(res.data).toBeNull();
      expect(res.errors![0]!.extensions).toMatchObject({ code: 'INVALID_INSTRUMENT_KEY', invalidKeys: ['RELIANCE'] });
      expect(res.errors![0]!.message).toContain('"RELIANCE"');
      expect(t.feed.desired()).toEqual(before);
      expect(t.store.rows.has(B)).toBe(false);
    });

    it('refuses an unknown segment with UNKNOWN_SEGMENT', async () => {
      const res = await gql(t.url, SUBSCRIBE, { keys: ['NYSE_EQ|IBM'] });
      expect(res.errors![0]!.extensions).toMatchObject({
        code: 'UNKNOWN_SEGMENT',
        unknownSegmentKeys: ['NYSE_EQ|IBM'],
      });
    });

    it('refuses a cap breach with CAP_EXCEEDED naming mode, limit and excess, persisting nothing', async () => {
      const keys = Array.from({ length: 2_001 }, (_, i) => `NSE_FO|${100_000 + i}`);
      const rowsBefore = t.store.rows.size;
      const res = await gql(t.url, SUBSCRIBE, { keys, mode: 'FULL' });
      // A is subscribed in OPTION_GREEKS, so the combined cap (1,500 for FULL) applies.
      expect(res.errors![0]!.extensions).toMatchObject({
        code: 'CAP_EXCEEDED',
        mode: 'full',
        cap: 'combined',
        limit: 1_500,
        requested: 2_001,
        excess: 501,
      });
      expect(t.store.rows.size).toBe(rowsBefore);
      expect(t.feed.desired().size).toBe(1);
    });

    it('refuses FULL_D30 without Upstox Plus with PLUS_REQUIRED', async () => {
      const res = await gql(t.url, SUBSCRIBE, { keys: [A], mode: 'FULL_D30' });
      expect(res.errors![0]!.extensions).toMatchObject({ code: 'PLUS_REQUIRED' });
    });

    it('refuses more keys than the per-mutation limit with TOO_MANY_INSTRUMENT_KEYS', async () => {
      const keys = Array.from({ length: 5_001 }, (_, i) => `NSE_FO|${i}`);
      const res = await gql(t.url, SUBSCRIBE, { keys });
      expect(res.errors![0]!.extensions).toMatchObject({
        code: 'TOO_MANY_INSTRUMENT_KEYS',
        limit: 5_000,
        requested: 5_001,
      });
    });
  });

  describe('queries', () => {
    it('serves every field a full-mode tick carries from the cache', async () => {
      const tick = makeTick(IDX, 24_000.5, {
        ...makeFullTick(IDX, 24_000.5),
        greeks: { delta: 0.5, theta: -1, gamma: 0.01, vega: 2, rho: 0.1 },
        openInterest: 12_345,
        impliedVolatility: 0.1334,
        auction: { iep: 1, rp: 2, ieq: 3, iiqTotal: 4, iiqM: 5, casEligible: true },
        volume: 5_000_000_000,
      });
      t.cache.set(tick);
      const res = await gql<{ latestTick: Record<string, unknown>; latestTicks: { instrumentKey: string }[] }>(
        t.url,
        `query ($k: String!, $ks: [String!]!) {
          latestTick(instrumentKey: $k) { instrumentKey mode isIndex exchangeTs receivedAt ltp lastTradeTime ltq closePrice iep
            depth { bidQty bidPrice askQty askPrice } candles { interval open high low close volume ts }
            greeks { delta theta gamma vega rho } averagePrice volume openInterest impliedVolatility totalBuyQty totalSellQty
            auction { iep rp ieq iiqTotal iiqM casEligible } }
          latestTicks(instrumentKeys: $ks) { instrumentKey }
        }`,
        { k: IDX, ks: [A, IDX] },
      );
      expect(res.errors).toBeUndefined();
      expect(res.data!.latestTick).toMatchObject({
        instrumentKey: IDX,
        mode: 'FULL',
        exchangeTs: tick.exchangeTs,
        ltp: 24_000.5,
        volume: 5_000_000_000,
        depth: tick.depth,
        candles: tick.candles,
        greeks: tick.greeks,
        auction: tick.auction,
        impliedVolatility: 0.1334,
      });
      expect(res.data!.latestTicks).toEqual([{ instrumentKey: IDX }]);
    });

    it('refuses more than 500 keys in one latestTicks query', async () => {
      const keys = Array.from({ length: 501 }, (_, i) => `NSE_EQ|X${i}`);
      const res = await gql(t.url, 'query ($ks: [String!]!) { latestTicks(instrumentKeys: $ks) { ltp } }', {
        ks: keys,
      });
      expect(res.errors![0]!.extensions).toMatchObject({ code: 'TOO_MANY_INSTRUMENT_KEYS', limit: 500 });
    });

    it('pages history with opaque cursors in both orders and refuses a forged cursor', async () => {
      for (let n = 1; n <= 5; n++) t.store.ticks.push(makeStoredTick(A, n));
      t.store.ticks.push(makeStoredTick(A, 6, t.store.ticks[4]!.exchangeTs)); // same exchangeTs: id breaks the tie
      const page = async (order: string, after?: string) => {
        const res = await gql<{
          ticks: {
            edges: { cursor: string; node: { id: string; ltp: number; volume: number } }[];
            pageInfo: { hasNextPage: boolean; endCursor: string | null };
          };
        }>(
          t.url,
          'query ($k: String!, $o: TickOrder, $a: String) { ticks(instrumentKey: $k, first: 4, order: $o, after: $a) { edges { cursor node { id ltp volume } } pageInfo { hasNextPage endCursor } } }',
          { k: A, o: order, a: after },
        );
        return res.data!.ticks;
      };
      const p1 = await page('NEWEST_FIRST');
      expect(p1.edges.map((e) => e.node.id)).toEqual(['6', '5', '4', '3']);
      expect(p1.edges[0]!.node.volume).toBe(3_000_000_006);
      expect(p1.pageInfo.hasNextPage).toBe(true);
      const p2 = await page('NEWEST_FIRST', p1.pageInfo.endCursor!);
      expect(p2.edges.map((e) => e.node.id)).toEqual(['2', '1']);
      expect(p2.pageInfo.hasNextPage).toBe(false);
      const asc = await page('OLDEST_FIRST');
      expect(asc.edges.map((e) => e.node.id)).toEqual(['1', '2', '3', '4']);

      const bounded = await gql<{ ticks: { edges: { node: { id: string } }[] } }>(
        t.url,
        'query ($k: String!, $f: Timestamp, $t: Timestamp) { ticks(instrumentKey: $k, from: $f, to: $t, order: OLDEST_FIRST) { edges { node { id } } } }',
        { k: A, f: t.store.ticks[1]!.exchangeTs, t: t.store.ticks[3]!.exchangeTs },
      );
      expect(bounded.data!.ticks.edges.map((e) => e.node.id)).toEqual(['2', '3']); // from inclusive, to exclusive

      const forged = await gql(
        t.url,
        '{ ticks(instrumentKey: "NSE_EQ|INE002A01018", after: "bm90LWEtY3Vyc29y") { edges { cursor } } }',
      );
      expect(forged.errors![0]!.extensions).toMatchObject({ code: 'INVALID_CURSOR' });
      const tooBig = await gql(
        t.url,
        'query ($n: Int) { ticks(instrumentKey: "NSE_EQ|INE002A01018", first: $n) { edges { cursor } } }',
        { n: 1_001 },
      );
      expect(tooBig.errors![0]!.extensions).toMatchObject({ code: 'INVALID_ARGUMENT', max: 1_000 });
    });

    it('reports feed status with drop and conflation counters', async () => {
      const res = await gql<{ feedStatus: Record<string, unknown> }>(
        t.url,
        '{ feedStatus { state source keysByMode { mode count } droppedTicks { reason count } conflatedUpdates liveSubscribers } }',
      );
      expect(res.data!.feedStatus).toMatchObject({
        state: 'CONNECTED',
        source: 'SIMULATOR',
        droppedTicks: [{ reason: 'recorder-queue-full', count: 3 }],
        conflatedUpdates: 0,
        liveSubscribers: 0,
      });
      expect(res.data!.feedStatus['keysByMode']).toContainEqual({ mode: 'OPTION_GREEKS', count: 1 });
    });
  });

  describe('errors', () => {
    it('masks an unexpected error for the client and logs it', async () => {
      const history = t.store.history;
      t.store.history = async () => {
        throw new Error('disk on fire at /var/lib/secret-path');
      };
      try {
        const res = await gql(t.url, `{ ticks(instrumentKey: "${A}") { edges { cursor } } }`);
        expect(res.errors![0]!.message).toBe('Unexpected error.');
        expect(res.errors![0]!.extensions).toMatchObject({ code: 'INTERNAL_SERVER_ERROR' });
        expect(JSON.stringify(res)).not.toContain('secret-path');
        expect(t.logs.some((line) => line.includes('disk on fire') && line.includes('masked'))).toBe(true);
      } finally {
        t.store.history = history;
      }
    });

    it('refuses a Timestamp that is not an integer, naming the scalar', async () => {
      const res = await gql(
        t.url,
        'query ($f: Timestamp) { ticks(instrumentKey: "NSE_EQ|X", from: $f) { edges { cursor } } }',
        { f: 'yesterday' },
      );
      expect(res.data ?? null).toBeNull();
      expect(res.errors![0]!.message).toContain('Timestamp');
    });
  });

  describe('document limits', () => {
    it('refuses a too-deep query with QUERY_TOO_DEEP', async () => {
      const query = '{ ticks(instrumentKey: "NSE_EQ|X") { edges { node { id } } pageInfo { endCursor } } }';
      const ok = await gql(t.url, query);
      expect(ok.errors).toBeUndefined();
      const t2 = await startGqlServer({ limits: { maxDepth: 2 } });
      try {
        const res = await gql(t2.url, query);
        expect(res.errors![0]!.extensions).toMatchObject({ code: 'QUERY_TOO_DEEP', limit: 2 });
      } finally {
        await t2.stop();
      }
    });

    it('refuses a too-costly query with QUERY_TOO_COSTLY while one full history page passes', async () => {
      const fields =
        'id exchangeTs receivedAt mode ltp lastTradeTime ltq closePrice volume openInterest averagePrice impliedVolatility totalBuyQty totalSellQty bestBidPrice bestBidQty bestAskPrice bestAskQty dayOpen dayHigh dayLow delta theta gamma vega rho instrumentKey';
      const page = (alias: string) =>
        `${alias}: ticks(instrumentKey: "${A}", first: 1000) { edges { cursor node { ${fields} } } }`;
      const one = await gql(t.url, `{ ${page('a')} }`);
      expect(one.errors).toBeUndefined();
      const two = await gql(t.url, `{ ${page('a')} ${page('b')} }`);
      expect(two.errors![0]!.extensions).toMatchObject({ code: 'QUERY_TOO_COSTLY', limit: 150_000 });
    });

    it('refuses too many aliases with TOO_MANY_ALIASES', async () => {
      const aliases = Array.from({ length: 16 }, (_, i) => `a${i}: feedStatus { state }`).join(' ');
      const res = await gql(t.url, `{ ${aliases} }`);
      expect(res.errors![0]!.extensions).toMatchObject({ code: 'TOO_MANY_ALIASES', limit: 15 });
    });

    it('refuses a document with too many tokens with TOO_MANY_TOKENS', async () => {
      const keys = Array.from({ length: 2_100 }, (_, i) => `"NSE_EQ|K${i}"`).join(' ');
      const res = await gql(t.url, `{ latestTicks(instrumentKeys: [${keys}]) { ltp } }`);
      expect(res.errors![0]!.extensions).toMatchObject({ code: 'TOO_MANY_TOKENS', limit: 2_000 });
    });
  });

  describe('SSE', () => {
    it('streams the snapshot, then live batches, and frees the bus subscription when the client aborts', async () => {
      t.cache.set(makeTick(A, 10));
      const sub = sseSubscribe<{ ticks: { updates: { snapshot: boolean; tick: { ltp: number } }[] } }>(
        t.url,
        'subscription ($ks: [String!]!) { ticks(instrumentKeys: $ks) { updates { snapshot tick { ltp } } } }',
        { ks: [A] },
      );
      const [first] = await sub.waitFor((e) => e.length >= 1, 'snapshot');
      expect(first!.data!.ticks.updates).toEqual([{ snapshot: true, tick: { ltp: 10 } }]);
      await until(() => t.bus.stats().subscribers === 1, 'bus subscriber');
      t.bus.publish(makeBatch({ tick: makeTick(A, 11), changed: TickChange.LTPC, snapshot: false }));
      const events = await sub.waitFor((e) => e.length >= 2, 'live event');
      expect(events[1]!.data!.ticks.updates).toEqual([{ snapshot: false, tick: { ltp: 11 } }]);
      sub.dispose();
      await until(() => t.bus.stats().subscribers === 0, 'bus subscription freed after SSE abort');
    });

    it('sends feedStatus and marketStatus now and on feed events', async () => {
      const market = sseSubscribe<{ marketStatus: { segment: string; status: string | null }[] }>(
        t.url,
        'subscription { marketStatus { segment status } }',
      );
      await market.waitFor((e) => e.length >= 1, 'initial market status');
      await until(() => t.feed.listenerCount('marketInfo') === 1, 'marketInfo listener');
      t.feed.emitMarketInfo([
        {
          segment: 'NSE_EQ',
          status: 'NORMAL_OPEN',
          casStatus: null,
          casUpdatedAt: null,
          preOpenStatus: null,
          preOpenUpdatedAt: null,
        },
      ]);
      const events = await market.waitFor((e) => e.length >= 2, 'market change');
      expect(events[1]!.data!.marketStatus).toEqual([{ segment: 'NSE_EQ', status: 'NORMAL_OPEN' }]);
      market.dispose();
      await until(() => t.feed.listenerCount('marketInfo') === 0, 'marketInfo listener removed');

      const status = sseSubscribe<{ feedStatus: { state: string } }>(t.url, 'subscription { feedStatus { state } }');
      const [initial] = await status.waitFor((e) => e.length >= 1, 'initial status');
      expect(initial!.data!.feedStatus.state).toBe('CONNECTED');
      status.dispose();
      await until(() => t.feed.listenerCount('status') === 0, 'status listener removed');
    });
  });
});
