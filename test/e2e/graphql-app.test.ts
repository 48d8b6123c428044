/**
 * The GraphQL API against the whole app (src/app.ts) with the embedded simulator: real feed client,
 * decoder, cache, pipeline, bus, recorder and SQLite store.
 */
import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { gql, sseSubscribe, wsClient, wsSubscribe } from '../support/gql-server.js';

type Update = {
  instrumentKey: string;
  snapshot: boolean;
  tick: { mode: string; ltp: number | null; depth: unknown[] | null };
};

/** Re-runs `probe` (one HTTP round trip each) until it returns a value, bounded. */
async function eventually<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
  }
}

describe('GraphQL API on the real app with the simulator', () => {
  let t: TestApp;
  let keys: string[];
  const clients: Client[] = [];
  beforeAll(async () => {
    t = await startTestApp({ SIMULATOR_TICKS_PER_SECOND: '200' });
    const res = await gql<{ instrumentSubscriptions: { instrumentKey: string }[] }>(
      t.url,
      '{ instrumentSubscriptions { instrumentKey } }',
    );
    keys = res.data!.instrumentSubscriptions.map((s) => s.instrumentKey);
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.dispose()));
    await t?.stop();
  });

  it('streams live simulator ticks over graphql-ws and SSE', async () => {
    expect(keys.length).toBeGreaterThan(0);
    const query =
      'subscription ($k: [String!]!) { ticks(instrumentKeys: $k) { updates { instrumentKey snapshot tick { mode ltp depth { bidPrice } } } } }';
    const c = wsClient(`ws://127.0.0.1:${t.port}/graphql`);
    clients.push(c);
    const ws = wsSubscribe<{ ticks: { updates: Update[] } }>(c, query, { k: keys });
    const sse = sseSubscribe<{ ticks: { updates: Update[] } }>(t.url, query, { k: keys });
    const live = (events: { data?: { ticks: { updates: Update[] } } | null }[]) =>
      events.flatMap((e) => e.data?.ticks.updates ?? []).filter((u) => !u.snapshot);
    await ws.waitFor((events) => live(events).length >= 5, 'live ticks over graphql-ws');
    await sse.waitFor((events) => live(events).length >= 5, 'live ticks over SSE');
    for (const update of live(ws.events)) {
      expect(keys).toContain(update.instrumentKey);
      expect(typeof update.tick.ltp).toBe('number');
    }
    ws.dispose();
    sse.dispose();
  });

  it('changes a mode through the mutation and the live ticks follow it', async () => {
    const key = keys.find((k) => k.startsWith('NSE_EQ|'))!;
    const changeMode = async (mode: string) => {
      const res = await gql<{ changeMode: { outcome: string; mode: string }[] }>(
        t.url,
        'mutation ($k: [String!]!, $m: FeedMode!) { changeMode(instrumentKeys: $k, mode: $m) { outcome mode } }',
        { k: [key], m: mode },
      );
      return res.data!.changeMode[0];
    };
    const c = wsClient(`ws://127.0.0.1:${t.port}/graphql`);
    clients.push(c);
    const sub = wsSubscribe<{ ticks: { updates: Update[] } }>(
      c,
      'subscription ($k: [String!]!) { ticks(instrumentKeys: $k, includeSnapshot: false) { updates { instrumentKey snapshot tick { mode ltp depth { bidPrice } } } } }',
      { k: [key] },
    );
    const ticks = (events: { data?: { ticks: { updates: Update[] } } | null }[]) =>
      events.flatMap((e) => e.data?.ticks.updates ?? []).map((u) => u.tick);

    expect(await changeMode('LTPC')).toEqual({ outcome: 'MODE_CHANGED', mode: 'LTPC' });
    await sub.waitFor((events) => ticks(events).some((tick) => tick.mode === 'LTPC'), 'an LTPC tick');
    const seen = sub.events.length;
    expect(await changeMode('FULL')).toEqual({ outcome: 'MODE_CHANGED', mode: 'FULL' });
    await sub.waitFor(
      (events) => ticks(events.slice(seen)).some((tick) => tick.mode === 'FULL' && (tick.depth?.length ?? 0) > 0),
      'a FULL tick with depth',
    );
    sub.dispose();
  });

  it('pages recorded history and reports feed status', async () => {
    const key = keys[0]!;
    const page = await eventually(async () => {
      const res = await gql<{
        ticks: { edges: { cursor: string; node: { exchangeTs: number } }[]; pageInfo: { endCursor: string | null } };
      }>(
        t.url,
        'query ($k: String!) { ticks(instrumentKey: $k, first: 2, order: OLDEST_FIRST) { edges { cursor node { exchangeTs } } pageInfo { endCursor } } }',
        { k: key },
      );
      expect(res.errors).toBeUndefined();
      return res.data!.ticks.edges.length === 2 ? res.data!.ticks : undefined;
    }, 'two recorded ticks');
    expect(page.edges[0]!.node.exchangeTs).toBeLessThanOrEqual(page.edges[1]!.node.exchangeTs);
    const next = await gql<{ ticks: { edges: { node: { exchangeTs: number } }[] } }>(
      t.url,
      'query ($k: String!, $a: String) { ticks(instrumentKey: $k, first: 2, order: OLDEST_FIRST, after: $a) { edges { node { exchangeTs } } } }',
      { k: key, a: page.pageInfo.endCursor },
    );
    expect(next.errors).toBeUndefined();
    for (const edge of next.data!.ticks.edges)
      expect(edge.node.exchangeTs).toBeGreaterThanOrEqual(page.edges[1]!.node.exchangeTs);

    const status = await gql<{ feedStatus: { state: string; source: string; ticksDecoded: number } }>(
      t.url,
      '{ feedStatus { state source ticksDecoded } }',
    );
    expect(status.data!.feedStatus).toMatchObject({ state: 'CONNECTED', source: 'SIMULATOR' });
    expect(status.data!.feedStatus.ticksDecoded).toBeGreaterThan(0);
  });
});
