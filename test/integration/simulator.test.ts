import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { CliUsageError, parseSimulatorArgs } from '../../src/simulator/cli.js';
import { generateUniverse } from '../../src/simulator/market-model.js';
import {
  createFrameRecorder,
  RECORDING_MAGIC,
  type RecordedFrame,
  RecordingFormatError,
  readRecording,
} from '../../src/simulator/recording.js';
import {
  createSimulator,
  type FrameEvent,
  type Simulator,
  type SimulatorOptions,
} from '../../src/simulator/simulator.js';
import { FEEDER_PATH, KEY_CAPS } from '../../src/upstox/protocol.js';
import {
  authorize,
  collectEvents,
  connectFeed,
  decodeFrame,
  encodeFrame,
  type Json,
  nextEvent,
  openRawFeed,
  type RawFeedClient,
  request,
} from '../support/sim-client.js';

const TOKEN = 'simulator-token';
const RELIANCE = 'NSE_EQ|INE002A01018';
const TCS = 'NSE_EQ|INE467B01029';
const HDFCBANK = 'NSE_EQ|INE040A01034';
const NIFTY = 'NSE_INDEX|Nifty 50';
const NIFTY_CE = 'NSE_FO|43100';

const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const sim = createSimulator({ ticksPerSecond: 500, frameIntervalMs: 20, ...options });
  await sim.start();
  cleanups.push(() => sim.stop());
  return sim;
}

function track(client: RawFeedClient): RawFeedClient {
  cleanups.push(() => client.close());
  return client;
}

async function connect(sim: Simulator, token = TOKEN) {
  const c = await connectFeed(sim, token);
  track(c.client);
  return c;
}

/** Handshake attempt that must fail; resolves with the HTTP status (and headers) of the refusal. */
async function refusedHandshake(url: string, options: ConstructorParameters<typeof WebSocket>[2] = {}) {
  try {
    const client = await openRawFeed(url, options);
    await client.close();
  } catch (error) {
    return error as Error & { statusCode?: number; headers?: Record<string, string> };
  }
  throw new Error('handshake unexpectedly succeeded');
}

const isLive = (f: { decoded: Json | null }) => f.decoded?.type === 'live_feed';
const isSnapshot = (f: { decoded: Json | null }) => f.decoded !== null && f.decoded.type === undefined;

let sim: Simulator;
beforeAll(async () => {
  sim = await startSimulator({ maxConnectionsPerToken: 100, accessTokens: [TOKEN, 'second-token'] });
});

