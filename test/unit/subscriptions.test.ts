import { describe, expect, it } from 'vitest';
import { FEED_MODES, type FeedMode, type FeedRequest } from '../../src/upstox/protocol.js';
import {
  applyRequests,
  CapExceededError,
  checkCaps,
  countByMode,
  planRequests,
} from '../../src/upstox/subscriptions.js';

const keys = (n: number, prefix = 'NSE_EQ|K') => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
const setOf = (...groups: Array<[string[], FeedMode]>) => {
  const m = new Map<string, FeedMode>();
  for (const [ks, mode] of groups) for (const k of ks) m.set(k, mode);
  return m;
};
let seq = 0;
const guid = () => `g${++seq}`;

/** Applies requests one by one, asserting the connection stays within caps after each. */
function replay(active: ReadonlyMap<string, FeedMode>, requests: readonly FeedRequest[], plus = true) {
  let state = new Map(active);
  for (const request of requests) {
    state = applyRequests(state, [request]);
    const violation = checkCaps(state, { plus });
    if (violation)
      throw new Error(`cap exceeded after ${request.method} ${request.data.mode}: ${JSON.stringify(violation)}`);
  }
  return state;
}

describe('checkCaps', () => {
  it('accepts an empty set and each mode at its individual cap', () => {
    expect(checkCaps(new Map())).toBeNull();
    expect(checkCaps(setOf([keys(5000), 'ltpc']))).toBeNull();
    expect(checkCaps(setOf([keys(3000), 'option_greeks']))).toBeNull();
    expect(checkCaps(setOf([keys(2000), 'full']))).toBeNull();
    expect(checkCaps(setOf([keys(50), 'full_d30']), { plus: true })).toBeNull();
  });

  it('reports one key over an individual cap', () => {
    expect(checkCaps(setOf([keys(5001), 'ltpc']))).toEqual({
      mode: 'ltpc',
      cap: 'individual',
      limit: 5000,
      requested: 5001,
      excess: 1,
    });
    expect(checkCaps(setOf([keys(3001), 'option_greeks']))?.limit).toBe(3000);
  });

  it('switches every mode to its combined cap once two modes are used', () => {
    expect(checkCaps(setOf([keys(2000, 'A'), 'ltpc'], [keys(1500, 'B'), 'full']))).toBeNull();
    expect(checkCaps(setOf([keys(2001, 'A'), 'ltpc'], [keys(1, 'B'), 'full']))).toEqual({
      mode: 'ltpc',
      cap: 'combined',
      limit: 2000,
      requested: 2001,
      excess: 1,
    });
    expect(checkCaps(setOf([keys(1, 'A'), 'ltpc'], [keys(1501, 'B'), 'full']))).toMatchObject({
      mode: 'full',
      cap: 'combined',
      limit: 1500,
    });
    expect(checkCaps(setOf([keys(2001, 'A'), 'option_greeks'], [keys(1, 'B'), 'ltpc']))?.mode).toBe('option_greeks');
  });

  it('refuses full_d30 without Plus and caps it at 50 with Plus, alone or combined', () => {
    expect(checkCaps(setOf([keys(2), 'full_d30']))).toEqual({
      mode: 'full_d30',
      cap: 'plan',
      limit: 0,
      requested: 2,
      excess: 2,
    });
    expect(checkCaps(setOf([keys(51), 'full_d30']), { plus: true })).toMatchObject({ cap: 'individual', limit: 50 });
    expect(checkCaps(setOf([keys(50, 'A'), 'full_d30'], [keys(1500, 'B'), 'full']), { plus: true })).toBeNull();
    expect(checkCaps(setOf([keys(51, 'A'), 'full_d30'], [keys(10, 'B'), 'ltpc']), { plus: true })).toMatchObject({
      mode: 'full_d30',
      cap: 'combined',
      limit: 50,
      excess: 1,
    });
  });

  it('builds a CapExceededError that says the mode, the cap and how far over', () => {
    const error = new CapExceededError(checkCaps(setOf([keys(2100), 'full']))!);
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('CapExceededError');
    expect(error.message).toBe('full mode would have 2100 keys; the individual cap is 2000 (100 over)');
    expect(error).toMatchObject({ mode: 'full', cap: 'individual', limit: 2000, requested: 2100, excess: 100 });
    const combined = new CapExceededError(checkCaps(setOf([keys(2001, 'A'), 'ltpc'], [keys(1, 'B'), 'full']))!);
    expect(combined.message).toBe(
      'ltpc mode would have 2001 keys; the combined cap is 2000 when several modes are used (1 over)',
    );
    expect(new CapExceededError(checkCaps(setOf([keys(1), 'full_d30']))!).message).toBe(
      'full_d30 mode needs an Upstox Plus plan (1 key requested)',
    );
  });
});

