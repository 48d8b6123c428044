import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createRedisRelay, type RedisRelay } from '../../src/cluster/redis-relay.js';
import { silentLogger } from '../../src/logger.js';
import type { FeedStatus } from '../../src/upstox/feed-client.js';
import { makeBatch, makeFullTick, makeUpdate } from '../support/bus-fixtures.js';
import { createEventLog, createRecordingBus, createRecordingCache } from '../support/bus-redis.js';
import { startTcpProxy, type TcpProxy } from '../support/bus-tcp-proxy.js';
import { announceSkip, TEST_REDIS_URL } from '../support/services.js';

if (!TEST_REDIS_URL) announceSkip('Redis relay integration tests', 'TEST_REDIS_URL');

const status: FeedStatus = {
  state: 'CONNECTED',
  source: 'SIMULATOR',
  connectedSince: 1_760_000_000_000,
  reconnects: 0,
  lastFrameAt: 1_760_000_001_000,
  lastError: null,
  framesDecoded: 3,
  ticksDecoded: 42,
  decodeErrors: 0,
  framesPerSecond: 1,
  ticksPerSecond: 14,
  keysByMode: { ltpc: 2, option_greeks: 0, full: 1, full_d30: 0 },
  activeKeysByMode: { ltpc: 2, option_greeks: 0, full: 1, full_d30: 0 },
  segments: [],
};

const relays: RedisRelay[] = [];
const proxies: TcpProxy[] = [];

function node(
  namespace: string,
  instanceId: string,
  url = TEST_REDIS_URL,
  connectTimeoutMs?: number,
  statusSource?: () => FeedStatus,
) {
  const links = createEventLog<boolean>();
  const bus = createRecordingBus();
  const cache = createRecordingCache();
  const roles = createEventLog<'leader' | 'follower'>();
  const statuses = createEventLog<FeedStatus>();
  const notices = createEventLog<number>();
  const relay = createRedisRelay({
    url,
    namespace,
    instanceId,
    lockTtlMs: 1_500,
    statusIntervalMs: 100,
    logger: silentLogger(),
    bus,
    cache,
    onLeader: () => roles.push('leader'),
    onFollower: () => roles.push('follower'),
    onStatus: (s) => statuses.push(s),
    ...(connectTimeoutMs === undefined ? {} : { connectTimeoutMs }),
    ...(statusSource === undefined ? {} : { status: statusSource }),
    onConnectionChange: (up) => links.push(up),
  });
  relay.onSubscriptionsChanged(() => notices.push(Date.now()));
  relays.push(relay);
  return { relay, bus, cache, roles, statuses, notices, links };
}

const uniqueNamespace = () => `tickgraph-test-relay-${randomUUID().slice(0, 8)}`;

afterEach(async () => {
  await Promise.all(relays.splice(0).map((relay) => relay.stop()));
  await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
});

