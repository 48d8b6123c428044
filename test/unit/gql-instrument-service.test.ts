import { describe, expect, it } from 'vitest';
import { createInstrumentService, InstrumentRequestError } from '../../src/instruments/instrument-service.js';
import { silentLogger } from '../../src/logger.js';
import { CapExceededError } from '../../src/upstox/subscriptions.js';
import { createFakeFeed, createFakeStore } from '../support/gql-fakes.js';

const A = 'NSE_EQ|INE002A01018';
const B = 'NSE_EQ|INE467B01029';

function setup(plus = false) {
  const feed = createFakeFeed();
  const store = createFakeStore();
  const service = createInstrumentService({ feed, store, plus, logger: silentLogger() });
  return { feed, store, service };
}

const keys = (n: number, prefix = 'NSE_FO|') => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
const rejection = async (promise: Promise<unknown>) => {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(InstrumentRequestError);
  return error as InstrumentRequestError;
};

describe('createInstrumentService', () => {
  it('persists before applying and reports outcomes per unique key', async () => {
    const { feed, store, service } = setup();
    expect(await service.subscribe([A, B, A], 'full')).toEqual([
      { instrumentKey: A, outcome: 'SUBSCRIBED', mode: 'full' },
      { instrumentKey: B, outcome: 'SUBSCRIBED', mode: 'full' },
    ]);
    expect([...store.rows.keys()]).toEqual([A, B]);
    expect(feed.desired()).toEqual(
      new Map([
        [A, 'full'],
        [B, 'full'],
      ]),
    );
  });

  it('is idempotent: repeating a request writes and applies nothing', async () => {
    const { feed, service } = setup();
    await service.subscribe([A], 'ltpc');
    const calls = feed.setDesiredCalls;
    expect(await service.subscribe([A], 'ltpc')).toEqual([
      { instrumentKey: A, outcome: 'ALREADY_SUBSCRIBED', mode: 'ltpc' },
    ]);
    expect(await service.unsubscribe([B])).toEqual([{ instrumentKey: B, outcome: 'NOT_SUBSCRIBED', mode: null }]);
    expect(feed.setDesiredCalls).toBe(calls);
  });

  it('refuses a request with any invalid key whole, listing every bad key', async () => {
    const { feed, store, service } = setup();
    const error = await rejection(service.subscribe([A, 'bad', 'NSE_EQ|', 'XX_EQ|1'], 'ltpc'));
    expect(error.code).toBe('INVALID_INSTRUMENT_KEY');
    expect(error.details).toEqual({ invalidKeys: ['bad', 'NSE_EQ|'], unknownSegmentKeys: ['XX_EQ|1'] });
    expect(feed.desired().size).toBe(0);
    expect(store.rows.size).toBe(0);
    expect((await rejection(service.subscribe([], 'ltpc'))).code).toBe('NO_INSTRUMENT_KEYS');
  });

  it('applies the individual cap with one mode in use and the combined cap with several', async () => {
    const { service } = setup();
    await service.subscribe(keys(5_000), 'ltpc');
    const individual = await rejection(service.subscribe(['NSE_EQ|one-more'], 'ltpc'));
    expect(individual.details).toEqual({ mode: 'ltpc', cap: 'individual', limit: 5_000, requested: 5_001, excess: 1 });
    const combined = await rejection(service.subscribe(['NSE_EQ|other'], 'full'));
    expect(combined.details).toEqual({ mode: 'ltpc', cap: 'combined', limit: 2_000, requested: 5_000, excess: 3_000 });
  });

  it('refuses a cap breach before persisting anything', async () => {
    const { feed, store, service } = setup();
    await service.subscribe([A], 'ltpc');
    const error = await rejection(service.subscribe(keys(1_501), 'full'));
    expect(error.code).toBe('CAP_EXCEEDED');
    expect(error.details).toEqual({ mode: 'full', cap: 'combined', limit: 1_500, requested: 1_501, excess: 1 });
    expect(store.rows.size).toBe(1);
    expect(feed.desired().size).toBe(1);
  });

  it('restores the store when the feed refuses the set after it was persisted', async () => {
    const { feed, store, service } = setup();
    await service.subscribe([A], 'ltpc');
    feed.failNextSetDesired(
      new CapExceededError({ mode: 'ltpc', cap: 'individual', limit: 1, requested: 2, excess: 1 }),
    );
    const error = await rejection(service.subscribe([B], 'full'));
    expect(error.code).toBe('CAP_EXCEEDED');
    expect(error.details).toMatchObject({ mode: 'ltpc', limit: 1, excess: 1 });
    expect([...store.rows.values()].map((r) => [r.instrumentKey, r.mode])).toEqual([[A, 'ltpc']]);
    expect(feed.desired()).toEqual(new Map([[A, 'ltpc']]));
  });

  it('applies nothing when persisting fails', async () => {
    const { feed, store, service } = setup();
    store.failNextWrite(new Error('database unreachable'));
    await expect(service.subscribe([A], 'ltpc')).rejects.toThrow('database unreachable');
    expect(feed.desired().size).toBe(0);
    expect(await service.subscribe([A], 'ltpc')).toEqual([{ instrumentKey: A, outcome: 'SUBSCRIBED', mode: 'ltpc' }]);
  });

  it('serializes concurrent changes so none is computed from stale state', async () => {
    const { feed, service } = setup();
    const all = keys(20, 'NSE_EQ|K');
    await Promise.all(all.map((key, i) => service.subscribe([key], i % 2 ? 'full' : 'ltpc')));
    expect(feed.desired().size).toBe(20);
    await Promise.all([service.changeMode(all, 'option_greeks'), service.unsubscribe(all.slice(0, 5))]);
    expect(feed.desired().size).toBe(15);
    expect(new Set(feed.desired().values())).toEqual(new Set(['option_greeks']));
  });

  it('changes modes only of subscribed keys', async () => {
    const { service } = setup();
    await service.subscribe([A], 'ltpc');
    expect(await service.changeMode([A, B], 'full')).toEqual([
      { instrumentKey: A, outcome: 'MODE_CHANGED', mode: 'full' },
      { instrumentKey: B, outcome: 'NOT_SUBSCRIBED', mode: null },
    ]);
    expect(await service.changeMode([A], 'full')).toEqual([
      { instrumentKey: A, outcome: 'ALREADY_SUBSCRIBED', mode: 'full' },
    ]);
  });

  it('needs Plus for full_d30', async () => {
    expect((await rejection(setup(false).service.subscribe([A], 'full_d30'))).code).toBe('PLUS_REQUIRED');
    expect(await setup(true).service.subscribe([A], 'full_d30')).toEqual([
      { instrumentKey: A, outcome: 'SUBSCRIBED', mode: 'full_d30' },
    ]);
  });

  it('loads the persisted set into the feed at start-up, skipping invalid rows', async () => {
    const { feed, store, service } = setup();
    await store.upsertSubscriptions([
      { instrumentKey: A, mode: 'full' },
      { instrumentKey: 'garbage', mode: 'ltpc' },
    ]);
    await service.load();
    expect(feed.desired()).toEqual(new Map([[A, 'full']]));
    expect(store.rows.has('garbage')).toBe(true);
  });

  it('lists the desired set with active state and store timestamps, and notifies change listeners', async () => {
    const { service } = setup();
    let changes = 0;
    const off = service.onChange(() => changes++);
    await service.subscribe([B, A], 'ltpc');
    const list = await service.list();
    expect(list.map((s) => [s.instrumentKey, s.mode, s.activeMode])).toEqual([
      [A, 'ltpc', 'ltpc'],
      [B, 'ltpc', 'ltpc'],
    ]);
    expect(list[0]!.createdAt).toBeInstanceOf(Date);
    off();
    await service.unsubscribe([A]);
    expect(changes).toBe(1);
  });
});
