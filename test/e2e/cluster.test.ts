import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { FeedClient, FeedState } from '../../src/upstox/feed-client.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { gql, until, wsClient, wsSubscribe } from '../support/gql-server.js';
import { announceSkip, TEST_REDIS_URL } from '../support/services.js';

if (!TEST_REDIS_URL) announceSkip('several instances sharing one feed through Redis', 'TEST_REDIS_URL');

function waitForState(feed: FeedClient, state: FeedState): Promise<void> {
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

const RELIANCE = 'NSE_EQ|INE002A01018';
const INFOSYS = 'NSE_EQ|INE009A01021';
const apps: TestApp[] = [];
const dir = mkdtempSync(join(tmpdir(), 'tickgraph-cluster-'));
afterAll(async () => {
  for (const app of apps) await app.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!TEST_REDIS_URL)('several instances share one feed through Redis', () => {
  it('one leader holds the feed; a follower serves relayed live ticks and status, forwards mutations, and takes over', async () => {
    // Both instances share the database (the desired set) and a Redis namespace (the feed).
    const env = {
      REDIS_URL: TEST_REDIS_URL,
      REDIS_NAMESPACE: `e2e-${randomUUID()}`,
      DATABASE_URL: `file:${join(dir, 'shared.db')}`,
      SIMULATOR_TICKS_PER_SECOND: '200',
    };
    const leader = await startTestApp(env);
    apps.push(leader);
    await waitForState(leader.app.parts.feed!, 'CONNECTED');
    expect(leader.app.parts.relay!.isLeader()).toBe(true);

    const follower = await startTestApp(env);
    apps.push(follower);
    expect(follower.app.parts.relay!.isLeader()).toBe(false);
    expect(follower.app.parts.feed!.status().state).toBe('STOPPED');

    // Live ticks reach a graphql-ws subscriber of the follower, relayed from the leader's feed.
    const client = wsClient(`ws://127.0.0.1:${follower.port}/graphql`);
    const live = wsSubscribe<{ ticks: { updates: { instrumentKey: string; tick: { ltp: number } }[] } }>(
      client,
      'subscription ($keys: [String!]!) { ticks(instrumentKeys: $keys, includeSnapshot: false) { updates { instrumentKey tick { ltp } } } }',
      { keys: [RELIANCE] },
    );
    await live.waitFor(
      (events) => events.some((e) => e.data?.ticks.updates.some((u) => u.instrumentKey === RELIANCE)),
      'a relayed tick',
    );
    expect(follower.app.parts.relay!.stats().received).toBeGreaterThan(0);
    expect(leader.app.parts.services!.cache.get(RELIANCE)?.ltp).toBeGreaterThan(0);

    // The follower answers feedStatus with the leader's status.
    await until(() => follower.app.parts.relay!.followerStatus() !== null, 'a relayed status');
    const status = await gql<{ feedStatus: { state: string; source: string } }>(
      follower.url,
      '{ feedStatus { state source } }',
    );
    expect(status.data?.feedStatus).toEqual({ state: 'CONNECTED', source: 'SIMULATOR' });

    // A mutation on the follower is persisted and applied by the leader's feed.
    const simulator = leader.app.parts.simulator!;
    const applied = new Promise<void>((resolve) => {
      const off = simulator.on('request', () => {
        if (simulator.connections().some((c) => c.subscriptions.get(INFOSYS) === 'ltpc')) {
          off();
          resolve();
        }
      });
    });
    const mutation = await gql<{ changeMode: { outcome: string }[] }>(
      follower.url,
      'mutation ($keys: [String!]!) { changeMode(instrumentKeys: $keys, mode: LTPC) { outcome } }',
      { keys: [INFOSYS] },
    );
    expect(mutation.errors).toBeUndefined();
    expect(mutation.data?.changeMode[0]?.outcome).toBe('MODE_CHANGED');
    await applied;
    expect(leader.app.parts.feed!.desired().get(INFOSYS)).toBe('ltpc');

    // The leader stops: the follower takes the feed over at once (the lock is released, not left to expire).
    const takeover = waitForState(follower.app.parts.feed!, 'CONNECTED');
    await leader.stop();
    apps.splice(apps.indexOf(leader), 1);
    await takeover;
    expect(follower.app.parts.relay!.isLeader()).toBe(true);
    expect(follower.app.parts.feed!.desired().get(INFOSYS)).toBe('ltpc');
    live.dispose();
    await client.dispose();
  });
});
