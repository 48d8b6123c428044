import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { makeTick } from '../support/bus-fixtures.js';
import { type GqlTestServer, startGqlServer } from '../support/gql-server.js';

const A = 'NSE_EQ|INE002A01018';
const B = 'NSE_INDEX|Nifty 50';

describe('HTTP endpoints', () => {
  let t: GqlTestServer;
  beforeAll(async () => {
    t = await startGqlServer();
    await t.instruments.subscribe([A, B], 'full');
    t.cache.set(makeTick(A, 1_234.5, { mode: 'full' }));
  });
  afterAll(async () => {
    await t.stop();
  });

  it('answers /health with 200 while the process is alive', async () => {
    const res = await fetch(`${t.url}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('answers /ready with 200 when ready and 503 with the reasons when not', async () => {
    expect((await fetch(`${t.url}/ready`)).status).toBe(200);
    t.readiness.current = { ready: false, reasons: ['database unreachable'] };
    const res = await fetch(`${t.url}/ready`);
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ status: 'not ready', reasons: ['database unreachable'] });
    t.readiness.current = { ready: true, reasons: [] };
  });

  it('serves the REST compatibility endpoints as JSON', async () => {
    const status = await fetch(`${t.url}/api/v1/websocket/status`);
    expect(status.status).toBe(200);
    expect(await status.json()).toMatchObject({
      status: 'success',
      data: { state: 'CONNECTED', droppedTicks: [{ reason: 'recorder-queue-full', count: 3 }] },
    });

    const subs = (await (await fetch(`${t.url}/api/v1/websocket/subscriptions`)).json()) as {
      data: { instrumentKey: string; mode: string }[];
    };
    expect(subs.data.map((s) => [s.instrumentKey, s.mode])).toEqual([
      [A, 'FULL'],
      [B, 'FULL'],
    ]);

    const named = (await (
      await fetch(`${t.url}/api/v1/websocket/latest-ticks?instrumentKeys=${encodeURIComponent(`${A},${B}`)}`)
    ).json()) as { data: { instrumentKey: string; ltp: number }[] };
    expect(named.data).toEqual([expect.objectContaining({ instrumentKey: A, ltp: 1_234.5 })]);
    const all = (await (await fetch(`${t.url}/api/v1/websocket/latest-ticks`)).json()) as {
      data: { instrumentKey: string }[];
    };
    expect(all.data.map((tick) => tick.instrumentKey)).toEqual([A]);

    const bad = await fetch(`${t.url}/api/v1/websocket/latest-ticks?instrumentKeys=nope`);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ errors: [{ extensions: { code: 'INVALID_INSTRUMENT_KEY' } }] });
    expect((await fetch(`${t.url}/api/v1/websocket/other`)).status).toBe(404);
  });

  it('serves GraphiQL with WebSocket subscriptions and a live ticks example', async () => {
    const res = await fetch(`${t.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('subscriptionsProtocol');
    expect(html).toContain('WS');
    expect(html).toContain('subscription LiveTicks');
  });

  it('refuses a GET operation without a CSRF-preventing header and allows it with one', async () => {
    const query = encodeURIComponent('{ feedStatus { state } }');
    const plain = await fetch(`${t.url}/graphql?query=${query}`, { headers: { accept: 'application/json' } });
    expect(plain.status).toBe(403);
    const withHeader = await fetch(`${t.url}/graphql?query=${query}`, {
      headers: { accept: 'application/json', 'x-graphql-yoga-csrf': '1' },
    });
    expect(await withHeader.json()).toEqual({ data: { feedStatus: { state: 'CONNECTED' } } });
  });

  it('refuses a request body over the limit with 413 before parsing it', async () => {
    const res = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ feedStatus { state } }', variables: { pad: 'x'.repeat(1_100_000) } }),
    });
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({
      errors: [{ extensions: { code: 'PAYLOAD_TOO_LARGE', limit: 1_048_576 } }],
    });
  });

  it('answers unknown paths and upgrades elsewhere with 404', async () => {
    expect((await fetch(`${t.url}/nope`)).status).toBe(404);
    const error = await new Promise<Error>((resolve) => {
      const socket = new WebSocket(`ws://127.0.0.1:${t.port}/elsewhere`, 'graphql-transport-ws');
      socket.on('error', resolve);
    });
    expect(error.message).toContain('404');
  });
});

describe('server close', () => {
  it('closes WebSocket clients with 1001, then HTTP, and is idempotent', async () => {
    const t = await startGqlServer();
    const socket = new WebSocket(`ws://127.0.0.1:${t.port}/graphql`, 'graphql-transport-ws');
    await new Promise((resolve) => socket.once('open', resolve));
    const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
    const first = t.server.close();
    const second = t.server.close();
    expect(second).toBe(first);
    await first;
    expect(await closed).toBe(1001);
    expect(t.server.httpServer.listening).toBe(false);
    await t.stop();
  });

  it('closeWebSockets closes every graphql-ws client with the given code and keeps HTTP up', async () => {
    const t = await startGqlServer();
    try {
      const socket = new WebSocket(`ws://127.0.0.1:${t.port}/graphql`, 'graphql-transport-ws');
      await new Promise((resolve) => socket.once('open', resolve));
      const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
      await t.server.closeWebSockets();
      expect(await closed).toBe(1001);
      expect((await fetch(`${t.url}/health`)).status).toBe(200);
    } finally {
      await t.stop();
    }
  });
});
