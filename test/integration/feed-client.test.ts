import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type WebSocket, WebSocketServer } from 'ws';
import { createLogger } from '../../src/logger.js';
import { generateUniverse } from '../../src/simulator/market-model.js';
import { readRecording } from '../../src/simulator/recording.js';
import type { WireFeed } from '../../src/simulator/wire.js';
import { createLatestCache } from '../../src/ticks/latest-cache.js';
import type { Tick, TickBatch } from '../../src/ticks/tick.js';
import { AuthorizeError, authorize, parseRetryAfter, redactFeedUrl } from '../../src/upstox/authorizer.js';
import {
  createFeedClient,
  FeedConnectionError,
  fullJitterBackoff,
  InvalidInstrumentKeyError,
} from '../../src/upstox/feed-client.js';
import { encodeFeedResponse } from '../../src/upstox/proto.js';
import type { FeedMode } from '../../src/upstox/protocol.js';
import { CapExceededError } from '../../src/upstox/subscriptions.js';
import { type FeedHarness, startFeedHarness } from '../support/feed-harness.js';

const harnesses: FeedHarness[] = [];
async function harness(...args: Parameters<typeof startFeedHarness>): Promise<FeedHarness> {
  const h = await startFeedHarness(...args);
  harnesses.push(h);
  return h;
}
afterEach(async () => {
  await Promise.all(harnesses.splice(0).map((h) => h.stop()));
});

const universe = generateUniverse({ equities: 2_000, indices: false, seed: 3 });
const allKeys = universe.map((i) => i.key);
const desiredOf = (keys: readonly string[], mode: FeedMode) => new Map(keys.map((k) => [k, mode]));

/** Checks every field the simulator put on the wire for `key` against our merged tick. */
function expectTickMatchesFeed(tick: Tick, feed: WireFeed): void {
  const ff = feed.fullFeed?.marketFF;
  const ltpc = feed.ltpc ?? ff?.ltpc ?? feed.fullFeed?.indexFF?.ltpc ?? feed.firstLevelWithGreeks?.ltpc;
  if (ltpc) {
    expect(tick.ltp).toBe(ltpc.ltp ?? 0);
    if (ltpc.ltt !== undefined) expect(tick.lastTradeTime).toBe(ltpc.ltt);
    if (ltpc.ltq !== undefined) expect(tick.ltq).toBe(ltpc.ltq);
    if (ltpc.cp !== undefined) expect(tick.closePrice).toBe(ltpc.cp);
  }
  if (ff?.marketLevel) {
    expect(tick.depth).toEqual(
      ff.marketLevel.bidAskQuote.map((q) => ({
        bidQty: q.bidQ ?? 0,
        bidPrice: q.bidP ?? 0,
        askQty: q.askQ ?? 0,
        askPrice: q.askP ?? 0,
      })),
    );
  }
  if (ff?.vtt !== undefined) expect(tick.volume).toBe(ff.vtt);
  if (ff?.atp !== undefined) expect(tick.averagePrice).toBe(ff.atp);
  if (ff?.tbq !== undefined) expect(tick.totalBuyQty).toBe(ff.tbq);
  if (ff?.marketOHLC) {
    for (const o of ff.marketOHLC.ohlc) {
      const candle = tick.candles?.find((c) => c.interval === o.interval);
      expect(candle).toMatchObject({ open: o.open ?? 0, high: o.high ?? 0, close: o.close ?? 0, ts: o.ts ?? 0 });
    }
  }
}