describe('authorize and redirect', () => {
  it('authorize returns a ws feeder URL with requestId and code under both snake and camel keys', async () => {
    const res = await fetch(`${sim.url}/v3/feed/market-data-feed/authorize`, {
      headers: { Authorization: `Bearer ${TOKEN}`, Accept: 'application/json' },
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Json;
    expect(body.status).toBe('success');
    expect(body.data.authorizedRedirectUri).toBe(body.data.authorized_redirect_uri);
    const url = new URL(body.data.authorized_redirect_uri);
    expect(url.protocol).toBe('ws:');
    expect(url.pathname).toBe(FEEDER_PATH);
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
    expect(url.searchParams.get('requestId')).toMatch(uuid);
    expect(url.searchParams.get('code')).toMatch(uuid);
  });

  it('authorize answers 401 with the UDAPI100050 envelope in snake and camel case for a bad or missing token', async () => {
    for (const headers of [{ Authorization: 'Bearer nope' }, {}] as Record<string, string>[]) {
      const res = await fetch(`${sim.url}/v3/feed/market-data-feed/authorize`, { headers });
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({
        status: 'error',
        errors: [
          {
            error_code: 'UDAPI100050',
            message: 'Invalid token used to access API',
            property_path: null,
            invalid_value: null,
            errorCode: 'UDAPI100050',
            propertyPath: null,
            invalidValue: null,
          },
        ],
      });
    }
  });

  it('a feeder URL works once without any header and is refused with 403 the second time', async () => {
    const url = await authorize(sim);
    const client = track(await openRawFeed(url));
    await client.next((f) => f.decoded?.type === 'market_info');
    const again = await refusedHandshake(url);
    expect(again.statusCode).toBe(403);
  });

  it('a feeder URL with an unknown code is refused with 403', async () => {
    const url = new URL(await authorize(sim));
    url.searchParams.set('code', '00000000-0000-4000-8000-000000000000');
    expect((await refusedHandshake(url.href)).statusCode).toBe(403);
  });

  it('the direct endpoint answers 307 with a fresh single-use feeder URL in Location', async () => {
    const refusal = await refusedHandshake(sim.feedUrl, { headers: { Authorization: `Bearer ${TOKEN}` } });
    expect(refusal.statusCode).toBe(307);
    const location = refusal.headers!.location!;
    expect(new URL(location).pathname).toBe(FEEDER_PATH);
    const client = track(await openRawFeed(location));
    await client.next((f) => f.decoded?.type === 'market_info');
    expect((await refusedHandshake(location)).statusCode).toBe(403);
  });

  it('the direct endpoint is followable by ws with followRedirects, like the official Node SDK', async () => {
    const client = track(
      await openRawFeed(sim.feedUrl, { headers: { Authorization: `Bearer ${TOKEN}` }, followRedirects: true }),
    );
    const first = await client.next();
    expect(first.decoded.type).toBe('market_info');
  });

  it('the direct endpoint refuses a bad bearer with 401 at the handshake', async () => {
    expect((await refusedHandshake(sim.feedUrl, { headers: { Authorization: 'Bearer wrong' } })).statusCode).toBe(401);
    expect((await refusedHandshake(sim.feedUrl)).statusCode).toBe(401);
  });

  it('redirects with 302 when configured to', async () => {
    const sim302 = await startSimulator({ redirectStatus: 302 });
    const refusal = await refusedHandshake(sim302.feedUrl, { headers: { Authorization: `Bearer ${TOKEN}` } });
    expect(refusal.statusCode).toBe(302);
  });

  it('refuses a code used after codeTtlMs with 403', async () => {
    let offset = 0;
    const clocked = await startSimulator({ codeTtlMs: 60_000, now: () => Date.now() + offset });
    const url = await authorize(clocked);
    offset = 61_000;
    expect((await refusedHandshake(url)).statusCode).toBe(403);
  });

  it('refuses a connection beyond maxConnectionsPerToken with 403, per token', async () => {
    const limited = await startSimulator({ maxConnectionsPerToken: 1, accessTokens: ['a-token', 'b-token'] });
    await connect(limited, 'a-token');
    expect((await refusedHandshake(await authorize(limited, 'a-token'))).statusCode).toBe(403);
    await connect(limited, 'b-token');
  });

  it('setAccessTokens replaces the accepted tokens', async () => {
    const rotating = await startSimulator();
    rotating.setAccessTokens(['new-token']);
    await expect(authorize(rotating, TOKEN)).rejects.toThrow('401');
    expect(await authorize(rotating, 'new-token')).toContain(FEEDER_PATH);
  });
});

describe('feeder socket', () => {
  it('sends market_info first: type 2, the 11 segment statuses and the CAS maps', async () => {
    const url = await authorize(sim);
    const client = track(await openRawFeed(url));
    const first = await client.next();
    expect(first.bytes[0]).toBe(0x08); // field 1 (type) present on the wire
    expect(first.decoded.type).toBe('market_info');
    expect(Object.keys(first.decoded.marketInfo.segmentStatus).sort()).toEqual([
      'BCD_FO',
      'BSE_EQ',
      'BSE_FO',
      'BSE_INDEX',
      'MCX_FO',
      'MCX_INDEX',
      'NCD_FO',
      'NSE_COM',
      'NSE_EQ',
      'NSE_FO',
      'NSE_INDEX',
    ]);
    expect(first.decoded.marketInfo.segmentStatus.NSE_EQ).toBe('NORMAL_OPEN');
    expect(first.decoded.marketInfo.preOpenSessionStatus.NSE_EQ.status).toBe('PRE_OPEN_END');
    expect(first.decoded.marketInfo.casMarketStatus.NSE_EQ.updatedTime).toBeGreaterThan(0);
    expect(typeof first.decoded.currentTs).toBe('number');
  });

  it('answers a sub with a snapshot whose type is absent on the wire, then live_feed frames', async () => {
    const { client } = await connect(sim);
    client.send(request('sub', [RELIANCE, TCS], 'ltpc'));
    const snapshot = await client.next();
    expect(snapshot.bytes[0]).not.toBe(0x08); // no type field: initial_feed (0) is a proto3 default
    expect(snapshot.decoded.type).toBeUndefined();
    expect(Object.keys(snapshot.decoded.feeds).sort()).toEqual([RELIANCE, TCS].sort());
    const ltpc = snapshot.decoded.feeds[RELIANCE];
    expect(ltpc.requestMode).toBeUndefined(); // ltpc (0) is a default too
    expect(ltpc.ltpc).toEqual({
      ltp: expect.any(Number),
      ltt: expect.any(Number),
      ltq: expect.any(Number),
      cp: expect.any(Number),
    });
    const live = await client.next(isLive);
    expect(live.bytes[0]).toBe(0x08);
    for (const key of Object.keys(live.decoded.feeds)) expect([RELIANCE, TCS]).toContain(key);
  });

  it('full mode sends full_d5 with 5 levels, 1d and I1 candles, empty greeks for equities and no CAS values', async () => {
    const { client } = await connect(sim);
    client.send(request('sub', [RELIANCE, NIFTY, NIFTY_CE], 'full'));
    const snapshot = await client.next(isSnapshot);
    const eq = snapshot.decoded.feeds[RELIANCE];
    expect(eq.requestMode).toBe('full_d5');
    const ff = eq.fullFeed.marketFF;
    expect(ff.marketLevel.bidAskQuote).toHaveLength(5);
    expect(ff.marketLevel.bidAskQuote[0].bidP).toBeLessThan(ff.marketLevel.bidAskQuote[0].askP);
    expect(ff.marketOHLC.ohlc.map((c: Json) => c.interval)).toEqual(['1d', 'I1']);
    expect(ff.optionGreeks).toEqual({});
    for (const field of ['atp', 'vtt', 'tbq', 'tsq']) expect(ff[field]).toBeGreaterThan(0);
    for (const field of ['iep', 'rp', 'ieq', 'iiqTotal', 'iiqM', 'casEligible', 'oi', 'iv'])
      expect(ff[field]).toBeUndefined();
    const index = snapshot.decoded.feeds[NIFTY];
    expect(index.fullFeed.indexFF.ltpc.ltp).toBeGreaterThan(0);
    expect(index.fullFeed.indexFF.ltpc.ltq).toBeUndefined();
    expect(index.fullFeed.indexFF.marketOHLC.ohlc).toHaveLength(2);
    const option = snapshot.decoded.feeds[NIFTY_CE].fullFeed.marketFF;
    expect(option.optionGreeks.delta).toBeGreaterThan(0);
    expect(option.oi).toBeGreaterThan(0);
    expect(option.iv).toBeGreaterThan(0);
  });

  it('option_greeks mode sends firstLevelWithGreeks with one level, greeks, vtt, oi and iv', async () => {
    const { client } = await connect(sim);
    client.send(request('sub', [NIFTY_CE], 'option_greeks'));
    const snapshot = await client.next(isSnapshot);
    const feed = snapshot.decoded.feeds[NIFTY_CE];
    expect(feed.requestMode).toBe('option_greeks');
    const flg = feed.firstLevelWithGreeks;
    expect(flg.ltpc.ltp).toBeGreaterThan(0);
    expect(flg.firstDepth.askP).toBeGreaterThan(flg.firstDepth.bidP);
    expect(Object.keys(flg.optionGreeks).sort()).toEqual(['delta', 'gamma', 'rho', 'theta', 'vega']);
    expect(flg.vtt).toBeGreaterThan(0);
    expect(flg.oi).toBeGreaterThan(0);
    expect(flg.iv).toBeGreaterThan(0);
  });

  it('live frames batch several instruments and are partial per key', async () => {
    const keys = sim
      .instruments()
      .filter((i) => i.kind === 'equity')
      .slice(0, 12)
      .map((i) => i.key);
    const { client } = await connect(sim);
    client.send(request('sub', keys, 'full'));
    let multiKey = false;
    let tradeWithoutDepth = false;
    let depthWithoutTrade = false;
    await client.next((f) => {
      if (!isLive(f)) return false;
      const feeds = Object.values(f.decoded.feeds) as Json[];
      if (feeds.length > 1) multiKey = true;
      for (const feed of feeds) {
        const ff = feed.fullFeed.marketFF;
        if (ff.ltpc && !ff.marketLevel) tradeWithoutDepth = true;
        if (ff.marketLevel && !ff.ltpc) depthWithoutTrade = true;
      }
      return multiKey && tradeWithoutDepth && depthWithoutTrade;
    });
  });

  it('emits each frame as the encoded object, with currentTs equal to the send time', async () => {
    const all: FrameEvent[] = [];
    const off = sim.on('frame', (e) => all.push(e));
    cleanups.push(async () => off());
    const opened = nextEvent(sim, 'connection');
    const client = track(await openRawFeed(await authorize(sim)));
    const { connectionId } = await opened;
    client.send(request('sub', [RELIANCE, NIFTY, NIFTY_CE], 'full'));
    await collectEvents(sim, 'frame', 2, (e) => e.connectionId === connectionId && e.type === 'live_feed');
    const sent = all.filter((e) => e.connectionId === connectionId);
    expect(sent.map((e) => e.type).slice(0, 2)).toEqual(['market_info', 'initial_feed']);
    for (const [i, event] of sent.entries()) {
      const received = await client.next();
      expect(event.sentAt).toBe(event.response.currentTs);
      expect(decodeFrame(received.bytes, 'numbers')).toEqual(event.response);
      expect(received.bytes.byteLength, `frame ${i}`).toBe(event.bytes);
    }
  });

  it('encodes one live frame for all connections with identical subscriptions and sends them the same bytes', async () => {
    const shared = await startSimulator({ maxConnectionsPerToken: 5 });
    const a = await connect(shared);
    const b = await connect(shared);
    const c = await connect(shared);
    a.client.send(request('sub', [RELIANCE, TCS], 'full'));
    b.client.send(request('sub', [TCS, RELIANCE], 'full'));
    c.client.send(request('sub', [RELIANCE], 'ltpc'));
    await Promise.all([a.client.next(isSnapshot), b.client.next(isSnapshot), c.client.next(isSnapshot)]);
    // One loop iteration whose live frames reached all three sockets (c only gets RELIANCE trades).
    let frames: FrameEvent[] = [];
    const off = shared.on('frame', (e) => frames.push(e));
    let byConnection = new Map<string, FrameEvent>();
    await nextEvent(shared, 'loop', () => {
      byConnection = new Map(frames.map((e) => [e.connectionId, e]));
      frames = [];
      return [a.id, b.id, c.id].every((id) => byConnection.has(id));
    });
    off();
    expect(byConnection.get(a.id)!.response).toBe(byConnection.get(b.id)!.response);
    expect(byConnection.get(c.id)!.response).not.toBe(byConnection.get(a.id)!.response);
    expect(Object.keys(byConnection.get(c.id)!.response.feeds!)).toEqual([RELIANCE]);
  });

  it('ignores text frames (counted) and answers the same JSON sent as binary', async () => {
    const { client, id } = await connect(sim);
    client.sendText(request('sub', [TCS], 'ltpc'));
    const handled = nextEvent(sim, 'request', (e) => e.connectionId === id);
    client.send(request('sub', [HDFCBANK], 'ltpc'));
    await handled;
    const snapshot = await client.next(isSnapshot);
    expect(Object.keys(snapshot.decoded.feeds)).toEqual([HDFCBANK]);
    const info = sim.connections().find((c) => c.id === id)!;
    expect(info.textFramesIgnored).toBe(1);
    expect(info.requestsReceived).toBe(1);
    expect([...info.subscriptions.keys()]).toEqual([HDFCBANK]);
  });

  it('counts a binary frame that is not a valid request and keeps the socket open', async () => {
    const { client, id } = await connect(sim);
    client.ws.send(Buffer.from('{not json'), { binary: true });
    client.send({ guid: 'x', method: 'subscribe', data: { instrumentKeys: [TCS] } });
    const handled = nextEvent(sim, 'request', (e) => e.connectionId === id);
    client.send(request('sub', [TCS], 'ltpc'));
    await handled;
    const info = sim.connections().find((c) => c.id === id)!;
    expect(info.requestsInvalid).toBe(2);
    expect(info.requestsReceived).toBe(3);
    expect(Object.keys((await client.next(isSnapshot)).decoded.feeds)).toEqual([TCS]);
  });

  it('ignores unknown instrument keys silently', async () => {
    const { client, id } = await connect(sim);
    const handled = nextEvent(sim, 'request', (e) => e.connectionId === id);
    client.send(request('sub', ['NSE_EQ|INE000000000', RELIANCE, 'garbage'], 'ltpc'));
    await handled;
    expect(Object.keys((await client.next(isSnapshot)).decoded.feeds)).toEqual([RELIANCE]);
    const info = sim.connections().find((c) => c.id === id)!;
    expect(info.keysIgnored).toBe(2);
    expect(client.ws.readyState).toBe(WebSocket.OPEN);
  });

  it('treats a sub of a subscribed key in another mode as a mode change with a fresh snapshot (Node SDK quirk)', async () => {
    const { client, id } = await connect(sim);
    client.send(request('sub', [RELIANCE, TCS], 'ltpc'));
    await client.next(isSnapshot);
    client.send(request('sub', [RELIANCE], 'full'));
    const snapshot = await client.next(isSnapshot);
    expect(Object.keys(snapshot.decoded.feeds)).toEqual([RELIANCE]);
    expect(snapshot.decoded.feeds[RELIANCE].requestMode).toBe('full_d5');
    await nextEvent(sim, 'loop');
    const subs = sim.connections().find((c) => c.id === id)!.subscriptions;
    expect(subs.get(RELIANCE)).toBe('full');
    expect(subs.get(TCS)).toBe('ltpc');
  });

  it('change_mode switches subscribed keys with a fresh snapshot and ignores keys not subscribed', async () => {
    const { client, id } = await connect(sim);
    client.send(request('sub', [NIFTY_CE], 'ltpc'));
    await client.next(isSnapshot);
    const handled = nextEvent(sim, 'request', (e) => e.connectionId === id && e.request.method === 'change_mode');
    client.send(request('change_mode', [NIFTY_CE, TCS], 'option_greeks'));
    await handled;
    const snapshot = await client.next(isSnapshot);
    expect(Object.keys(snapshot.decoded.feeds)).toEqual([NIFTY_CE]);
    expect(snapshot.decoded.feeds[NIFTY_CE].firstLevelWithGreeks).toBeDefined();
    const info = sim.connections().find((c) => c.id === id)!;
    expect([...info.subscriptions]).toEqual([[NIFTY_CE, 'option_greeks']]);
  });

  it('unsub stops a key while the others keep streaming', async () => {
    const { client, id } = await connect(sim);
    client.send(request('sub', [RELIANCE, TCS], 'ltpc'));
    await client.next(isSnapshot);

    const unsubbed = nextEvent(sim, 'request', (e) => e.connectionId === id && e.request.method === 'unsub');
    client.send(request('unsub', [RELIANCE]));
    await unsubbed;
    const after = await collectEvents(sim, 'frame', 5, (e) => e.connectionId === id && e.type === 'live_feed');
    for (const frame of after) expect(Object.keys(frame.response.feeds ?? {})).toEqual([TCS]);
  });

  it('sends nothing for full_d30 without Plus, and the socket keeps working', async () => {
    const { client, id } = await connect(sim);
    client.send(request('sub', [RELIANCE], 'full_d30'));
    client.send(request('sub', [TCS], 'ltpc'));
    const snapshot = await client.next((f) => f.decoded !== null);
    expect(snapshot.decoded.type).toBeUndefined();
    expect(Object.keys(snapshot.decoded.feeds)).toEqual([TCS]);
    const info = sim.connections().find((c) => c.id === id)!;
    expect(info.subscriptions.has(RELIANCE)).toBe(false);
    expect(info.keysIgnored).toBe(1);
  });

  it('with Plus, full_d30 sends 30 levels and silently caps at 50 keys', async () => {
    const universe = generateUniverse({ equities: 60, indices: false });
    const plus = await startSimulator({ plus: true, universe });
    const { client, id } = await connect(plus);
    client.send(
      request(
        'sub',
        universe.map((i) => i.key),
        'full_d30',
      ),
    );
    const snapshot = await client.next(isSnapshot);
    const feeds = Object.values(snapshot.decoded.feeds) as Json[];
    expect(feeds).toHaveLength(KEY_CAPS.full_d30.individual);
    expect(feeds[0].requestMode).toBe('full_d30');
    expect(feeds[0].fullFeed.marketFF.marketLevel.bidAskQuote).toHaveLength(30);
    await nextEvent(plus, 'loop');
    expect(plus.connections().find((c) => c.id === id)!.keysIgnored).toBe(10);
  });

  it('enforces caps silently: individual for one category, combined once several are used', async () => {
    const caps = {
      ltpc: { individual: 5, combined: 3 },
      option_greeks: { individual: 4, combined: 2 },
      full: { individual: 3, combined: 2 },
      full_d30: { individual: 1, combined: 1 },
    };
    const capped = await startSimulator({ keyCaps: caps });
    const equities = capped
      .instruments()
      .filter((i) => i.kind === 'equity')
      .map((i) => i.key);
    const { client, id } = await connect(capped);
    const info = () => capped.connections().find((c) => c.id === id)!;
    const handled = () => nextEvent(capped, 'request', (e) => e.connectionId === id);

    let done = handled();
    client.send(request('sub', equities.slice(0, 7), 'ltpc'));
    await done;
    expect(Object.keys((await client.next(isSnapshot)).decoded.feeds)).toEqual(equities.slice(0, 5));
    // A second category would put ltpc (5) over its combined cap (3): refused, nothing sent, nothing taken back.
    done = handled();
    client.send(request('sub', [equities[10]!], 'full'));
    await done;
    expect(info().subscriptions.size).toBe(5);
    expect(info().keysIgnored).toBe(3);
    // Back under the combined cap, a second category is accepted up to its combined cap.
    done = handled();
    client.send(request('unsub', equities.slice(0, 3)));
    await done;
    done = handled();
    client.send(request('sub', equities.slice(10, 13), 'full'));
    await done;
    const snapshot = await client.next(isSnapshot);
    expect(Object.keys(snapshot.decoded.feeds)).toEqual(equities.slice(10, 12));
    expect(info().subscriptions.size).toBe(4);
  });

  it('pushes a fresh market_info to every socket when a segment status changes', async () => {
    const statusSim = await startSimulator({ segmentStatus: { MCX_FO: 'NORMAL_CLOSE' } });
    const { client } = await connect(statusSim);
    expect(client.frames[0]!.decoded.marketInfo.segmentStatus.MCX_FO).toBe('NORMAL_CLOSE');
    statusSim.setMarketStatus({ NSE_EQ: 'CLOSING_END', NSE_FO: 'NORMAL_CLOSE' });
    const pushed = await client.next((f) => f.decoded?.type === 'market_info');
    expect(pushed.decoded.marketInfo.segmentStatus).toMatchObject({
      NSE_EQ: 'CLOSING_END',
      NSE_FO: 'NORMAL_CLOSE',
      MCX_FO: 'NORMAL_CLOSE',
      BSE_EQ: 'NORMAL_OPEN',
    });
  });

  it('pings an idle socket', async () => {
    const pinging = await startSimulator({ pingIntervalMs: 30, frameIntervalMs: 10 });
    const { client } = await connect(pinging);
    await new Promise<void>((resolve) => client.ws.once('ping', () => resolve()));
  });

  it('forgets subscriptions when the socket closes', async () => {
    const { client, id } = await connect(sim);
    client.send(request('sub', [RELIANCE], 'ltpc'));
    await client.next(isSnapshot);
    const gone = nextEvent(sim, 'disconnect', (e) => e.connectionId === id);
    await client.close();
    expect((await gone).code).toBe(1000);
    expect(sim.connections().some((c) => c.id === id)).toBe(false);
  });
});

describe('faults', () => {
  it('drop terminates every feeder socket without a close frame', async () => {
    const faulty = await startSimulator();
    const a = await connect(faulty);
    const b = await connect(faulty);
    faulty.faults.drop();
    expect(await a.client.closed).toBe(1006);
    expect(await b.client.closed).toBe(1006);
  });

  it('stall sends neither frames nor pings until it is lifted', async () => {
    const faulty = await startSimulator({ pingIntervalMs: 10, frameIntervalMs: 10, ticksPerSecond: 1_000 });
    const { client } = await connect(faulty);
    client.send(request('sub', [RELIANCE, TCS], 'ltpc'));
    await client.next(isLive);
    faulty.faults.stall(true);
    await nextEvent(faulty, 'loop', (e) => e.stalled);
    let frames = 0;
    const off = faulty.on('frame', () => frames++);
    const pingsBefore = client.pings;
    await collectEvents(faulty, 'loop', 5, (e) => e.stalled);
    off();
    expect(frames).toBe(0);
    expect(client.pings - pingsBefore).toBeLessThanOrEqual(1); // at most one already in flight
    faulty.faults.stall(false);
    await client.next(isLive);
  });

  it('garbage sends frames that are not a FeedResponse', async () => {
    const faulty = await startSimulator({ ticksPerSecond: 0 });
    const { client } = await connect(faulty);
    faulty.faults.garbage(3);
    for (let i = 0; i < 3; i++) {
      const frame = await client.next();
      expect(frame.decoded).toBeNull();
      expect(frame.error).toBeInstanceOf(Error);
    }
    expect(client.ws.readyState).toBe(WebSocket.OPEN);
  });

  it('refuseAuthorize answers 429 then 500 with Upstox envelopes for the given number of times', async () => {
    const faulty = await startSimulator();
    const statuses: number[] = [];
    faulty.on('authorize', (e) => statuses.push(e.status));
    const call = () =>
      fetch(`${faulty.url}/v3/feed/market-data-feed/authorize`, { headers: { Authorization: `Bearer ${TOKEN}` } });
    faulty.faults.refuseAuthorize(429, 2);
    for (let i = 0; i < 2; i++) {
      const res = await call();
      expect(res.status).toBe(429);
      expect(((await res.json()) as Json).errors[0].errorCode).toBe('UDAPI10005');
    }
    expect((await call()).status).toBe(200);
    faulty.faults.refuseAuthorize(500, 1);
    const res = await call();
    expect(res.status).toBe(500);
    expect(((await res.json()) as Json).errors[0].error_code).toMatch(/^UDAPI/);
    const refusal = await refusedHandshake(faulty.feedUrl, { headers: { Authorization: `Bearer ${TOKEN}` } });
    expect(refusal.statusCode).toBe(307); // the one refusal was used up by the authorize call
    expect(statuses).toEqual([429, 429, 200, 500, 307]);
  });

  it('refuseAuthorize also refuses the direct endpoint handshake', async () => {
    const faulty = await startSimulator();
    faulty.faults.refuseAuthorize(429, 1);
    const refusal = await refusedHandshake(faulty.feedUrl, { headers: { Authorization: `Bearer ${TOKEN}` } });
    expect(refusal.statusCode).toBe(429);
  });

  it('redirectLoop makes a redirect-following client give up, and reset heals it', async () => {
    const faulty = await startSimulator();
    faulty.faults.redirectLoop(true);
    const options = { headers: { Authorization: `Bearer ${TOKEN}` }, followRedirects: true, maxRedirects: 3 };
    await expect(openRawFeed(faulty.feedUrl, options)).rejects.toThrow('Maximum redirects exceeded');
    faulty.faults.reset();
    track(await openRawFeed(faulty.feedUrl, options));
  });

  it('slowReader delays requests but keeps their order', async () => {
    const faulty = await startSimulator({ ticksPerSecond: 0 });
    const { client } = await connect(faulty);
    faulty.faults.slowReader(30);
    client.send(request('sub', [RELIANCE], 'ltpc'));
    client.send(request('sub', [TCS], 'full'));
    expect(Object.keys((await client.next(isSnapshot)).decoded.feeds)).toEqual([RELIANCE]);
    expect(Object.keys((await client.next(isSnapshot)).decoded.feeds)).toEqual([TCS]);
  });

  it('the HTTP control API sets and clears faults and reports status', async () => {
    const faulty = await startSimulator();
    const { client } = await connect(faulty);
    client.send(request('sub', [RELIANCE], 'full'));
    await client.next(isSnapshot);
    const post = (path: string) => fetch(`${faulty.url}/_simulator/${path}`, { method: 'POST' });
    expect((await post('faults/stall?on=1')).status).toBe(200);
    expect(faulty.faults.state().stalled).toBe(true);
    await post('faults/refuse-authorize?status=429&times=2');
    expect(faulty.faults.state().refuse).toEqual({ status: 429, remaining: 2 });
    await post('faults/redirect-loop?on=1');
    await post('faults/slow-reader?ms=500');
    const status = (await (await fetch(`${faulty.url}/_simulator/status`)).json()) as Json;
    expect(status.faults).toMatchObject({ stalled: true, redirectLoop: true, slowReaderMs: 500 });
    expect(status.connections).toHaveLength(1);
    expect(status.connections[0].subscriptions).toEqual({ full: 1 });
    expect((await post('faults/reset')).status).toBe(200);
    expect(faulty.faults.state()).toEqual({ stalled: false, refuse: null, redirectLoop: false, slowReaderMs: 0 });
    expect((await post('faults/refuse-authorize?status=418')).status).toBe(400);
    expect((await post('faults/nope')).status).toBe(404);
    expect((await fetch(`${faulty.url}/_simulator/faults/drop`)).status).toBe(405);
    const dropped = client.closed;
    expect((await post('faults/drop')).status).toBe(200);
    expect(await dropped).toBe(1006);
  });
});

describe('recording and replay', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tickgraph-sim-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
  });

  const frames = () => [
    encodeFrame({ type: 2, currentTs: 1_000, marketInfo: { segmentStatus: { NSE_EQ: 2 } } }),
    encodeFrame({ currentTs: 1_500, feeds: { [RELIANCE]: { ltpc: { ltp: 1285.5, ltt: 1_400, ltq: 3, cp: 1280 } } } }),
    encodeFrame({ type: 1, currentTs: 2_000, feeds: { [RELIANCE]: { ltpc: { ltp: 1285.55, ltt: 1_990 } } } }),
  ];

  async function collect(path: string): Promise<RecordedFrame[]> {
    const out: RecordedFrame[] = [];
    for await (const frame of readRecording(path)) out.push(frame);
    return out;
  }

  it('round-trips frames and their receive times through the file format', async () => {
    const path = join(dir, 'roundtrip.feed');
    const recorder = createFrameRecorder(path);
    const input = frames();
    for (const [i, bytes] of input.entries()) recorder.write(bytes, 1_700_000_000_000 + i * 250);
    expect(recorder.framesWritten).toBe(3);
    await recorder.close();
    await recorder.close();
    expect(() => recorder.write(input[0]!)).toThrow('closed');
    const read = await collect(path);
    expect(read.map((f) => f.receivedAt)).toEqual([1_700_000_000_000, 1_700_000_000_250, 1_700_000_000_500]);
    expect(read.map((f) => Buffer.from(f.bytes))).toEqual(input.map((b) => Buffer.from(b)));
  });

  it('rejects a file without the magic header', async () => {
    const path = join(dir, 'not-a-recording.feed');
    await writeFile(path, 'hello world, this is not it');
    await expect(collect(path)).rejects.toBeInstanceOf(RecordingFormatError);
  });

  it('yields every complete frame of a truncated file, then reports the truncation', async () => {
    const path = join(dir, 'truncated.feed');
    const full = Buffer.concat([
      Buffer.from(RECORDING_MAGIC),
      ...frames().map((bytes) => {
        const header = Buffer.alloc(12);
        header.writeBigUInt64BE(1n, 0);
        header.writeUInt32BE(bytes.byteLength, 8);
        return Buffer.concat([header, bytes]);
      }),
    ]);
    await writeFile(path, full.subarray(0, full.length - 3));
    const seen: RecordedFrame[] = [];
    await expect(
      (async () => {
        for await (const frame of readRecording(path)) seen.push(frame);
      })(),
    ).rejects.toThrow(/truncated frame/);
    expect(seen).toHaveLength(2);
  });

  it('replays a recording byte for byte, in order, at N× speed', async () => {
    const path = join(dir, 'session.feed');
    const recorder = createFrameRecorder(path);
    const input = frames();
    for (const [i, bytes] of input.entries()) recorder.write(bytes, 1_700_000_000_000 + i * 1_000);
    await recorder.close();
    const replaying = await startSimulator({ replayFile: path, replaySpeed: 100 });
    const opened = nextEvent(replaying, 'connection');
    const client = track(await openRawFeed(await authorize(replaying)));
    const { connectionId } = await opened;
    const ended = await nextEvent(replaying, 'replay-end', (e) => e.connectionId === connectionId);
    expect(ended).toEqual({ connectionId, frames: 3 });
    const received = [await client.next(), await client.next(), await client.next()];
    expect(received.map((f) => Buffer.from(f.bytes))).toEqual(input.map((b) => Buffer.from(b)));
    expect(received[1]!.decoded.currentTs).toBe(1_500); // original timestamps, not restamped
  });

  it('refuses to start with a replay file that is missing or not a recording', async () => {
    const missing = createSimulator({ replayFile: join(dir, 'missing.feed') });
    await expect(missing.start()).rejects.toThrow(/replay file unusable.*ENOENT/);
    await missing.stop();
    const path = join(dir, 'wrong.feed');
    await writeFile(path, 'NOTAFEED and more');
    const wrong = createSimulator({ replayFile: path });
    await expect(wrong.start()).rejects.toThrow(/not a tickgraph recording/);
    await wrong.stop();
  });

  it('a recorder fed by a raw client captures a live session that replays identically', async () => {
    const path = join(dir, 'live.feed');
    const recorder = createFrameRecorder(path);
    const { client } = await connect(sim);
    client.send(request('sub', [RELIANCE, NIFTY], 'full'));
    await client.next(isLive);
    await client.close();
    for (const frame of client.frames) recorder.write(frame.bytes);
    await recorder.close();
    const recorded = await collect(path);
    expect(recorded.length).toBeGreaterThanOrEqual(3);
    expect(decodeFrame(recorded[0]!.bytes).type).toBe('market_info');
    const replaying = await startSimulator({ replayFile: path, replaySpeed: 50 });
    const opened = nextEvent(replaying, 'connection');
    const replayClient = track(await openRawFeed(await authorize(replaying)));
    const { connectionId } = await opened;
    await nextEvent(replaying, 'replay-end', (e) => e.connectionId === connectionId);
    for (const frame of recorded)
      expect(Buffer.from((await replayClient.next()).bytes)).toEqual(Buffer.from(frame.bytes));
  });
});

