import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSimulator, type Simulator } from '../../src/simulator/simulator.js';
import type { FeedState } from '../../src/upstox/feed-client.js';
import { startTestApp, type TestApp } from '../support/app.js';

const TOKEN = 'eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.upstox-access-token-under-test';
const READ_KEY = 'read-key-aaaaaaaaaaaaaaaa';
const ADMIN_KEY = 'admin-key-bbbbbbbbbbbbbbbb';

let simulator: Simulator;
let t: TestApp;
const responses: string[] = [];

function waitForState(state: FeedState): Promise<void> {
  const feed = t.app.parts.feed!;
  if (feed.status().state === state) return Promise.resolve();
  return new Promise((resolve) => {
    const off = feed.on('status', (status) => {
      if (status.state === state) {
        off();
        resolve();
      }
    });
  });
}

async function gql(query: string, key?: string, variables?: Record<string, unknown>) {
  const response = await fetch(`${t.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const text = await response.text();
  responses.push(text);
  return JSON.parse(text) as { data?: any; errors?: Array<{ message: string; extensions?: { code?: string } }> };
}

beforeAll(async () => {
  simulator = createSimulator({ accessTokens: [TOKEN], ticksPerSecond: 20 });
  await simulator.start();
  t = await startTestApp({
    UPSTOX_ACCESS_TOKEN: TOKEN,
    UPSTOX_API_BASE: simulator.url,
    API_KEYS_READ: READ_KEY,
    API_KEYS_ADMIN: ADMIN_KEY,
  });
});

afterAll(async () => {
  await t?.stop();
  await simulator?.stop();
});

describe('secrets', () => {
  it('never show the Upstox token or API keys in logs, errors or GraphQL responses, even after a 401', async () => {
    await waitForState('CONNECTED');
    const ok = await gql('{ feedStatus { state source lastError } }', READ_KEY);
    expect(ok.data.feedStatus.source).toBe('UPSTOX');

    // Wrong keys, forbidden mutations and broken documents all produce errors; none may echo a secret.
    expect((await gql('{ feedStatus { state } }', `${ADMIN_KEY}x`)).errors).toBeDefined();
    const forbidden = await gql(
      'mutation { unsubscribeInstruments(instrumentKeys: ["NSE_EQ|INE002A01018"]) { outcome } }',
      READ_KEY,
    );
    expect(forbidden.errors?.[0]?.extensions?.code).toBeDefined();
    expect((await gql('{ feedStatus { nope } }', READ_KEY)).errors).toBeDefined();
    expect((await gql(`{ latestTick(instrumentKey: "${TOKEN}") { ltp } }`, READ_KEY)).errors).toBeDefined();

    // The token is revoked upstream: the next connection's authorize fails with 401.
    simulator.setAccessTokens(['some-other-token']);
    const unauthorized = waitForState('UNAUTHORIZED');
    simulator.faults.drop();
    await unauthorized;
    const after = await gql('{ feedStatus { state lastError } }', ADMIN_KEY);
    expect(after.data.feedStatus.state).toBe('UNAUTHORIZED');
    expect(after.data.feedStatus.lastError).toBeTruthy();

    const everything = [...t.logs, ...responses].join('\n');
    expect(t.logs.length).toBeGreaterThan(5);
    for (const secret of [TOKEN, READ_KEY, ADMIN_KEY]) expect(everything).not.toContain(secret);
    // The JWT's distinctive middle part must not leak either (e.g. a log that cut the token short).
    expect(everything).not.toContain('upstox-access-token-under-test');
  });
});