describe.skipIf(!TEST_REDIS_URL)('redis relay (real Redis)', () => {
  let raw: Redis;
  const namespaces: string[] = [];

  beforeAll(() => {
    raw = new Redis(TEST_REDIS_URL);
  });

  afterAll(async () => {
    if (namespaces.length > 0) await raw.del(...namespaces.map((ns) => `${ns}:leader`));
    await raw.quit();
  });

  async function startedPair() {
    const namespace = uniqueNamespace();
    namespaces.push(namespace);
    const a = node(namespace, `a-${namespace}`);
    const b = node(namespace, `b-${namespace}`);
    await Promise.all([a.relay.start(), b.relay.start()]);
    const [leader, follower] = a.relay.isLeader() ? [a, b] : [b, a];
    return { namespace, leader, follower, both: [a, b] };
  }

  it('elects exactly one leader among two instances and stores its id in the lock', async () => {
    const { namespace, leader, both } = await startedPair();
    expect(both.filter((n) => n.relay.isLeader())).toHaveLength(1);
    expect(both.flatMap((n) => n.roles.items)).toEqual(['leader']);
    expect(await raw.get(`${namespace}:leader`)).toBe(leader.relay.instanceId);
    expect(await raw.pttl(`${namespace}:leader`)).toBeGreaterThan(0);
    expect(leader.relay.stats().role).toBe('leader');
  });

  it("delivers the leader's batches to the follower's bus and cache, and not back to the leader", async () => {
    const { leader, follower } = await startedPair();
    const batch = makeBatch(
      { tick: makeFullTick('NSE_EQ|INE002A01018', 1_234.5), changed: 3, snapshot: true },
      makeUpdate('NSE_INDEX|Nifty 50', 24_500.25),
    );
    expect(follower.relay.publishBatch(batch)).toBe(false);
    expect(leader.relay.publishBatch(batch)).toBe(true);
    await follower.bus.batches.waitFor((b) => b.length === 1, 10_000, 'relayed batch');
    expect(follower.bus.batches.items[0]).toEqual(batch);
    expect(follower.cache.ticks.items).toEqual(batch.updates.map((u) => u.tick));
    expect(follower.relay.stats()).toMatchObject({ received: 1, updatesReceived: 2, decodeErrors: 0 });
    expect(leader.bus.batches.items).toEqual([]);
    expect(leader.relay.stats().bytesPublished).toBeGreaterThan(0);
  });

  it('hands leadership to the follower when the leader stops', async () => {
    const { namespace, leader, follower } = await startedPair();
    await leader.relay.stop();
    expect(leader.roles.items).toEqual(['leader', 'follower']);
    expect(leader.relay.stats().role).toBe('stopped');
    await follower.roles.waitFor((r) => r.includes('leader'), 10_000, 'follower to take over');
    expect(follower.relay.isLeader()).toBe(true);
    expect(await raw.get(`${namespace}:leader`)).toBe(follower.relay.instanceId);
  });

  it('steps down when its lock is found in another instance’s hands', async () => {
    const { namespace, leader, follower } = await startedPair();
    await raw.set(`${namespace}:leader`, 'intruder', 'PX', 60_000);
    await leader.roles.waitFor((r) => r.at(-1) === 'follower', 10_000, 'leader to step down');
    expect(leader.relay.isLeader()).toBe(false);
    expect(follower.relay.isLeader()).toBe(false);
    await raw.del(`${namespace}:leader`);
  });

  it('relays the leader status to followers, latest of a burst last', async () => {
    const { leader, follower } = await startedPair();
    expect(follower.relay.followerStatus()).toBeNull();
    leader.relay.publishStatus(status);
    leader.relay.publishStatus({ ...status, framesDecoded: 4 });
    leader.relay.publishStatus({ ...status, framesDecoded: 5 });
    await follower.statuses.waitFor((s) => s.length === 2, 10_000, 'two statuses');
    expect(follower.statuses.items.map((s) => s.framesDecoded)).toEqual([3, 5]);
    expect(follower.relay.followerStatus()).toEqual({ ...status, framesDecoded: 5 });
    expect(leader.relay.followerStatus()).toBeNull();
  });

  it('polls the status source while leading and relays it to followers', async () => {
    const namespace = uniqueNamespace();
    namespaces.push(namespace);
    let frames = 0;
    const source = () => ({ ...status, framesDecoded: ++frames });
    const a = node(namespace, `a-${namespace}`, TEST_REDIS_URL, undefined, source);
    const b = node(namespace, `b-${namespace}`, TEST_REDIS_URL, undefined, source);
    await Promise.all([a.relay.start(), b.relay.start()]);
    const follower = a.relay.isLeader() ? b : a;
    await follower.statuses.waitFor((s) => s.length >= 2, 10_000, 'two polled statuses');
    const seen = follower.statuses.items.map((s) => s.framesDecoded);
    expect(seen[1]!).toBeGreaterThan(seen[0]!);
    expect(follower.relay.stats().statusReceived).toBeGreaterThanOrEqual(2);
  });

  it('tells the leader when a follower changes the subscriptions, and runs the leader’s own notice locally', async () => {
    const { leader, follower } = await startedPair();
    await expect(follower.relay.notifySubscriptionsChanged()).resolves.toBe(true);
    await leader.notices.waitFor((n) => n.length === 1, 10_000, 'leader notice');
    await leader.relay.notifySubscriptionsChanged();
    expect(leader.notices.items).toHaveLength(2);
    expect(follower.notices.items).toHaveLength(0);
  });

  it('keeps leading while cut off from Redis, counts failed publishes, and steps down once back if another took over', async () => {
    const namespace = uniqueNamespace();
    namespaces.push(namespace);
    const target = new URL(TEST_REDIS_URL);
    const proxy = await startTcpProxy(target.hostname, Number(target.port || 6379));
    proxies.push(proxy);
    const viaProxy = new URL(TEST_REDIS_URL);
    viaProxy.hostname = '127.0.0.1';
    viaProxy.port = String(proxy.port);
    // The instance behind the proxy starts first, alone, so it is the leader.
    const cutOff = node(namespace, `cut-${namespace}`, viaProxy.toString());
    await cutOff.relay.start();
    expect(cutOff.relay.isLeader()).toBe(true);
    const direct = node(namespace, `direct-${namespace}`);
    await direct.relay.start();
    expect(direct.relay.isLeader()).toBe(false);

    proxy.cut();
    await cutOff.links.waitFor((l) => l.at(-1) === false, 10_000, 'link down');
    expect(cutOff.relay.publishBatch(makeBatch(makeUpdate('NSE_EQ|X', 1)))).toBe(false);
    expect(cutOff.relay.isLeader()).toBe(true);
    expect(cutOff.relay.stats()).toMatchObject({ connected: false, publishFailures: 1, role: 'leader' });

    // Its lock expires in Redis; the reachable instance takes over (two leaders for a while, by design).
    await direct.roles.waitFor((r) => r.includes('leader'), 10_000, 'direct instance to lead');
    expect(cutOff.relay.isLeader()).toBe(true);

    proxy.restore();
    await cutOff.roles.waitFor((r) => r.at(-1) === 'follower', 15_000, 'cut-off leader to step down');
    expect(cutOff.links.items.at(-1)).toBe(true);
    expect(direct.relay.isLeader()).toBe(true);
    // And it follows again: the new leader's batches reach it.
    direct.relay.publishBatch(makeBatch(makeUpdate('NSE_EQ|X', 2)));
    await cutOff.bus.batches.waitFor((b) => b.length === 1, 10_000, 'batch from the new leader');
    expect(cutOff.relay.stats()).toMatchObject({ subscriberReconnects: 1, connected: true, role: 'follower' });
    expect(cutOff.relay.stats().redisErrors).toBeGreaterThan(0);
  });

  it('counts and drops garbage on every channel, and keeps relaying', async () => {
    const { namespace, leader, follower } = await startedPair();
    await raw.publish(`${namespace}:ticks`, 'not json');
    await raw.publish(`${namespace}:ticks`, '[1,"x",0,0,[[1]]]');
    await raw.publish(`${namespace}:status`, '{"v":1,"sender":"x","status":{}}');
    await raw.publish(`${namespace}:subscriptions-changed`, '42');
    // Published after the garbage on the same server, so it arrives after it.
    leader.relay.publishBatch(makeBatch(makeUpdate('NSE_EQ|X', 1)));
    await follower.bus.batches.waitFor((b) => b.length === 1, 10_000, 'good batch after garbage');
    expect(follower.relay.stats()).toMatchObject({ decodeErrors: 4, received: 1, statusReceived: 0 });
    expect(follower.relay.followerStatus()).toBeNull();
    expect(leader.notices.items).toHaveLength(0);
  });
});

describe('redis relay without Redis', () => {
  it('starts as follower, refuses to publish and stops promptly when Redis is unreachable', async () => {
    const { relay } = node(uniqueNamespace(), 'lonely', 'redis://127.0.0.1:1', 200);
    await relay.start();
    expect(relay.isLeader()).toBe(false);
    expect(relay.publishBatch(makeBatch(makeUpdate('A', 1)))).toBe(false);
    await expect(relay.notifySubscriptionsChanged()).resolves.toBe(false);
    const stats = relay.stats();
    expect(stats.connected).toBe(false);
    expect(stats.redisErrors).toBeGreaterThan(0);
    await relay.stop();
    await relay.stop();
    expect(relay.stats().role).toBe('stopped');
  });
});
