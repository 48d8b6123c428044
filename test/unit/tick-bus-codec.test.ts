import { describe, expect, it } from 'vitest';
import {
  decodeBatch,
  decodeNotice,
  decodeStatus,
  encodeBatch,
  encodeNotice,
  encodeStatus,
  RelayDecodeError,
} from '../../src/cluster/tick-codec.js';
import { TickChange, type TickUpdate } from '../../src/ticks/tick.js';
import type { FeedStatus } from '../../src/upstox/feed-client.js';
import { makeBatch, makeFullTick, makeTick } from '../support/bus-fixtures.js';

const full: TickUpdate = { tick: makeFullTick('NSE_EQ|INE002A01018', 1_234.55), changed: 0b10111, snapshot: true };
const option: TickUpdate = {
  tick: makeTick('NSE_FO|45450', 12.5, {
    mode: 'option_greeks',
    depth: [{ bidQty: 75, bidPrice: 12.45, askQty: 150, askPrice: 12.55 }],
    greeks: { delta: 0.51, theta: -3.2, gamma: 0.0012, vega: 4.5, rho: 0.07 },
    impliedVolatility: 0.1334,
    openInterest: 1_500_000,
  }),
  changed: TickChange.GREEKS | TickChange.LTPC,
  snapshot: false,
};
const index: TickUpdate = {
  tick: makeTick('NSE_INDEX|Nifty 50', 24_500.1, { isIndex: true, ltq: null, lastTradeTime: null }),
  changed: TickChange.LTPC,
  snapshot: false,
};
const auction: TickUpdate = {
  tick: makeTick('BSE_EQ|INE002A01018', 1_200, {
    mode: 'full',
    iep: 1_201.5,
    auction: { iep: 1_201.5, rp: 1_190, ieq: 5_000, iiqTotal: 12_000, iiqM: 300, casEligible: true },
  }),
  changed: TickChange.AUCTION,
  snapshot: false,
};

const status: FeedStatus = {
  state: 'CONNECTED',
  source: 'SIMULATOR',
  connectedSince: 1_760_000_000_000,
  reconnects: 2,
  lastFrameAt: 1_760_000_001_000,
  lastError: null,
  framesDecoded: 10,
  ticksDecoded: 500,
  decodeErrors: 0,
  framesPerSecond: 1.5,
  ticksPerSecond: 75,
  keysByMode: { ltpc: 1, option_greeks: 0, full: 2, full_d30: 0 },
  activeKeysByMode: { ltpc: 1, option_greeks: 0, full: 2, full_d30: 0 },
  segments: [
    {
      segment: 'NSE_EQ',
      status: 'NORMAL_OPEN',
      casStatus: null,
      casUpdatedAt: null,
      preOpenStatus: 'PRE_OPEN_END',
      preOpenUpdatedAt: 1_760_000_000_000,
    },
  ],
};

function expectDecodeError(run: () => unknown, path: string): void {
  try {
    run();
    expect.unreachable();
  } catch (error) {
    expect(error).toBeInstanceOf(RelayDecodeError);
    expect((error as RelayDecodeError).path).toBe(path);
  }
}

describe('relay codec', () => {
  it('round-trips batches of every tick shape exactly', () => {
    const batch = makeBatch(full, option, index, auction);
    const decoded = decodeBatch(encodeBatch('instance-1', batch));
    expect(decoded.sender).toBe('instance-1');
    expect(decoded.batch).toEqual(batch);
  });

  it('round-trips an empty batch', () => {
    expect(decodeBatch(encodeBatch('i', makeBatch())).batch.updates).toEqual([]);
  });

  it('is denser than JSON of the objects', () => {
    const batch = makeBatch(...Array.from({ length: 50 }, () => full));
    expect(encodeBatch('i', batch).length).toBeLessThan(JSON.stringify(batch).length * 0.6);
  });

  it('rejects text that is not JSON', () => {
    expectDecodeError(() => decodeBatch('{"truncated'), '$');
  });

  it('rejects an unknown format version', () => {
    const text = encodeBatch('i', makeBatch(full)).replace(/^\[1,/, '[2,');
    expectDecodeError(() => decodeBatch(text), '$[0]');
  });

  it('names the first bad field of a bad update', () => {
    const good = JSON.parse(encodeBatch('i', makeBatch(index, full)));
    const cases: [(m: any) => void, string][] = [
      [(m) => m[4][1].pop(), '$[4][1]'],
      [(m) => (m[4][1][7] = '1234.5'), '$[4][1][7]'],
      [(m) => (m[4][0][3] = 9), '$[4][0][3]'],
      [(m) => (m[4][1][12] = [1, 2, 3]), '$[4][1][12]'],
      [(m) => (m[4][1][13][1][6] = null), '$[4][1][13][1][6]'],
      [(m) => (m[4][0][2] = ''), '$[4][0][2]'],
      [(m) => (m[4][0][0] = -1), '$[4][0][0]'],
      [(m) => (m[4][0][1] = 'yes'), '$[4][0][1]'],
      [(m) => (m[1] = 42), '$[1]'],
      [(m) => (m[4] = {}), '$[4]'],
    ];
    for (const [corrupt, path] of cases) {
      const message = structuredClone(good);
      corrupt(message);
      expectDecodeError(() => decodeBatch(JSON.stringify(message)), path);
    }
  });

  it('rejects numbers JSON cannot carry instead of turning them into nulls silently', () => {
    const text = encodeBatch('i', makeBatch(index)).replace('24500.1', '1e999');
    expectDecodeError(() => decodeBatch(text), '$[4][0][7]');
  });

  it('round-trips a feed status and drops fields outside the contract', () => {
    const decoded = decodeStatus(encodeStatus('leader', { ...status, extra: 'ignored' } as FeedStatus));
    expect(decoded).toEqual({ sender: 'leader', status });
  });

  it('rejects a status with an unknown state or a missing counter', () => {
    const bad = JSON.parse(encodeStatus('leader', status));
    bad.status.state = 'ON_FIRE';
    expectDecodeError(() => decodeStatus(JSON.stringify(bad)), '$.status.state');
    const missing = JSON.parse(encodeStatus('leader', status));
    delete missing.status.keysByMode.full;
    expectDecodeError(() => decodeStatus(JSON.stringify(missing)), '$.status.keysByMode.full');
    expectDecodeError(() => decodeStatus('[]'), '$');
  });

  it('round-trips notices and rejects malformed ones', () => {
    expect(decodeNotice(encodeNotice('abc'))).toEqual({ sender: 'abc' });
    expectDecodeError(() => decodeNotice('{"v":1}'), '$.sender');
    expectDecodeError(() => decodeNotice('null'), '$');
  });
});
