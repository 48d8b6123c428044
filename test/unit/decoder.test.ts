import { describe, expect, it } from 'vitest';
import { createLatestCache } from '../../src/ticks/latest-cache.js';
import { type TickBatch, TickChange } from '../../src/ticks/tick.js';
import { createDecoder, DecodeError, type DecodeResult } from '../../src/upstox/decoder.js';
import { encodeFeedResponse } from '../../src/upstox/proto.js';
import {
  createRandom,
  equityKeys,
  feedsFrame,
  fullFeedObject,
  ltpcFeedObject,
  randomFrame,
} from '../support/feed-frames.js';
import { createReferenceDecoder } from '../support/feed-reference-decoder.js';

const ticksOf = (result: DecodeResult): TickBatch => {
  if (result.kind !== 'ticks') throw new Error(`expected ticks, got ${result.kind}`);
  return result.batch;
};

describe('decoder', () => {
  it('decodes every key of a multi-instrument frame once and caches each merged tick', () => {
    const cache = createLatestCache();
    const decoder = createDecoder({ cache });
    const keys = equityKeys(50);
    const batch = ticksOf(decoder.decode(encodeFeedResponse(feedsFrame(keys, ltpcFeedObject, 0)), 7));
    expect(batch.updates.map((u) => u.tick.instrumentKey)).toEqual(keys);
    expect(batch.receivedAt).toBe(7);
    expect(cache.size).toBe(50);
    expect(cache.get(keys[3]!)).toBe(batch.updates[3]!.tick);
    expect(cache.get(keys[3]!)?.ltp).toBe(200.03);
  });

  it('marks initial_feed updates as snapshots and live_feed updates as not', () => {
    const decoder = createDecoder({ cache: createLatestCache() });
    const keys = equityKeys(1);
    const snap = ticksOf(decoder.decode(encodeFeedResponse(feedsFrame(keys, ltpcFeedObject, 0)), 1));
    const live = ticksOf(decoder.decode(encodeFeedResponse(feedsFrame(keys, ltpcFeedObject, 1)), 2));
    expect(snap.updates[0]?.snapshot).toBe(true);
    expect(live.updates[0]?.snapshot).toBe(false);
  });

  it('maps requestMode full_d5 to mode full with depth, candles and stats', () => {
    const decoder = createDecoder({ cache: createLatestCache() });
    const batch = ticksOf(decoder.decode(encodeFeedResponse(feedsFrame(equityKeys(1), (i) => fullFeedObject(i))), 1));
    const tick = batch.updates[0]!.tick;
    expect(tick.mode).toBe('full');
    expect(tick.depth).toHaveLength(5);
    expect(tick.candles?.map((c) => c.interval)).toEqual(['1d', 'I1']);
    expect(tick.volume).toBe(123_456);
  });

  it('reports empty optionGreeks of an equity as greeks null, not as zero sensitivities', () => {
    const decoder = createDecoder({ cache: createLatestCache() });
    const batch = ticksOf(decoder.decode(encodeFeedResponse(feedsFrame(equityKeys(1), (i) => fullFeedObject(i))), 1));
    expect(batch.updates[0]?.tick.greeks).toBeNull();
    expect(batch.updates[0]!.changed & TickChange.GREEKS).toBe(0);
  });

  it('uses currentTs as exchangeTs and falls back to the receive time when a frame lacks it', () => {
    const decoder = createDecoder({ cache: createLatestCache() });
    const withTs = ticksOf(decoder.decode(encodeFeedResponse(feedsFrame(equityKeys(1), ltpcFeedObject, 1, 5_000)), 9));
    expect(withTs.exchangeTs).toBe(5_000);
    expect(withTs.updates[0]?.tick.exchangeTs).toBe(5_000);
    const withoutTs = ticksOf(
      decoder.decode(encodeFeedResponse({ type: 1, feeds: { 'NSE_EQ|X': ltpcFeedObject(0) } }), 9),
    );
    expect(withoutTs.exchangeTs).toBe(9);
  });

  it('throws DecodeError on garbage and leaves the cache untouched', () => {
    const cache = createLatestCache();
    const decoder = createDecoder({ cache });
    const garbage = Uint8Array.from([0x12, 0xff, 0xff, 0xff, 0x0f, 0x01, 0x02]);
    let error: unknown;
    try {
      decoder.decode(garbage, 1);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(DecodeError);
    expect((error as DecodeError).name).toBe('DecodeError');
    expect((error as DecodeError).byteLength).toBe(7);
    expect((error as DecodeError).cause).toBeInstanceOf(Error);
    expect(cache.size).toBe(0);
  });

  it('throws DecodeError for a truncated frame', () => {
    const bytes = encodeFeedResponse(feedsFrame(equityKeys(3), (i) => fullFeedObject(i)));
    const decoder = createDecoder({ cache: createLatestCache() });
    expect(() => decoder.decode(bytes.subarray(0, Math.floor(bytes.length / 2)), 1)).toThrow(DecodeError);
  });

  it('decodes market_info frames into segment statuses without touching ticks', () => {
    const cache = createLatestCache();
    const decoder = createDecoder({ cache });
    const result = decoder.decode(
      encodeFeedResponse({
        type: 2,
        currentTs: 77,
        marketInfo: { segmentStatus: { NSE_EQ: 2, BSE_EQ: 'NORMAL_CLOSE' } },
      }),
      1,
    );
    expect(result).toEqual({
      kind: 'market_info',
      exchangeTs: 77,
      segments: [
        expect.objectContaining({ segment: 'NSE_EQ', status: 'NORMAL_OPEN', casStatus: null }),
        expect.objectContaining({ segment: 'BSE_EQ', status: 'NORMAL_CLOSE', preOpenStatus: null }),
      ],
    });
    expect(cache.size).toBe(0);
  });

  it('treats a frame carrying only marketInfo as market_info even without its type', () => {
    const decoder = createDecoder({ cache: createLatestCache() });
    const result = decoder.decode(
      encodeFeedResponse({ currentTs: 3, marketInfo: { segmentStatus: { NSE_FO: 4 } } }),
      1,
    );
    expect(result).toMatchObject({ kind: 'market_info', segments: [{ segment: 'NSE_FO', status: 'CLOSING_START' }] });
  });

  it('treats an unknown frame type as a live (merging) update', () => {
    const decoder = createDecoder({ cache: createLatestCache() });
    const batch = ticksOf(decoder.decode(encodeFeedResponse(feedsFrame(equityKeys(1), ltpcFeedObject, 7)), 1));
    expect(batch.updates[0]?.snapshot).toBe(false);
  });

  it('skips a feed entry that carries no data branch', () => {
    const decoder = createDecoder({ cache: createLatestCache() });
    const batch = ticksOf(
      decoder.decode(encodeFeedResponse({ type: 1, feeds: { 'NSE_EQ|X': { requestMode: 1 } } }), 1),
    );
    expect(batch.updates).toEqual([]);
  });

  it('reads absent int64 fields as the number 0, never as Long objects', () => {
    const decoder = createDecoder({ cache: createLatestCache() });
    const frame = {
      feeds: { 'NSE_EQ|X': { fullFeed: { marketFF: { marketLevel: { bidAskQuote: [{ bidP: 1 }] } } } } },
    };
    const tick = ticksOf(decoder.decode(encodeFeedResponse(frame), 1)).updates[0]!.tick;
    expect(tick.depth).toEqual([{ bidQty: 0, bidPrice: 1, askQty: 0, askPrice: 0 }]);
    expect(typeof tick.depth?.[0]?.bidQty).toBe('number');
  });

  it('flags index segments as indices even in ltpc mode', () => {
    const decoder = createDecoder({ cache: createLatestCache() });
    const batch = ticksOf(
      decoder.decode(encodeFeedResponse({ feeds: { 'NSE_INDEX|Nifty Bank': { ltpc: { ltp: 48_000 } } } }), 1),
    );
    expect(batch.updates[0]?.tick).toMatchObject({ isIndex: true, mode: 'ltpc', ltq: 0 });
  });
});

describe('latest cache', () => {
  it('stores ticks by key and answers single and batched lookups', () => {
    const cache = createLatestCache();
    const decoder = createDecoder({ cache });
    ticksOf(decoder.decode(encodeFeedResponse(feedsFrame(['NSE_EQ|A', 'NSE_EQ|B'], ltpcFeedObject, 0)), 1));
    expect(cache.size).toBe(2);
    expect([...cache.keys()]).toEqual(['NSE_EQ|A', 'NSE_EQ|B']);
    expect(cache.getMany(['NSE_EQ|B', 'NSE_EQ|Z']).map((t) => t?.ltp)).toEqual([200.01, undefined]);
    expect(cache.delete('NSE_EQ|A')).toBe(true);
    expect(cache.delete('NSE_EQ|A')).toBe(false);
    expect(cache.get('NSE_EQ|A')).toBeUndefined();
    cache.clear();
    expect(cache.size).toBe(0);
  });
});

describe('hand-written wire reader vs protobufjs', () => {
  it('produces the same updates and cache as the protobufjs-based reference on random frame sequences', () => {
    const random = createRandom(20_261_124);
    const keys = ['NSE_EQ|A', 'NSE_EQ|B', 'NSE_FO|1', 'NSE_INDEX|Nifty 50', 'BSE_EQ|C', 'MCX_FO|9'];
    for (let run = 0; run < 40; run++) {
      const cache = createLatestCache();
      const reference = createLatestCache();
      const ours = createDecoder({ cache });
      const theirs = createReferenceDecoder({ cache: reference });
      for (let frame = 0; frame < 25; frame++) {
        const type = frame === 0 || random() < 0.1 ? 0 : random() < 0.95 ? 1 : 5;
        const bytes = encodeFeedResponse(randomFrame(random, keys, type));
        const a = ours.decode(bytes, frame);
        const b = theirs.decode(bytes, frame);
        expect(a).toEqual(b);
      }
      expect([...cache.keys()].sort()).toEqual([...reference.keys()].sort());
      for (const key of reference.keys()) expect(cache.get(key)).toEqual(reference.get(key));
    }
  });

  it('agrees with protobufjs on market_info frames', () => {
    const frame = encodeFeedResponse({
      type: 2,
      currentTs: 9,
      marketInfo: {
        segmentStatus: { NSE_EQ: 2, NSE_FO: 0, MCX_FO: 5 },
        casMarketStatus: { NSE_EQ: { status: 'CAS_OPEN', updatedTime: 5 }, BSE_EQ: {} },
        preOpenSessionStatus: { NSE_FO: { status: 'PRE_OPEN_END' } },
      },
    });
    const ours = createDecoder({ cache: createLatestCache() }).decode(frame, 1);
    const theirs = createReferenceDecoder({ cache: createLatestCache() }).decode(frame, 1);
    expect(ours).toEqual(theirs);
  });

  it('rejects everything protobufjs rejects among truncated and corrupted frames, leaving the cache alone', () => {
    const random = createRandom(7);
    const keys = ['NSE_EQ|A', 'NSE_FO|1', 'NSE_INDEX|Nifty 50'];
    const valid = encodeFeedResponse(randomFrame(random, keys, 1));
    for (let i = 0; i < 300; i++) {
      const bytes = valid.slice(0, Math.floor(random() * valid.length));
      if (i % 2 === 1 && bytes.length > 0) bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
      const cache = createLatestCache();
      let theirs: 'ok' | 'error' = 'ok';
      try {
        createReferenceDecoder({ cache: createLatestCache() }).decode(bytes, 1);
      } catch {
        theirs = 'error';
      }
      let ours: 'ok' | 'error' = 'ok';
      try {
        createDecoder({ cache }).decode(bytes, 1);
      } catch (error) {
        expect(error).toBeInstanceOf(DecodeError);
        ours = 'error';
      }
      if (theirs === 'error') expect(ours).toBe('error');
      if (ours === 'error') expect(cache.size).toBe(0);
    }
  });
});
