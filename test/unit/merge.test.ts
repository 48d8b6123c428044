import { beforeEach, describe, expect, it } from 'vitest';
import { createLatestCache, type LatestCache } from '../../src/ticks/latest-cache.js';
import { changeNames, type TickUpdate } from '../../src/ticks/tick.js';
import { createDecoder, type Decoder } from '../../src/upstox/decoder.js';
import { encodeFeedResponse } from '../../src/upstox/proto.js';
import { fullFeedObject } from '../support/feed-frames.js';

const KEY = 'NSE_EQ|INE002A01018';
const SNAPSHOT = 0;
const LIVE = 1;

let cache: LatestCache;
let decoder: Decoder;
const send = (type: number, feed: object, key = KEY): TickUpdate => {
  const result = decoder.decode(encodeFeedResponse({ type, currentTs: 1_000 + type, feeds: { [key]: feed } }), 5);
  if (result.kind !== 'ticks') throw new Error('expected ticks');
  const [update] = result.batch.updates;
  if (!update) throw new Error('no update');
  return update;
};
const marketFF = (body: object) => ({ fullFeed: { marketFF: body }, requestMode: 1 });

describe('merging partial live updates', () => {
  beforeEach(() => {
    cache = createLatestCache();
    decoder = createDecoder({ cache });
  });

  it('keeps depth, candles and stats when a live frame carries only LTPC', () => {
    const first = send(SNAPSHOT, fullFeedObject(0));
    const next = send(LIVE, marketFF({ ltpc: { ltp: 101.5, ltt: 9, ltq: 3, cp: 99.5 } }));
    expect(changeNames(next.changed)).toEqual(['LTPC']);
    expect(next.tick.ltp).toBe(101.5);
    expect(next.tick.depth).toBe(first.tick.depth); // shared, not copied
    expect(next.tick.candles).toBe(first.tick.candles);
    expect(next.tick.averagePrice).toBe(first.tick.averagePrice);
    expect(next.tick.volume).toBe(first.tick.volume);
  });

  it('keeps the LTPC when a live frame carries only depth', () => {
    const first = send(SNAPSHOT, fullFeedObject(0));
    const next = send(LIVE, marketFF({ marketLevel: { bidAskQuote: [{ bidQ: 1, bidP: 2, askQ: 3, askP: 4 }] } }));
    expect(changeNames(next.changed)).toEqual(['DEPTH']);
    expect(next.tick.depth).toEqual([{ bidQty: 1, bidPrice: 2, askQty: 3, askPrice: 4 }]);
    expect(next.tick.ltp).toBe(first.tick.ltp);
    expect(next.tick.lastTradeTime).toBe(first.tick.lastTradeTime);
    expect(next.tick.totalBuyQty).toBe(first.tick.totalBuyQty);
  });

  it('merges a scalar-only stats update field by field, keeping the absent ones', () => {
    send(SNAPSHOT, fullFeedObject(0));
    const next = send(LIVE, marketFF({ vtt: 999_999 }));
    expect(changeNames(next.changed)).toEqual(['STATS']);
    expect(next.tick.volume).toBe(999_999);
    expect(next.tick.totalBuyQty).toBe(50_000);
    expect(next.tick.averagePrice).toBeCloseTo(99.7);
  });

  it('replaces candles by interval and keeps the intervals a frame did not carry', () => {
    const first = send(SNAPSHOT, fullFeedObject(0));
    const next = send(
      LIVE,
      marketFF({
        marketOHLC: { ohlc: [{ interval: 'I1', open: 1, high: 2, low: 0.5, close: 1.5, vol: 10, ts: 60_000 }] },
      }),
    );
    expect(next.tick.candles?.map((c) => c.interval)).toEqual(['1d', 'I1']);
    expect(next.tick.candles?.[0]).toBe(first.tick.candles?.[0]);
    expect(next.tick.candles?.[1]).toEqual({
      interval: 'I1',
      open: 1,
      high: 2,
      low: 0.5,
      close: 1.5,
      volume: 10,
      ts: 60_000,
    });
  });

  it('reuses unchanged depth levels, candles and greeks and replaces only what differs', () => {
    const first = send(SNAPSHOT, {
      fullFeed: {
        marketFF: {
          ...(fullFeedObject(0) as { fullFeed: { marketFF: object } }).fullFeed.marketFF,
          optionGreeks: { delta: 0.5 },
        },
      },
      requestMode: 1,
    });
    const levels = first.tick.depth!.map((l) => ({
      bidQ: l.bidQty,
      bidP: l.bidPrice,
      askQ: l.askQty,
      askP: l.askPrice,
    }));
    levels[0] = { ...levels[0]!, bidQ: 1 };
    const ohlc = first.tick.candles!.map((c) => ({ ...c, vol: c.volume }));
    const next = send(
      LIVE,
      marketFF({ marketLevel: { bidAskQuote: levels }, marketOHLC: { ohlc }, optionGreeks: { delta: 0.5 } }),
    );
    expect(changeNames(next.changed)).toEqual(['DEPTH', 'CANDLES', 'GREEKS']);
    expect(next.tick.depth).not.toBe(first.tick.depth);
    expect(next.tick.depth?.[0]).toEqual({ ...first.tick.depth![0], bidQty: 1 });
    for (let i = 1; i < 5; i++) expect(next.tick.depth?.[i]).toBe(first.tick.depth?.[i]);
    expect(next.tick.candles).toBe(first.tick.candles);
    expect(next.tick.greeks).toBe(first.tick.greeks);
  });

  it('never mutates a tick it handed out', () => {
    const first = send(SNAPSHOT, fullFeedObject(0));
    const frozen = structuredClone(first.tick);
    send(LIVE, marketFF({ ltpc: { ltp: 1 }, vtt: 5, marketLevel: { bidAskQuote: [] } }));
    expect(first.tick).toEqual(frozen);
    expect(cache.get(KEY)).not.toBe(first.tick);
  });

  it('rebuilds from scratch on a snapshot, dropping parts the snapshot does not carry', () => {
    send(SNAPSHOT, fullFeedObject(0));
    const again = send(SNAPSHOT, marketFF({ ltpc: { ltp: 7 } }));
    expect(again.snapshot).toBe(true);
    expect(again.tick.ltp).toBe(7);
    expect(again.tick.depth).toBeNull();
    expect(again.tick.candles).toBeNull();
    expect(again.tick.volume).toBe(0); // full mode: stats present, zero on a fresh tick
  });

  it('resets mode-specific parts and flags MODE when the instrument changes mode', () => {
    send(SNAPSHOT, fullFeedObject(0));
    const next = send(LIVE, { ltpc: { ltp: 55, ltt: 1, ltq: 1, cp: 50 } });
    expect(next.tick.mode).toBe('ltpc');
    expect(changeNames(next.changed)).toEqual(['LTPC', 'MODE']);
    expect(next.tick.depth).toBeNull();
    expect(next.tick.averagePrice).toBeNull();
  });

  it('infers full_d30 for a live fullFeed without requestMode when the instrument was full_d30', () => {
    send(SNAPSHOT, fullFeedObject(0, 30));
    const next = send(LIVE, { fullFeed: { marketFF: { ltpc: { ltp: 3 } } } });
    expect(next.tick.mode).toBe('full_d30');
    expect(next.tick.depth).toHaveLength(30);
  });

  it('sets greeks when an option reports them and reports the change once they vanish to all-zero', () => {
    send(
      SNAPSHOT,
      marketFF({ ltpc: { ltp: 1 }, optionGreeks: { delta: 0.5, theta: -1, gamma: 0.01, vega: 2, rho: 0.1 } }),
    );
    expect(cache.get(KEY)?.greeks).toEqual({ delta: 0.5, theta: -1, gamma: 0.01, vega: 2, rho: 0.1 });
    const next = send(LIVE, marketFF({ optionGreeks: {} }));
    expect(changeNames(next.changed)).toEqual(['GREEKS']);
    expect(next.tick.greeks).toBeNull();
  });

  it('takes LTPC.iep from the wrapper and clears it when a later LTPC lacks it', () => {
    const during = send(SNAPSHOT, marketFF({ ltpc: { ltp: 1, iep: { value: 99.5 } } }));
    expect(during.tick.iep).toBe(99.5);
    const after = send(LIVE, marketFF({ ltpc: { ltp: 2 } }));
    expect(after.tick.iep).toBeNull();
  });

  it('merges CAS fields into the auction info and flags AUCTION', () => {
    send(SNAPSHOT, marketFF({ ltpc: { ltp: 1 }, iep: 10, ieq: 100, casEligible: true }));
    expect(cache.get(KEY)?.auction).toEqual({ iep: 10, rp: 0, ieq: 100, iiqTotal: 0, iiqM: 0, casEligible: true });
    const next = send(LIVE, marketFF({ iiqTotal: 7 }));
    expect(changeNames(next.changed)).toEqual(['AUCTION']);
    expect(next.tick.auction).toEqual({ iep: 10, rp: 0, ieq: 100, iiqTotal: 7, iiqM: 0, casEligible: true });
  });

  it('merges option_greeks partials: a greeks-only frame keeps the first depth level and LTPC', () => {
    const first = send(SNAPSHOT, {
      firstLevelWithGreeks: {
        ltpc: { ltp: 225.7 },
        firstDepth: { bidQ: 75, bidP: 225.4, askQ: 150, askP: 225.7 },
        optionGreeks: { delta: 0.5 },
        vtt: 10,
        oi: 20,
        iv: 0.1,
      },
      requestMode: 2,
    });
    const next = send(LIVE, { firstLevelWithGreeks: { optionGreeks: { delta: 0.6 }, oi: 21 }, requestMode: 2 });
    expect(changeNames(next.changed)).toEqual(['GREEKS', 'STATS']);
    expect(next.tick.depth).toBe(first.tick.depth);
    expect(next.tick.ltp).toBe(225.7);
    expect(next.tick).toMatchObject({ volume: 10, openInterest: 21, impliedVolatility: 0.1 });
    expect(next.tick.greeks?.delta).toBe(0.6);
  });

  it('keeps every tick the same shape (all fields present, absent ones null)', () => {
    const a = send(SNAPSHOT, { ltpc: { ltp: 1 } }, 'NSE_EQ|A');
    const b = send(SNAPSHOT, fullFeedObject(1), 'NSE_EQ|B');
    expect(Object.keys(a.tick)).toEqual(Object.keys(b.tick));
    expect(Object.values(a.tick)).not.toContain(undefined);
  });
});
