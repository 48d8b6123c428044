/**
 * Golden frames: protobuf bytes written by hand from the field tables in shared/upstox-feed-v3.md §3
 * (field numbers and wire types spelled out here), decoded through proto/MarketDataFeedV3.proto.
 * A renumbered or retyped field in the .proto makes these fail.
 */
import { describe, expect, it } from 'vitest';
import { createLatestCache } from '../../src/ticks/latest-cache.js';
import { TickChange } from '../../src/ticks/tick.js';
import { createDecoder } from '../../src/upstox/decoder.js';
import { decodeFeedResponse, encodeFeedResponse } from '../../src/upstox/proto.js';
import { dbl, frame, mapEntry, mapMsg, msg, str, vint } from '../support/feed-wire.js';

// FeedResponse: type=1 (enum), feeds=2 (map<string, Feed>), currentTs=3 (int64), marketInfo=4
// Feed: ltpc=1, fullFeed=2, firstLevelWithGreeks=3 (oneof), requestMode=4 (enum)
// LTPC: ltp=1 double, ltt=2 int64, ltq=3 int64, cp=4 double, iep=5 DoubleValue{value=1 double}
const F = {
  resp: { type: 1, feeds: 2, currentTs: 3, marketInfo: 4 },
  feed: { ltpc: 1, fullFeed: 2, firstLevelWithGreeks: 3, requestMode: 4 },
  ltpc: { ltp: 1, ltt: 2, ltq: 3, cp: 4, iep: 5 },
  fullFeed: { marketFF: 1, indexFF: 2 },
  marketFF: {
    ltpc: 1,
    marketLevel: 2,
    optionGreeks: 3,
    marketOHLC: 4,
    atp: 5,
    vtt: 6,
    oi: 7,
    iv: 8,
    tbq: 9,
    tsq: 10,
    iep: 11,
    rp: 12,
    ieq: 13,
    iiqTotal: 14,
    iiqM: 15,
    casEligible: 16,
  },
  indexFF: { ltpc: 1, marketOHLC: 2 },
  flwg: { ltpc: 1, firstDepth: 2, optionGreeks: 3, vtt: 4, oi: 5, iv: 6 },
  marketLevel: { bidAskQuote: 1 },
  quote: { bidQ: 1, bidP: 2, askQ: 3, askP: 4 },
  greeks: { delta: 1, theta: 2, gamma: 3, vega: 4, rho: 5 },
  marketOHLC: { ohlc: 1 },
  ohlc: { interval: 1, open: 2, high: 3, low: 4, close: 5, vol: 6, ts: 7 },
  marketInfo: { segmentStatus: 1, casMarketStatus: 2, preOpenSessionStatus: 3 },
  statusInfo: { status: 1, updatedTime: 2 },
} as const;

const TS = 1_740_729_553_123;
const LTT = 1_740_729_552_723;

const ltpcBytes = (ltp: number, ltq?: number, iep?: number) => [
  ...dbl(F.ltpc.ltp, ltp),
  ...vint(F.ltpc.ltt, LTT),
  ...(ltq === undefined ? [] : vint(F.ltpc.ltq, ltq)),
  ...dbl(F.ltpc.cp, 2_890.5),
  ...(iep === undefined ? [] : msg(F.ltpc.iep, dbl(1, iep))),
];
const quoteBytes = (level: number) => [
  ...vint(F.quote.bidQ, 100 + level),
  ...dbl(F.quote.bidP, 2_900 - level),
  ...vint(F.quote.askQ, 200 + level),
  ...dbl(F.quote.askP, 2_901 + level),
];
const greeksBytes = [
  ...dbl(F.greeks.delta, 0.5078),
  ...dbl(F.greeks.theta, -8.5499),
  ...dbl(F.greeks.gamma, 0.0007),
  ...dbl(F.greeks.vega, 16.7691),
  ...dbl(F.greeks.rho, 2.1),
];
const ohlcBytes = (interval: string, ts: number) =>
  msg(
    F.marketOHLC.ohlc,
    str(F.ohlc.interval, interval),
    dbl(F.ohlc.open, 2_880),
    dbl(F.ohlc.high, 2_910),
    dbl(F.ohlc.low, 2_870),
    dbl(F.ohlc.close, 2_905),
    vint(F.ohlc.vol, 1_234_567),
    vint(F.ohlc.ts, ts),
  );