describe('planRequests', () => {
  it('returns nothing when the connection already holds the desired set', () => {
    const set = setOf([keys(10), 'full']);
    expect(planRequests(set, new Map(set))).toEqual([]);
  });

  it('subscribes 5,000 ltpc keys from nothing in 500-key sub batches', () => {
    const desired = setOf([keys(5000), 'ltpc']);
    const requests = planRequests(new Map(), desired, { guid });
    expect(requests).toHaveLength(10);
    for (const request of requests) {
      expect(request.method).toBe('sub');
      expect(request.data.mode).toBe('ltpc');
      expect(request.data.instrumentKeys).toHaveLength(500);
    }
    expect(new Set(requests.flatMap((r) => r.data.instrumentKeys)).size).toBe(5000);
    expect(replay(new Map(), requests)).toEqual(desired);
  });

  it('groups new keys by mode and honours maxKeysPerRequest', () => {
    const desired = setOf([keys(7, 'A'), 'full'], [keys(3, 'B'), 'ltpc']);
    const requests = planRequests(new Map(), desired, { maxKeysPerRequest: 3, guid });
    expect(requests.map((r) => [r.method, r.data.mode, r.data.instrumentKeys.length])).toEqual([
      ['sub', 'full', 3],
      ['sub', 'full', 3],
      ['sub', 'full', 1],
      ['sub', 'ltpc', 3],
    ]);
  });

  it('orders unsub first, then change_mode, then sub, with no mode on unsub', () => {
    const active = setOf([['X1', 'X2'], 'ltpc'], [['Y1'], 'ltpc']);
    const desired = setOf([['Y1'], 'full'], [['Z1'], 'option_greeks']);
    const requests = planRequests(active, desired, { guid });
    expect(requests.map((r) => ({ method: r.method, data: r.data }))).toEqual([
      { method: 'unsub', data: { instrumentKeys: ['X1', 'X2'] } },
      { method: 'change_mode', data: { mode: 'full', instrumentKeys: ['Y1'] } },
      { method: 'sub', data: { mode: 'option_greeks', instrumentKeys: ['Z1'] } },
    ]);
    expect('mode' in requests[0]!.data).toBe(false);
  });

  it('gives every request its own guid', () => {
    const requests = planRequests(new Map(), setOf([keys(1200), 'ltpc']));
    expect(new Set(requests.map((r) => r.guid)).size).toBe(3);
  });

  it('removes keys before adding a second mode that would tighten the caps', () => {
    const active = setOf([keys(5000), 'ltpc']);
    const desired = setOf([keys(2000), 'ltpc'], [keys(1500, 'F'), 'full']);
    const requests = planRequests(active, desired, { guid });
    expect(replay(active, requests)).toEqual(desired);
    expect(requests[0]?.method).toBe('unsub');
  });

  it('breaks a swap between two modes at their caps with unsub and re-sub instead of exceeding a cap', () => {
    const active = setOf([keys(1500, 'A'), 'full'], [keys(2000, 'B'), 'ltpc']);
    const desired = setOf([keys(1500, 'A'), 'ltpc'], [keys(1500, 'B'), 'full']);
    for (const k of keys(2000, 'B').slice(1500)) desired.set(k, 'ltpc');
    expect(checkCaps(desired)).toBeNull();
    const requests = planRequests(active, desired, { guid });
    expect(replay(active, requests)).toEqual(desired);
    expect(requests.some((r) => r.method === 'unsub')).toBe(true);
  });

  it('never exceeds a cap mid-way and always converges, over random transitions', () => {
    let state = 12345;
    const random = () => {
      state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
      return state / 2 ** 31;
    };
    const randomSet = (): Map<string, FeedMode> => {
      for (;;) {
        const set = new Map<string, FeedMode>();
        const modes = FEED_MODES.filter(() => random() < 0.5);
        for (const mode of modes) {
          const n = Math.floor(random() * (mode === 'full_d30' ? 60 : 2600));
          for (let i = 0; i < n; i++) set.set(`NSE_EQ|K${Math.floor(random() * 4000)}`, mode);
        }
        if (checkCaps(set, { plus: true }) === null) return set;
      }
    };
    for (let round = 0; round < 40; round++) {
      const active = randomSet();
      const desired = randomSet();
      const requests = planRequests(active, desired, { maxKeysPerRequest: 250, guid });
      expect(replay(active, requests)).toEqual(desired);
      for (const r of requests) expect(r.data.instrumentKeys.length).toBeLessThanOrEqual(250);
    }
  });

  it('counts keys per mode', () => {
    expect(countByMode(setOf([keys(2), 'full'], [keys(1, 'x'), 'ltpc']))).toEqual({
      ltpc: 1,
      option_greeks: 0,
      full: 2,
      full_d30: 0,
    });
  });

  it('rejects a non-positive batch size', () => {
    expect(() => planRequests(new Map(), new Map(), { maxKeysPerRequest: 0 })).toThrow(RangeError);
  });
});