describe('feed client against the simulator', () => {
  it('subscribes 2,000 full keys, gets a snapshot and live ticks equal to what the simulator sent', async () => {
    const h = await harness(
      { universe, ticksPerSecond: 1_000, frameIntervalMs: 50 },
      { desired: desiredOf(allKeys, 'full') },
    );
    h.client.start();

    const conn = await h.until(
      () => h.sim.connections().find((c) => c.subscriptions.size === 2_000),
      'the simulator to hold 2,000 subscriptions',
    );
    expect([...conn.subscriptions.values()].every((m) => m === 'full')).toBe(true);
    const subs = h.events.request.filter((r) => r.request.method === 'sub');
    expect(subs.map((r) => r.request.data.instrumentKeys.length)).toEqual([500, 500, 500, 500]);

    // Snapshot: every key arrives flagged snapshot, with the values of the simulator's initial_feed frames.
    const snapshots = new Map<string, Tick>();
    let scanned = 0;
    await h.until(() => {
      for (; scanned < h.batches.length; scanned++) {
        for (const u of h.batches[scanned]!.updates) if (u.snapshot) snapshots.set(u.tick.instrumentKey, u.tick);
      }
      return snapshots.size === 2_000;
    }, 'snapshot ticks for 2,000 keys');
    const snapshotFrames = h.events.frame.filter((f) => f.type === 'initial_feed');
    let compared = 0;
    for (const frame of snapshotFrames) {
      for (const [key, feed] of Object.entries(frame.response.feeds ?? {})) {
        expectTickMatchesFeed(snapshots.get(key)!, feed);
        expect(snapshots.get(key)?.mode).toBe('full');
        expect(snapshots.get(key)?.depth).toHaveLength(5);
        compared++;
      }
    }
    expect(compared).toBe(2_000);

    // Live: match frames by currentTs and compare each key's wire fields with the merged tick we emitted.
    const ours = new Map<number, TickBatch>();
    let seen = 0;
    const live = await h.until(() => {
      for (; seen < h.batches.length; seen++) {
        const b = h.batches[seen]!;
        if (!b.updates[0]?.snapshot) ours.set(b.exchangeTs, b);
      }
      const matched = h.events.frame
        .filter((f) => f.type === 'live_feed' && ours.has(f.sentAt))
        .map((f) => ({ frame: f, batch: ours.get(f.sentAt)! }));
      return matched.length >= 3 ? matched : false;
    }, 'three live frames');
    for (const { frame, batch } of live) {
      const byKey = new Map(batch.updates.map((u) => [u.tick.instrumentKey, u]));
      const feeds = Object.entries(frame.response.feeds ?? {});
      expect(byKey.size).toBe(feeds.length);
      for (const [key, feed] of feeds) {
        const update = byKey.get(key)!;
        expect(update.snapshot).toBe(false);
        expectTickMatchesFeed(update.tick, feed);
      }
    }
    const status = h.client.status();
    expect(status).toMatchObject({ state: 'CONNECTED', source: 'SIMULATOR', reconnects: 0, decodeErrors: 0 });
    expect(status.framesPerSecond).toBeGreaterThan(0);
    expect(status.ticksPerSecond).toBeGreaterThan(0);
    expect(status.ticksDecoded).toBeGreaterThanOrEqual(2_000);
    expect(status.lastFrameAt).not.toBeNull();
    expect(status.keysByMode.full).toBe(2_000);
    expect(status.activeKeysByMode.full).toBe(2_000);
    expect(status.segments.length).toBeGreaterThanOrEqual(11);
    expect(status.segments.find((s) => s.segment === 'NSE_EQ')).toMatchObject({
      status: 'NORMAL_OPEN',
      preOpenStatus: 'PRE_OPEN_END',
    });
  });

  it('changes mode with change_mode, unsubscribes removed keys, and replays exactly the desired set after a drop', async () => {
    const keys = allKeys.slice(0, 300);
    const h = await harness(
      { universe, ticksPerSecond: 500, frameIntervalMs: 50 },
      { desired: desiredOf(keys, 'full') },
    );
    h.client.start();
    await h.until(() => h.sim.connections()[0]?.subscriptions.size === 300, '300 subscriptions');
    await h.until(() => h.cache.size === 300, 'snapshots for 300 keys');

    // change_mode: the first 100 keys go to ltpc
    const next = new Map(h.client.desired());
    for (const k of keys.slice(0, 100)) next.set(k, 'ltpc');
    h.client.setDesired(next);
    const change = await h.until(
      () => h.events.request.find((r) => r.request.method === 'change_mode'),
      'a change_mode request',
    );
    expect(change.request.data).toEqual({ mode: 'ltpc', instrumentKeys: keys.slice(0, 100) });
    expect(h.events.request.filter((r) => r.request.method === 'sub')).toHaveLength(1); // never `sub` for a mode change
    await h.until(() => keys.slice(0, 100).every((k) => h.cache.get(k)?.mode === 'ltpc'), 'ltpc ticks for moved keys');
    expect(h.cache.get(keys[0]!)?.depth).toBeNull();

    // unsub: drop the last 100
    const smaller = new Map(next);
    for (const k of keys.slice(200)) smaller.delete(k);
    h.client.setDesired(smaller);
    await h.until(() => h.sim.connections()[0]?.subscriptions.size === 200, 'the simulator to hold 200 keys');
    const unsub = h.events.request.find((r) => r.request.method === 'unsub')!;
    expect(unsub.request.data).toEqual({ instrumentKeys: keys.slice(200) });
    expect(h.client.active().size).toBe(200);
    expect(h.cache.get(keys[250]!)).toBeUndefined();

    // forced drop → reconnect → exactly the desired set again, each key once
    const firstConnection = h.sim.connections()[0]!.id;
    h.events.request.length = 0;
    h.sim.faults.drop();
    const second = await h.until(
      () => h.sim.connections().find((c) => c.id !== firstConnection && c.subscriptions.size === 200),
      'a second connection holding 200 keys',
    );
    expect(new Map(second.subscriptions)).toEqual(smaller);
    const replayed = h.events.request.filter((r) => r.connectionId === second.id);
    expect(replayed.every((r) => r.request.method === 'sub')).toBe(true);
    const sentKeys = replayed.flatMap((r) => r.request.data.instrumentKeys);
    expect(sentKeys).toHaveLength(200);
    expect(new Set(sentKeys).size).toBe(200);
    await h.until(
      () => h.client.status().state === 'CONNECTED' && h.client.status().reconnects === 1,
      'CONNECTED again',
    );
    expect(h.client.status().lastError).toBe('feed socket closed with code 1006');
  });

  it('goes UNAUTHORIZED on a 401 and makes no further authorize call until the token changes', async () => {
    const h = await harness({ universe, ticksPerSecond: 10, frameIntervalMs: 20 }, { accessToken: 'wrong-token-123' });
    let retries = 0;
    h.client.on('status', (s) => {
      if (s.state === 'RECONNECTING') retries++;
    });
    h.client.start();
    await h.until(() => h.client.status().state === 'UNAUTHORIZED', 'UNAUTHORIZED');
    expect(h.events.authorize).toEqual([{ status: 401, endpoint: 'authorize' }]);
    const { lastError } = h.client.status();
    expect(lastError).toContain('401');
    expect(lastError).toContain('UDAPI100050');
    expect(lastError).not.toContain('wrong-token-123');

    // Let the simulator's loop run 20 times (≥ 400 ms): still one authorize call, no retries.
    const loopsAt = h.events.loop.length;
    await h.until(() => h.events.loop.length >= loopsAt + 20, 'twenty simulator loops');
    expect(h.events.authorize).toHaveLength(1);
    expect(retries).toBe(0);

    h.sim.setAccessTokens(['t', 'fresh-token-456']);
    h.client.setAccessToken('fresh-token-456');
    await h.until(() => h.client.status().state === 'CONNECTED', 'CONNECTED with the new token');
    expect(h.events.authorize.map((a) => a.status)).toEqual([401, 200]);
  });

  it('retries 429 and 5xx authorize answers with backoff and then connects', async () => {
    const waits: number[] = [];
    const h = await harness(
      { universe, ticksPerSecond: 10 },
      {
        retryWait: (attempt) => {
          waits.push(attempt);
          return 1;
        },
      },
    );
    h.sim.faults.refuseAuthorize(429, 2);
    h.client.start();
    await h.until(() => h.client.status().state === 'CONNECTED', 'CONNECTED after two 429s');
    h.sim.faults.refuseAuthorize(500, 1);
    h.sim.faults.drop();
    await h.until(() => h.client.status().reconnects === 1 && h.client.status().state === 'CONNECTED', 'reconnected');
    expect(h.events.authorize.map((a) => a.status)).toEqual([429, 429, 200, 500, 200]);
    expect(waits).toEqual([1, 2, 1, 2]);
  });

  it('gives up after maxAttempts with state STOPPED and the reason', async () => {
    const h = await harness({ universe }, { maxAttempts: 3 });
    h.sim.faults.refuseAuthorize(500);
    h.client.start();
    await h.until(() => h.client.status().state === 'STOPPED', 'STOPPED');
    expect(h.events.authorize).toHaveLength(3);
    expect(h.client.status().lastError).toMatch(/HTTP 500.*gave up after 3 attempts/);
  });

  it('counts and skips garbage frames without dropping the connection', async () => {
    const keys = allKeys.slice(0, 20);
    const h = await harness(
      { universe, ticksPerSecond: 200, frameIntervalMs: 20 },
      { desired: desiredOf(keys, 'ltpc') },
    );
    h.client.start();
    await h.until(() => h.client.status().framesDecoded > 2, 'a few frames');
    h.sim.faults.garbage(3);
    await h.until(() => h.client.status().decodeErrors === 3, 'three decode errors');
    const decoded = h.client.status().framesDecoded;
    await h.until(() => h.client.status().framesDecoded > decoded + 2, 'frames after the garbage');
    expect(h.client.status()).toMatchObject({ state: 'CONNECTED', reconnects: 0 });
    expect(h.events.connection).toHaveLength(1);
  });

  it('counts a throwing onBatch and keeps the connection', async () => {
    const h = await harness(
      { universe, ticksPerSecond: 200, frameIntervalMs: 20 },
      {
        desired: desiredOf(allKeys.slice(0, 10), 'ltpc'),
        onBatch: () => {
          throw new Error('downstream bug');
        },
      },
    );
    h.client.start();
    await h.until(() => (h.client.status().deliveryErrors ?? 0) >= 3, 'three delivery errors');
    expect(h.client.status()).toMatchObject({ state: 'CONNECTED', reconnects: 0, decodeErrors: 0 });
  });

  it('reconnects a stalled socket once nothing arrived for livenessTimeoutMs', async () => {
    const keys = allKeys.slice(0, 10);
    const h = await harness(
      { universe, ticksPerSecond: 100, frameIntervalMs: 20, pingIntervalMs: 60_000 },
      { desired: desiredOf(keys, 'ltpc'), livenessTimeoutMs: 300, pingIntervalMs: 60_000 },
    );
    const errors: string[] = [];
    h.client.on('status', (s) => {
      if (s.lastError) errors.push(s.lastError);
    });
    h.client.start();
    await h.until(() => h.client.status().framesDecoded > 2, 'a few frames');
    h.sim.faults.stall(true);
    await h.until(() => errors.length > 0, 'the client to give up on the stalled socket');
    expect(errors[0]).toMatch(/no frame, ping or pong for \d+ ms/);
    expect(h.client.status().state).not.toBe('CONNECTED');
    h.sim.faults.stall(false);
    await h.until(
      () => h.client.status().state === 'CONNECTED' && h.sim.connections()[0]?.subscriptions.size === 10,
      'a new connection with the 10 keys',
    );
    expect(h.client.status().reconnects).toBeGreaterThanOrEqual(1);
  });

  it('with dataTimeoutMs, reconnects a stalled feed even while its socket answers our pings', async () => {
    const h = await harness(
      { universe, ticksPerSecond: 100, frameIntervalMs: 20, pingIntervalMs: 60_000 },
      {
        desired: desiredOf(allKeys.slice(0, 10), 'ltpc'),
        livenessTimeoutMs: 10_000,
        pingIntervalMs: 50,
        dataTimeoutMs: 300,
      },
    );
    const errors: string[] = [];
    h.client.on('status', (s) => {
      if (s.lastError) errors.push(s.lastError);
    });
    h.client.start();
    await h.until(() => h.client.status().framesDecoded > 2, 'a few frames');
    h.sim.faults.stall(true);
    await h.until(() => errors.length > 0, 'the data watchdog to fire');
    expect(errors[0]).toMatch(/no frame or server ping for \d+ ms/);
    h.sim.faults.stall(false);
    await h.until(() => h.client.status().state === 'CONNECTED' && h.client.status().reconnects >= 1, 'reconnected');
  });

  it('subscribes full_d30 with Plus and gets 30 depth levels', async () => {
    const keys = allKeys.slice(0, 5);
    const h = await harness(
      { universe, ticksPerSecond: 50, frameIntervalMs: 20, plus: true },
      { desired: desiredOf(keys, 'full_d30'), plus: true },
    );
    h.client.start();
    await h.until(() => keys.every((k) => h.cache.get(k)?.depth?.length === 30), '30-level books for 5 keys');
    expect(h.cache.get(keys[0]!)?.mode).toBe('full_d30');
    expect(h.client.status().activeKeysByMode.full_d30).toBe(5);
  });

  it('does not reconnect a quiet feed that the server keeps pinging', async () => {
    const h = await harness(
      { universe, ticksPerSecond: 0, frameIntervalMs: 20, pingIntervalMs: 50 },
      { desired: desiredOf(allKeys.slice(0, 5), 'ltpc'), livenessTimeoutMs: 250, pingIntervalMs: 60_000 },
    );
    h.client.start();
    await h.until(() => h.client.status().state === 'CONNECTED', 'CONNECTED');
    const loops = h.events.loop.length;
    await h.until(() => h.events.loop.length >= loops + 60, 'sixty simulator loops (~1.2 s, ≈ 5 liveness windows)');
    expect(h.events.connection).toHaveLength(1);
    expect(h.events.disconnect).toHaveLength(0);
    expect(h.client.status()).toMatchObject({ state: 'CONNECTED', reconnects: 0 });
  });

  it('does not reconnect a quiet feed kept alive by pongs to our pings', async () => {
    const h = await harness(
      { universe, ticksPerSecond: 0, frameIntervalMs: 20, pingIntervalMs: 60_000 },
      { desired: desiredOf(allKeys.slice(0, 5), 'ltpc'), livenessTimeoutMs: 250, pingIntervalMs: 50 },
    );
    h.client.start();
    await h.until(() => h.client.status().state === 'CONNECTED', 'CONNECTED');
    const loops = h.events.loop.length;
    await h.until(() => h.events.loop.length >= loops + 60, 'sixty simulator loops');
    expect(h.events.connection).toHaveLength(1);
    expect(h.client.status().reconnects).toBe(0);
  });

  it('refuses an over-cap or malformed desired set and changes nothing', async () => {
    const h = await harness({ universe });
    const keys = allKeys.slice(0, 10);
    h.client.setDesired(desiredOf(keys, 'ltpc'));
    const tooMany = desiredOf(
      Array.from({ length: 2_001 }, (_, i) => `NSE_EQ|X${i}`),
      'full',
    );
    expect(() => h.client.setDesired(tooMany)).toThrow(CapExceededError);
    expect(() => h.client.setDesired(desiredOf(['NSE_EQ|A'], 'full_d30'))).toThrow(/Upstox Plus/);
    expect(() => h.client.setDesired(desiredOf(['NOPE|A', 'bad'], 'ltpc'))).toThrow(InvalidInstrumentKeyError);
    expect(h.client.desired()).toEqual(desiredOf(keys, 'ltpc'));
  });

  it('stops idempotently with close code 1000 and can start again', async () => {
    const h = await harness({ universe, ticksPerSecond: 50 }, { desired: desiredOf(allKeys.slice(0, 3), 'ltpc') });
    h.client.start();
    await h.until(() => h.client.status().state === 'CONNECTED', 'CONNECTED');
    const first = h.client.stop();
    expect(h.client.stop()).toBe(first);
    await first;
    await h.until(() => h.events.disconnect.length === 1, 'the server to see the close');
    expect(h.events.disconnect[0]?.code).toBe(1000);
    expect(h.client.status()).toMatchObject({ state: 'STOPPED', connectedSince: null });
    expect(h.client.active().size).toBe(0);

    h.client.start();
    await h.until(() => h.sim.connections()[0]?.subscriptions.size === 3, 'subscriptions after restart');
  });

  it('records every binary frame to recordTo in the simulator recording format', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'feed-record-'));
    try {
      const file = join(dir, 'session.tgfeed');
      const h = await harness(
        { universe, ticksPerSecond: 100, frameIntervalMs: 20 },
        { desired: desiredOf(allKeys.slice(0, 5), 'ltpc'), recordTo: file },
      );
      h.client.start();
      await h.until(() => h.client.status().framesDecoded >= 5, 'five frames');
      await h.client.stop();
      const decoded = h.client.status().framesDecoded;
      let frames = 0;
      for await (const _frame of readRecording(file)) frames++;
      expect(frames).toBe(decoded);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('feed client against a hand-rolled upstream', () => {
  /** Authorize → `ws://…/redirect?code=…` → 307 → `/feeds`, which either refuses (403) or sends `onOpen` frames. */
  async function fakeUpstream(feed: { refuse?: number; onOpen?: (ws: WebSocket) => void }) {
    const wss = new WebSocketServer({ noServer: true });
    const upgrades: string[] = [];
    const server = createServer((_req, res) => {
      const uri = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/redirect?requestId=r&code=single-use-code`;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: 'success', data: { authorized_redirect_uri: uri } }));
    });
    server.on('upgrade', (req, socket, head) => {
      upgrades.push(req.url ?? '');
      if (req.url?.startsWith('/redirect')) {
        socket.end('HTTP/1.1 307 Temporary Redirect\r\nLocation: /feeds?code=second-code\r\nContent-Length: 0\r\n\r\n');
      } else if (feed.refuse) {
        socket.end(`HTTP/1.1 ${feed.refuse} Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
      } else {
        wss.handleUpgrade(req, socket, head, (ws) => feed.onOpen?.(ws));
      }
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return {
      base,
      upgrades,
      close: async () => {
        for (const ws of wss.clients) ws.terminate();
        wss.close();
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      },
    };
  }

  it('follows the handshake redirect, ignores text frames and decodes binary ones', async () => {
    const upstream = await fakeUpstream({
      onOpen: (ws) => {
        ws.send('{"status":"failed"}'); // text: ignored and counted
        ws.send(encodeFeedResponse({ type: 2, currentTs: 5, marketInfo: { segmentStatus: { NSE_EQ: 3 } } }));
      },
    });
    const client = createFeedClient({ apiBase: upstream.base, accessToken: 'tok-1234', cache: createLatestCache() });
    try {
      const segments = new Promise((resolve) => client.on('marketInfo', resolve));
      client.start();
      expect(await segments).toEqual([expect.objectContaining({ segment: 'NSE_EQ', status: 'NORMAL_CLOSE' })]);
      expect(client.status()).toMatchObject({ state: 'CONNECTED', framesDecoded: 1, textFramesIgnored: 1 });
      expect(upstream.upgrades).toEqual(['/redirect?requestId=r&code=single-use-code', '/feeds?code=second-code']);
    } finally {
      await client.stop();
      await upstream.close();
    }
  });

  it('goes UNAUTHORIZED when the WebSocket handshake answers 403, without logging the code', async () => {
    const upstream = await fakeUpstream({ refuse: 403 });
    const lines: string[] = [];
    const logger = createLogger({ level: 'debug', destination: { write: (line: string) => void lines.push(line) } });
    const client = createFeedClient({
      apiBase: upstream.base,
      accessToken: 'tok-1234',
      cache: createLatestCache(),
      logger,
    });
    try {
      const unauthorized = new Promise<void>((resolve) =>
        client.on('status', (s) => {
          if (s.state === 'UNAUTHORIZED') resolve();
        }),
      );
      client.start();
      await unauthorized;
      expect(client.status().lastError).toBe('feed handshake answered HTTP 403');
      expect(upstream.upgrades).toHaveLength(2);
      expect(lines.length).toBeGreaterThan(0);
      for (const line of lines) {
        expect(line).not.toContain('single-use-code');
        expect(line).not.toContain('second-code');
        expect(line).not.toContain('tok-1234');
      }
    } finally {
      await client.stop();
      await upstream.close();
    }
  });
});

describe('fullJitterBackoff', () => {
  it('draws uniformly below base × 2^(attempt-1), capped', () => {
    const top = fullJitterBackoff(500, 30_000, () => 0.999_999);
    expect([1, 2, 3, 4, 7, 20].map((a) => Math.round(top(a)))).toEqual([500, 1_000, 2_000, 4_000, 30_000, 30_000]);
    const bottom = fullJitterBackoff(500, 30_000, () => 0);
    expect(bottom(5)).toBe(0);
    const half = fullJitterBackoff(100, 1_000, () => 0.5);
    expect(half(2)).toBe(100);
  });
});

describe('authorize', () => {
  let server: Server | undefined;
  let handler: (req: IncomingMessage, res: ServerResponse) => void = () => {};
  const seen: IncomingMessage[] = [];
  async function base(): Promise<string> {
    if (!server) {
      server = createServer((req, res) => {
        seen.push(req);
        handler(req, res);
      });
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
    }
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }
  afterAll(async () => {
    if (server) await new Promise((resolve) => server!.close(resolve));
  });
  const TOKEN = 'secret-access-token-abc';
  const reply = (status: number, body: unknown, headers: Record<string, string> = {}) => {
    handler = (_req, res) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(typeof body === 'string' ? body : JSON.stringify(body));
    };
  };
  const failure = async (apiBase?: string): Promise<AuthorizeError> => {
    try {
      await authorize({ apiBase: apiBase ?? (await base()), accessToken: TOKEN });
    } catch (error) {
      expect(error).toBeInstanceOf(AuthorizeError);
      expect((error as Error).message).not.toContain(TOKEN);
      return error as AuthorizeError;
    }
    throw new Error('authorize did not fail');
  };

  it('sends the bearer token and Accept header and reads the snake_case URL first', async () => {
    reply(200, {
      status: 'success',
      data: { authorized_redirect_uri: 'wss://a/x?code=1', authorizedRedirectUri: 'wss://b' },
    });
    expect(await authorize({ apiBase: await base(), accessToken: TOKEN })).toBe('wss://a/x?code=1');
    const req = seen.at(-1)!;
    expect(req.url).toBe('/v3/feed/market-data-feed/authorize');
    expect(req.method).toBe('GET');
    expect(req.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(req.headers.accept).toBe('application/json');
  });

  it('falls back to the camelCase URL', async () => {
    reply(200, { status: 'success', data: { authorizedRedirectUri: 'ws://b/feeds?code=2' } });
    expect(await authorize({ apiBase: await base(), accessToken: TOKEN })).toBe('ws://b/feeds?code=2');
  });

  it('classifies 401 and 403 as UNAUTHORIZED with the Upstox error code and without the token', async () => {
    reply(401, {
      status: 'error',
      errors: [{ error_code: 'UDAPI100050', message: `Invalid token ${TOKEN}`, errorCode: 'UDAPI100050' }],
    });
    const e401 = await failure();
    expect(e401).toMatchObject({ kind: 'UNAUTHORIZED', status: 401, upstoxCode: 'UDAPI100050' });
    reply(403, {});
    expect(await failure()).toMatchObject({ kind: 'UNAUTHORIZED', status: 403 });
  });

  it('classifies 429 as RATE_LIMITED and honours Retry-After seconds', async () => {
    reply(429, { status: 'error', errors: [{ error_code: 'UDAPI10005' }] }, { 'retry-after': '3' });
    expect(await failure()).toMatchObject({ kind: 'RATE_LIMITED', retryAfterMs: 3_000, upstoxCode: 'UDAPI10005' });
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:10 GMT', Date.parse('Wed, 21 Oct 2015 07:28:00 GMT'))).toBe(10_000);
    expect(parseRetryAfter(null)).toBeNull();
    expect(parseRetryAfter('soon')).toBeNull();
  });

  it('classifies 5xx as SERVER, other statuses and bad bodies as BAD_RESPONSE, and refused connections as NETWORK', async () => {
    reply(503, 'unavailable');
    expect(await failure()).toMatchObject({ kind: 'SERVER', status: 503 });
    reply(404, {});
    expect(await failure()).toMatchObject({ kind: 'BAD_RESPONSE', status: 404 });
    reply(200, 'not json');
    expect(await failure()).toMatchObject({ kind: 'BAD_RESPONSE' });
    reply(200, { data: { authorized_redirect_uri: 'https://not-a-websocket' } });
    expect((await failure()).message).toMatch(/without a ws\(s\) URL/);

    const closed = createServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    expect(await failure(`http://127.0.0.1:${port}`)).toMatchObject({ kind: 'NETWORK', status: null });
  });

  it('redacts the single-use code of a feed URL for logs', () => {
    expect(redactFeedUrl('wss://h/feeds?requestId=r1&code=abc-123&x=1')).toBe(
      'wss://h/feeds?requestId=r1&code=[REDACTED]&x=1',
    );
  });

  it('names handshake refusals as FeedConnectionError UNAUTHORIZED', () => {
    const error = new FeedConnectionError('UNAUTHORIZED', 'feed handshake answered HTTP 403', { status: 403 });
    expect(error).toMatchObject({ name: 'FeedConnectionError', kind: 'UNAUTHORIZED', status: 403 });
  });
});