const marketLevelBytes = (levels: number) =>
  msg(
    F.marketFF.marketLevel,
    ...Array.from({ length: levels }, (_, l) => msg(F.marketLevel.bidAskQuote, quoteBytes(l))),
  );

const decodeTicks = (bytes: Uint8Array) => {
  const result = createDecoder({ cache: createLatestCache() }).decode(bytes, 42);
  if (result.kind !== 'ticks') throw new Error(`expected ticks, got ${result.kind}`);
  return result.batch;
};

describe('golden frames built from the spec field numbers', () => {
  it('decodes an ltpc snapshot whose type and requestMode are absent on the wire', () => {
    const bytes = frame(
      mapMsg(F.resp.feeds, 'NSE_EQ|INE002A01018', msg(F.feed.ltpc, ltpcBytes(2_905.15, 75))),
      vint(F.resp.currentTs, TS),
    );
    const wire = decodeFeedResponse(bytes);
    expect(wire.type).toBe(0);
    expect(wire.feeds['NSE_EQ|INE002A01018']?.ltpc).toMatchObject({ ltp: 2_905.15, ltt: LTT, ltq: 75, cp: 2_890.5 });

    const batch = decodeTicks(bytes);
    expect(batch.exchangeTs).toBe(TS);
    expect(batch.updates).toHaveLength(1);
    const [update] = batch.updates;
    expect(update?.snapshot).toBe(true);
    expect(update?.changed).toBe(TickChange.LTPC);
    expect(update?.tick).toMatchObject({
      instrumentKey: 'NSE_EQ|INE002A01018',
      mode: 'ltpc',
      isIndex: false,
      exchangeTs: TS,
      receivedAt: 42,
      ltp: 2_905.15,
      lastTradeTime: LTT,
      ltq: 75,
      closePrice: 2_890.5,
      iep: null,
      depth: null,
      candles: null,
      greeks: null,
      volume: null,
      auction: null,
    });
  });

  it('matches the bytes protobufjs writes for the same plain object (the simulator encoder path)', () => {
    const bytes = frame(
      mapMsg(F.resp.feeds, 'NSE_EQ|INE002A01018', msg(F.feed.ltpc, ltpcBytes(2_905.15, 75))),
      vint(F.resp.currentTs, TS),
    );
    const encoded = encodeFeedResponse({
      feeds: { 'NSE_EQ|INE002A01018': { ltpc: { ltp: 2_905.15, ltt: LTT, ltq: 75, cp: 2_890.5 } } },
      currentTs: TS,
    });
    expect(Buffer.from(encoded).toString('hex')).toBe(Buffer.from(bytes).toString('hex'));
  });

  it('decodes a full marketFF frame with 5 depth levels, OHLC, greeks and the CAS fields', () => {
    const marketFF = [
      ...msg(F.marketFF.ltpc, ltpcBytes(2_905.15, 75, 2_904.5)),
      ...marketLevelBytes(5),
      ...msg(F.marketFF.optionGreeks, greeksBytes),
      ...msg(F.marketFF.marketOHLC, ohlcBytes('1d', 1_740_681_000_000), ohlcBytes('I1', 1_740_729_500_000)),
      ...dbl(F.marketFF.atp, 2_899.42),
      ...vint(F.marketFF.vtt, 9_876_543),
      ...dbl(F.marketFF.oi, 1_500),
      ...dbl(F.marketFF.iv, 0.1334),
      ...dbl(F.marketFF.tbq, 400_000),
      ...dbl(F.marketFF.tsq, 500_000),
      ...dbl(F.marketFF.iep, 2_904.5),
      ...dbl(F.marketFF.rp, 2_903),
      ...vint(F.marketFF.ieq, 12_000),
      ...vint(F.marketFF.iiqTotal, 3_400),
      ...vint(F.marketFF.iiqM, 17),
      ...vint(F.marketFF.casEligible, true),
    ];
    const bytes = frame(
      vint(F.resp.type, 1),
      mapMsg(F.resp.feeds, 'NSE_FO|43919', [
        ...msg(F.feed.fullFeed, msg(F.fullFeed.marketFF, marketFF)),
        ...vint(F.feed.requestMode, 1),
      ]),
      vint(F.resp.currentTs, TS),
    );
    const [update] = decodeTicks(bytes).updates;
    expect(update?.snapshot).toBe(false);
    expect(update?.changed).toBe(
      TickChange.LTPC |
        TickChange.DEPTH |
        TickChange.GREEKS |
        TickChange.CANDLES |
        TickChange.STATS |
        TickChange.AUCTION,
    );
    const tick = update!.tick;
    expect(tick).toMatchObject({
      mode: 'full',
      isIndex: false,
      ltp: 2_905.15,
      ltq: 75,
      iep: 2_904.5,
      averagePrice: 2_899.42,
      volume: 9_876_543,
      openInterest: 1_500,
      impliedVolatility: 0.1334,
      totalBuyQty: 400_000,
      totalSellQty: 500_000,
      greeks: { delta: 0.5078, theta: -8.5499, gamma: 0.0007, vega: 16.7691, rho: 2.1 },
      auction: { iep: 2_904.5, rp: 2_903, ieq: 12_000, iiqTotal: 3_400, iiqM: 17, casEligible: true },
    });
    expect(tick.depth).toHaveLength(5);
    expect(tick.depth?.[0]).toEqual({ bidQty: 100, bidPrice: 2_900, askQty: 200, askPrice: 2_901 });
    expect(tick.depth?.[4]).toEqual({ bidQty: 104, bidPrice: 2_896, askQty: 204, askPrice: 2_905 });
    expect(tick.candles).toEqual([
      { interval: '1d', open: 2_880, high: 2_910, low: 2_870, close: 2_905, volume: 1_234_567, ts: 1_740_681_000_000 },
      { interval: 'I1', open: 2_880, high: 2_910, low: 2_870, close: 2_905, volume: 1_234_567, ts: 1_740_729_500_000 },
    ]);
  });

  it('decodes an indexFF frame (LTPC without ltq, plus OHLC) as an index tick', () => {
    const indexFF = [...msg(F.indexFF.ltpc, ltpcBytes(22_500.35)), ...msg(F.indexFF.marketOHLC, ohlcBytes('1d', 1))];
    const bytes = frame(
      vint(F.resp.type, 1),
      mapMsg(F.resp.feeds, 'NSE_INDEX|Nifty 50', [
        ...msg(F.feed.fullFeed, msg(F.fullFeed.indexFF, indexFF)),
        ...vint(F.feed.requestMode, 1),
      ]),
      vint(F.resp.currentTs, TS),
    );
    const [update] = decodeTicks(bytes).updates;
    expect(update?.changed).toBe(TickChange.LTPC | TickChange.CANDLES);
    expect(update?.tick).toMatchObject({
      instrumentKey: 'NSE_INDEX|Nifty 50',
      mode: 'full',
      isIndex: true,
      ltp: 22_500.35,
      ltq: 0,
      depth: null,
      greeks: null,
      volume: null,
    });
    expect(update?.tick.candles).toHaveLength(1);
  });

  it('decodes an option_greeks frame (firstLevelWithGreeks) with one depth level', () => {
    const flwg = [
      ...msg(F.flwg.ltpc, ltpcBytes(225.7, 75)),
      ...msg(F.flwg.firstDepth, quoteBytes(0)),
      ...msg(F.flwg.optionGreeks, greeksBytes),
      ...vint(F.flwg.vtt, 919_725),
      ...dbl(F.flwg.oi, 256_800),
      ...dbl(F.flwg.iv, 0.133438),
    ];
    const bytes = frame(
      vint(F.resp.type, 1),
      mapMsg(F.resp.feeds, 'NSE_FO|45450', [...msg(F.feed.firstLevelWithGreeks, flwg), ...vint(F.feed.requestMode, 2)]),
      vint(F.resp.currentTs, TS),
    );
    const [update] = decodeTicks(bytes).updates;
    expect(update?.tick).toMatchObject({
      mode: 'option_greeks',
      ltp: 225.7,
      depth: [{ bidQty: 100, bidPrice: 2_900, askQty: 200, askPrice: 2_901 }],
      greeks: { delta: 0.5078, theta: -8.5499 },
      volume: 919_725,
      openInterest: 256_800,
      impliedVolatility: 0.133438,
      averagePrice: null,
      candles: null,
    });
  });

  it('decodes a full_d30 frame with 30 depth levels', () => {
    const marketFF = [...msg(F.marketFF.ltpc, ltpcBytes(2_905.15, 1)), ...marketLevelBytes(30)];
    const bytes = frame(
      vint(F.resp.type, 1),
      mapMsg(F.resp.feeds, 'NSE_EQ|INE002A01018', [
        ...msg(F.feed.fullFeed, msg(F.fullFeed.marketFF, marketFF)),
        ...vint(F.feed.requestMode, 3),
      ]),
      vint(F.resp.currentTs, TS),
    );
    const [update] = decodeTicks(bytes).updates;
    expect(update?.tick.mode).toBe('full_d30');
    expect(update?.tick.depth).toHaveLength(30);
    expect(update?.tick.depth?.[29]).toEqual({ bidQty: 129, bidPrice: 2_871, askQty: 229, askPrice: 2_930 });
  });

  it('decodes market_info with the segment, CAS and pre-open maps', () => {
    const bytes = frame(
      vint(F.resp.type, 2),
      vint(F.resp.currentTs, TS),
      msg(
        F.resp.marketInfo,
        mapEntry(F.marketInfo.segmentStatus, 'NSE_EQ', vint(2, 2)), // NORMAL_OPEN
        mapEntry(F.marketInfo.segmentStatus, 'MCX_FO', vint(2, 5)), // CLOSING_END
        mapEntry(F.marketInfo.segmentStatus, 'NSE_FO', []), // PRE_OPEN_START = 0: value omitted
        mapEntry(
          F.marketInfo.casMarketStatus,
          'NSE_EQ',
          msg(2, str(F.statusInfo.status, 'CAS_OPEN'), vint(F.statusInfo.updatedTime, TS - 5)),
        ),
        mapEntry(
          F.marketInfo.preOpenSessionStatus,
          'NSE_FO',
          msg(2, str(F.statusInfo.status, 'PRE_OPEN_END'), vint(F.statusInfo.updatedTime, TS - 9)),
        ),
      ),
    );
    const result = createDecoder({ cache: createLatestCache() }).decode(bytes, 42);
    expect(result.kind).toBe('market_info');
    if (result.kind !== 'market_info') return;
    expect(result.exchangeTs).toBe(TS);
    const bySegment = Object.fromEntries(result.segments.map((s) => [s.segment, s]));
    expect(bySegment).toEqual({
      NSE_EQ: {
        segment: 'NSE_EQ',
        status: 'NORMAL_OPEN',
        casStatus: 'CAS_OPEN',
        casUpdatedAt: TS - 5,
        preOpenStatus: null,
        preOpenUpdatedAt: null,
      },
      MCX_FO: {
        segment: 'MCX_FO',
        status: 'CLOSING_END',
        casStatus: null,
        casUpdatedAt: null,
        preOpenStatus: null,
        preOpenUpdatedAt: null,
      },
      NSE_FO: {
        segment: 'NSE_FO',
        status: 'PRE_OPEN_START',
        casStatus: null,
        casUpdatedAt: null,
        preOpenStatus: 'PRE_OPEN_END',
        preOpenUpdatedAt: TS - 9,
      },
    });
  });
});
