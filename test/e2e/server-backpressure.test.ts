import type { Socket } from 'node:net';
import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { TickChange, type TickUpdate } from '../../src/ticks/tick.js';
import { makeBatch, makeFullTick } from '../support/bus-fixtures.js';
import { type GqlTestServer, startGqlServer, until, wsClient, wsSubscribe } from '../support/gql-server.js';

const KEYS = Array.from({ length: 100 }, (_, i) => `NSE_EQ|INE${String(i).padStart(6, '0')}01`);
const HEALTHY_KEY = KEYS[0]!;
const BATCHES = 400;

const HEAVY = /* GraphQL */ `
  subscription Heavy($keys: [String!]!) {
    ticks(instrumentKeys: $keys, includeSnapshot: false) {
      conflated
      updates { instrumentKey changed tick { instrumentKey ltp exchangeTs volume totalBuyQty totalSellQty averagePrice
        depth { bidQty bidPrice askQty askPrice } candles { interval open high low close volume ts } } }
    }
  }
`;

describe('a stalled graphql-ws client', () => {
  let t: GqlTestServer;
  let healthy: Client;
  let raw: WebSocket;

  beforeAll(async () => {
    t = await startGqlServer({ limits: { maxKeysPerRequest: 500 } });
    await t.instruments.subscribe(KEYS, 'full');
  });
  afterAll(async () => {
    raw?.terminate();
    await healthy?.dispose();
    await t.stop();
  });

  it('does not delay a healthy client: the healthy one gets every batch, the stalled one is conflated', async () => {
    // The stalled client: a raw graphql-transport-ws socket subscribing to 100 heavy full-mode keys.
    raw = new WebSocket(t.wsUrl, 'graphql-transport-ws');
    let stalledNexts = 0;
    let stalledConflated = 0;
    const lastLtpSeen = new Map<string, number>();
    const acked = new Promise<void>((resolve) => {
      raw.on('message', (data) => {
        const message = JSON.parse(String(data)) as {
          type: string;
          payload?: {
            data?: { ticks: { conflated: number; updates: { instrumentKey: string; tick: { ltp: number } }[] } };
          };
        };
        if (message.type === 'connection_ack') resolve();
        if (message.type === 'next') {
          stalledNexts++;
          stalledConflated = message.payload!.data!.ticks.conflated;
          for (const u of message.payload!.data!.ticks.updates) lastLtpSeen.set(u.instrumentKey, u.tick.ltp);
        }
      });
    });
    await new Promise((resolve) => raw.once('open', resolve));
    raw.send(JSON.stringify({ type: 'connection_init' }));
    await acked;
    raw.send(JSON.stringify({ id: 's', type: 'subscribe', payload: { query: HEAVY, variables: { keys: KEYS } } }));
    await until(() => t.bus.stats().subscribers === 1, 'stalled subscription');
    (raw as unknown as { _socket: Socket })._socket.pause(); // stop reading: TCP buffers fill, sends stop completing

    // The healthy client: one key, reads everything.
    healthy = wsClient(t.wsUrl);
    const sub = wsSubscribe<{ ticks: { conflated: number; updates: { tick: { ltp: number } }[] } }>(
      healthy,
      `subscription ($keys: [String!]!) { ticks(instrumentKeys: $keys, includeSnapshot: false) { conflated updates { tick { ltp } } } }`,
      { keys: [HEALTHY_KEY] },
    );
    await until(() => t.bus.stats().subscribers === 2, 'healthy subscription');

    // Publish one batch, wait for the healthy client to receive it, repeat: synchronised by its events.
    for (let i = 1; i <= BATCHES; i++) {
      const updates: TickUpdate[] = KEYS.map((key) => ({
        tick: makeFullTick(key, 1_000 + i),
        changed: TickChange.LTPC | TickChange.DEPTH,
        snapshot: false,
      }));
      t.bus.publish(makeBatch(...updates));
      await sub.waitFor((events) => events.length >= i, `healthy event ${i}`);
    }

    const ltps = sub.events.map((e) => e.data!.ticks.updates[0]!.tick.ltp);
    expect(ltps).toEqual(Array.from({ length: BATCHES }, (_, i) => 1_001 + i));
    expect(sub.events.at(-1)!.data!.ticks.conflated).toBe(0);
    // The stalled subscriber's buffer overflowed and was conflated (bounded memory), it was not disconnected.
    expect(t.bus.stats().conflated).toBeGreaterThan(0);
    expect(raw.readyState).toBe(WebSocket.OPEN);
    const seenWhileStalled = stalledNexts;
    expect(seenWhileStalled).toBeLessThan(BATCHES);

    // Resumed, it converges to the latest state of every key without receiving every intermediate batch.
    (raw as unknown as { _socket: Socket })._socket.resume();
    await until(
      () => KEYS.every((key) => lastLtpSeen.get(key) === 1_000 + BATCHES),
      'stalled client converges',
      30_000,
    );
    expect(stalledNexts).toBeLessThan(BATCHES);
    // ...and its events say how much was merged away for it.
    expect(stalledConflated).toBeGreaterThan(0);
  });
});

describe('closing the server with a stalled client', () => {
  it('terminates a client that cannot take the close frame, frees its bus subscription and finishes', async () => {
    const t = await startGqlServer({ wsCloseTimeoutMs: 200 });
    await t.instruments.subscribe(KEYS, 'full');
    const raw = new WebSocket(t.wsUrl, 'graphql-transport-ws');
    try {
      const acked = new Promise<void>((resolve) =>
        raw.on('message', (data) => {
          if (JSON.parse(String(data)).type === 'connection_ack') resolve();
        }),
      );
      await new Promise((resolve) => raw.once('open', resolve));
      raw.send(JSON.stringify({ type: 'connection_init' }));
      await acked;
      raw.send(JSON.stringify({ id: 's', type: 'subscribe', payload: { query: HEAVY, variables: { keys: KEYS } } }));
      await until(() => t.bus.stats().subscribers === 1, 'stalled subscription');
      (raw as unknown as { _socket: Socket })._socket.pause();

      // Publish until the server's sends to it stop completing (its bus buffer starts conflating).
      for (let i = 1; t.bus.stats().conflated === 0; i++) {
        if (i > 5_000) throw new Error('the client never stalled');
        t.bus.publish(
          makeBatch(...KEYS.map((key) => ({ tick: makeFullTick(key, i), changed: TickChange.LTPC, snapshot: false }))),
        );
        await new Promise((resolve) => setImmediate(resolve));
      }

      await t.server.close();
      expect(t.server.httpServer.listening).toBe(false);
      await until(() => t.bus.stats().subscribers === 0, 'bus subscription freed');
    } finally {
      raw.terminate();
      await t.stop();
    }
  });
});
