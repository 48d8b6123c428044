import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  type GqlTestServer,
  gql,
  sseSubscribe,
  startGqlServer,
  until,
  wsClient,
  wsSubscribe,
} from '../support/gql-server.js';

const ADMIN = 'adminkey0123456789';
const READ = 'read-key-0123456789';
const A = 'NSE_EQ|INE002A01018';
const SUBSCRIBE = 'mutation ($k: [String!]!) { subscribeInstruments(instrumentKeys: $k) { outcome } }';

/** Opens a graphql-ws connection with `params` and resolves with the close code (or 'acked'). */
function connect(url: string, params: Record<string, unknown> | undefined): Promise<number | 'acked'> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, 'graphql-transport-ws');
    socket.on('open', () =>
      socket.send(JSON.stringify({ type: 'connection_init', ...(params ? { payload: params } : {}) })),
    );
    socket.on('message', (data) => {
      if (JSON.parse(String(data)).type === 'connection_ack') {
        socket.close(1000);
        resolve('acked');
      }
    });
    socket.on('close', (code) => resolve(code));
    socket.on('error', reject);
  });
}

describe('API keys', () => {
  let t: GqlTestServer;
  const clients: Client[] = [];
  beforeAll(async () => {
    t = await startGqlServer({ auth: { adminKeys: [ADMIN], readKeys: [READ] }, secrets: [ADMIN, READ] });
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.dispose()));
    await t.stop();
  });

  it('refuses HTTP requests without a key with 401 UNAUTHENTICATED', async () => {
    const res = await gql(t.url, '{ feedStatus { state } }');
    expect(res.status).toBe(401);
    expect(res.errors![0]!.extensions).toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('refuses a wrong key without echoing it', async () => {
    const res = await gql(t.url, '{ feedStatus { state } }', {}, { authorization: 'Bearer not-a-real-key-42' });
    expect(res.status).toBe(401);
    expect(JSON.stringify(res)).not.toContain('not-a-real-key-42');
  });

  it('lets a read key query (Bearer or x-api-key) but not mutate (403 FORBIDDEN)', async () => {
    const bearer = await gql(t.url, '{ feedStatus { state } }', {}, { authorization: `Bearer ${READ}` });
    expect(bearer.data).toEqual({ feedStatus: { state: 'CONNECTED' } });
    const header = await gql(t.url, '{ feedStatus { state } }', {}, { 'x-api-key': READ });
    expect(header.errors).toBeUndefined();
    const mutation = await gql(t.url, SUBSCRIBE, { k: [A] }, { authorization: `Bearer ${READ}` });
    expect(mutation.status).toBe(403);
    expect(mutation.errors![0]!.extensions).toMatchObject({ code: 'FORBIDDEN' });
    expect(t.feed.desired().size).toBe(0);
  });

  it('lets an admin key mutate', async () => {
    const res = await gql(t.url, SUBSCRIBE, { k: [A] }, { authorization: `Bearer ${ADMIN}` });
    expect(res.data).toEqual({ subscribeInstruments: [{ outcome: 'SUBSCRIBED' }] });
  });

  it('refuses SSE subscriptions without a key', async () => {
    const sub = sseSubscribe(t.url, 'subscription { feedStatus { state } }');
    const response = await sub.response;
    expect(response.status).toBe(401);
    sub.dispose();
  });

  it('closes graphql-ws connections with a bad or missing key with 4403', async () => {
    expect(await connect(t.wsUrl, { authorization: 'Bearer wrong-key-xyz' })).toBe(4403);
    expect(await connect(t.wsUrl, undefined)).toBe(4403);
    expect(await connect(t.wsUrl, { apiKey: READ })).toBe('acked');
    expect(await connect(t.wsUrl, { authorization: `Bearer ${ADMIN}` })).toBe('acked');
  });

  it('never echoes a configured key in a validation error, over HTTP or graphql-ws', async () => {
    const http = await gql(t.url, `{ ${ADMIN} }`, {}, { authorization: `Bearer ${READ}` });
    expect(http.errors).toBeDefined();
    expect(JSON.stringify(http)).not.toContain(ADMIN);
    const c = wsClient(t.wsUrl, { authorization: `Bearer ${READ}` });
    clients.push(c);
    const sub = wsSubscribe(c, `subscription { ${ADMIN} }`);
    await sub.waitFor(() => sub.errors.length > 0, 'validation error').catch(() => undefined);
    expect(JSON.stringify(sub.errors)).toContain('Cannot query field');
    expect(JSON.stringify(sub.errors)).not.toContain(ADMIN);
  });

  it('never writes a key to the log', () => {
    const all = t.logs.join('\n');
    expect(all.length).toBeGreaterThan(0);
    for (const secret of [ADMIN, READ, 'not-a-real-key-42', 'wrong-key-xyz']) expect(all).not.toContain(secret);
  });

  it('lets a read key subscribe over graphql-ws but not mutate', async () => {
    const c = wsClient(t.wsUrl, { authorization: `Bearer ${READ}` });
    clients.push(c);
    const sub = wsSubscribe<{ ticks: unknown }>(
      c,
      'subscription ($k: [String!]!) { ticks(instrumentKeys: $k) { updates { instrumentKey } } }',
      { k: [A] },
    );
    await until(() => t.bus.stats().subscribers === 1, 'read-key subscription');
    const mutation = wsSubscribe(c, SUBSCRIBE, { k: ['NSE_EQ|INE467B01029'] });
    const [result] = await mutation.waitFor((e) => e.length >= 1, 'mutation result');
    expect(result!.errors![0]!.extensions).toMatchObject({ code: 'FORBIDDEN' });
    sub.dispose();
    await until(() => t.bus.stats().subscribers === 0, 'freed');
  });
});