describe('cli arguments', () => {
  it('parses flags into simulator options and start-up faults', () => {
    const config = parseSimulatorArgs([
      '--port',
      '4100',
      '--rate',
      '1000',
      '--plus',
      '--token',
      'x',
      '--token',
      'y',
      '--fault',
      'stall',
      '--fault',
      'refuse-authorize:429:2',
      '--redirect-status',
      '302',
    ]);
    expect(config.options).toMatchObject({
      port: 4100,
      ticksPerSecond: 1000,
      plus: true,
      accessTokens: ['x', 'y'],
      redirectStatus: 302,
    });
    expect(config.faults).toEqual([{ kind: 'stall' }, { kind: 'refuse-authorize', status: 429, times: 2 }]);
  });

  it('rejects bad flags with a message that names the flag', () => {
    const bad: Array<[string[], RegExp]> = [
      [['--port', 'x'], /--port/],
      [['--bogus'], /bogus/],
      [['--redirect-status', '303'], /302 or 307/],
      [['--fault', 'drop'], /one-shot/],
      [['--fault', 'refuse-authorize:418'], /401, 429 or 500/],
      [['--speed', '10'], /--replay/],
      [['--replay', 'f', '--speed', '0'], /--speed/],
    ];
    for (const [argv, message] of bad) {
      expect(() => parseSimulatorArgs(argv)).toThrow(CliUsageError);
      expect(() => parseSimulatorArgs(argv)).toThrow(message);
    }
  });
});
