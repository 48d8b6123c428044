import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TickChange } from '../../src/ticks/tick.js';
import { makeBatch, makeTick } from '../support/bus-fixtures.js';
import { type GqlTestServer, startGqlServer, until, wsClient, wsSubscribe } from '../support/gql-server.js';

const TICKS = /* GraphQL */ `
  subscription Ticks($keys: [String!]!) {
    ticks(instrumentKeys: $keys) { updates { instrumentKey changed snapshot tick { ltp mode exchangeTs } } }
  }
`;
type TicksData = {
  ticks: { updates: { instrumentKey: string; changed: string[]; snapshot: boolean; tick: { ltp: number } }[] };
};

const A = 'NSE_EQ|INE002A01018';
const B = 'NSE_EQ|INE467B01029';

describe('graphql-ws subscriptions', () => {
  let t: GqlTestServer;
  const clients: Client[] = [];
  const client = (params?: Record<string, unknown>) => {
    const c = wsClient(t.wsUrl, params);
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    t = await startGqlServer({ limits: { maxSubscriptionsPerConnection: 2 } });
    await t.instruments.subscribe([A, B], 'ltpc');
    t.cache.set(makeTick(A, 101));
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.dispose()));
    await t.stop();
  });

  it('delivers the cached snapshot first, then one event per published batch', async () => {
    const sub = wsSubscribe<TicksData>(client(), TICKS, { keys: [A, B] });
    const [first] = await sub.waitFor((e) => e.length >= 1, 'snapshot');
    expect(first!.data!.ticks.updates).toEqual([
      {
        instrumentKey: A,
        changed: expect.arrayContaining(['LTPC', 'DEPTH']),
        snapshot: true,
        tick: expect.objectContaining({ ltp: 101, mode: 'LTPC' }),
      },
    ]);
    await until(() => t.bus.stats().subscribers === 1, 'bus subscriber');
    t.bus.publish(
      makeBatch(
        { tick: makeTick(A, 102), changed: TickChange.LTPC, snapshot: false },
        { tick: makeTick('NSE_EQ|OTHER', 1), changed: 1, snapshot: false },
      ),
    );
    t.bus.publish(makeBatch({ tick: makeTick(B, 55), changed: TickChange.LTPC, snapshot: false }));
    const events = await sub.waitFor((e) => e.length >= 3, 'two live events');
    expect(events[1]!.data!.ticks.updates).toEqual([
      { instrumentKey: A, changed: ['LTPC'], snapshot: false, tick: expect.objectContaining({ ltp: 102 }) },
    ]);
    expect(events[2]!.data!.ticks.updates.map((u) => [u.instrumentKey, u.tick.ltp])).toEqual([[B, 55]]);
    sub.dispose();
    await until(() => t.bus.stats().subscribers === 0, 'bus subscription freed after complete');
  });

  it('refuses keys outside the desired set with NOT_SUBSCRIBED naming subscribeInstruments', async () => {
    const sub = wsSubscribe(client(), TICKS, { keys: [A, 'NSE_EQ|INE000000000'] });
    const [result] = await sub
      .waitFor((e) => e.length >= 1 || sub.errors.length > 0, 'refusal')
      .catch(() => sub.events);
    const errors = result?.errors ?? (sub.errors[0] as { message: string; extensions: Record<string, unknown> }[]);
    expect(errors[0]!.extensions).toMatchObject({ code: 'NOT_SUBSCRIBED', instrumentKeys: ['NSE_EQ|INE000000000'] });
    expect(errors[0]!.message).toContain('subscribeInstruments');
    expect(t.bus.stats().subscribers).toBe(0);
  });

  it('frees the bus subscription when the client disconnects while the topic is idle', async () => {
    const c = wsClient(t.wsUrl);
    const sub = wsSubscribe<TicksData>(c, TICKS, { keys: [B] });
    await until(() => t.bus.stats().subscribers === 1, 'bus subscriber');
    await c.dispose(); // closes the socket; no tick is ever published for B afterwards
    await until(() => t.bus.stats().subscribers === 0, 'bus subscription freed on disconnect');
    expect(sub.events.length).toBeLessThanOrEqual(1);
  });

  it('answers a syntax error with an error message and keeps the connection usable', async () => {
    const c = client();
    const bad = wsSubscribe(c, 'subscription { ticks(');
    await bad.waitFor(() => bad.errors.length > 0, 'syntax error').catch(() => undefined);
    expect((bad.errors[0] as { message: string }[])[0]!.message).toMatch(/Syntax Error/);
    const good = wsSubscribe<{ ticks: unknown }>(c, TICKS, { keys: [A] });
    await good.waitFor((e) => e.length >= 1, 'snapshot after the syntax error');
    good.dispose();
  });

  it('refuses more than 500 keys in one subscription with TOO_MANY_INSTRUMENT_KEYS', async () => {
    const keys = Array.from({ length: 501 }, (_, i) => `NSE_FO|${i}`);
    const sub = wsSubscribe(client(), TICKS, { keys });
    const [result] = await sub.waitFor((e) => e.length >= 1, 'refusal');
    expect(result!.errors![0]!.extensions).toMatchObject({ code: 'TOO_MANY_INSTRUMENT_KEYS', limit: 500 });
  });

  it('limits operations per connection with TOO_MANY_SUBSCRIPTIONS', async () => {
    const c = client();
    const one = wsSubscribe(c, TICKS, { keys: [A] });
    const two = wsSubscribe(c, TICKS, { keys: [B] });
    await until(() => t.bus.stats().subscribers === 2, 'two subscriptions');
    const three = wsSubscribe(c, TICKS, { keys: [A] });
    await three.waitFor(() => three.errors.length > 0, 'refusal').catch(() => undefined);
    const errors = three.errors[0] as { extensions: Record<string, unknown> }[];
    expect(errors[0]!.extensions).toMatchObject({ code: 'TOO_MANY_SUBSCRIPTIONS', limit: 2 });
    one.dispose();
    two.dispose();
    await until(() => t.bus.stats().subscribers === 0, 'freed');
  });
});
