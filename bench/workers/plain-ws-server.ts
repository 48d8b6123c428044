/**
 * The fan-out limit: a plain `ws` server with no GraphQL, no bus, no schema. It takes the same upstream
 * (authorize → feeder socket → `sub` on the simulator), decodes with bare protobufjs, keeps the latest
 * ltp/volume per key (live frames are partial) and sends each client the updates of each frame for the keys
 * it asked for, as JSON in the same shape tickgraph's subscription returns. Clients with the same key set
 * share one serialisation. A socket with more than 4 MiB unsent is skipped for that frame (its updates counted in skippedSlow), so a
 * slow client cannot take the server down — the simplest policy a hand-written server would have.
 *
 * Clients send `{ "subscribe": [keys] }` once. IPC: `start` { apiBase, token, mode, keys } → `ready` { port }
 * is sent after the upstream is subscribed; `report` → `report` { frames, updatesIn, messagesSent, ... }.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import protobuf from 'protobufjs';
import WebSocket, { WebSocketServer } from 'ws';
import { FEED_RESPONSE_TYPE, PROTO_PATH } from '../lib/frames.js';
import { type ParentMessage, sendToParent, serveParent } from './worker-side.js';

const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
const FeedResponse = protobuf.loadSync(PROTO_PATH).lookupType(FEED_RESPONSE_TYPE);

type Longish = number | { toNumber(): number } | null | undefined;
const num = (value: Longish): number | null =>
  value == null ? null : typeof value === 'number' ? value : value.toNumber();

interface Ltpc {
  ltp?: number;
}
interface DecodedFeed {
  ltpc?: Ltpc;
  fullFeed?: { marketFF?: { ltpc?: Ltpc; vtt?: Longish }; indexFF?: { ltpc?: Ltpc } };
  firstLevelWithGreeks?: { ltpc?: Ltpc; vtt?: Longish };
}
interface DecodedFrame {
  type?: number;
  currentTs?: Longish;
  feeds?: Record<string, DecodedFeed>;
}

interface Group {
  readonly sockets: Set<WebSocket>;
  pending: string[];
}

const latest = new Map<string, { ltp: number | null; volume: number | null }>();
/** key → groups interested in it; a group is every client with the same key list. */
const groupsByKey = new Map<string, Group[]>();
const groupsBySignature = new Map<string, Group>();
const stats = { frames: 0, updatesIn: 0, messagesSent: 0, skippedSlow: 0, decodeErrors: 0, clients: 0 };
let upstream: WebSocket | null = null;

function addClient(socket: WebSocket, keys: readonly string[]): void {
  const unique = [...new Set(keys)].sort();
  const signature = unique.join(',');
  let group = groupsBySignature.get(signature);
  if (!group) {
    group = { sockets: new Set(), pending: [] };
    groupsBySignature.set(signature, group);
    for (const key of unique) {
      const list = groupsByKey.get(key);
      if (list) list.push(group);
      else groupsByKey.set(key, [group]);
    }
  }
  group.sockets.add(socket);
  stats.clients++;
  const g = group;
  socket.once('close', () => {
    g.sockets.delete(socket);
    stats.clients--;
  });
}

function onFrame(bytes: Buffer): void {
  let frame: DecodedFrame;
  try {
    frame = FeedResponse.decode(bytes) as unknown as DecodedFrame;
  } catch {
    stats.decodeErrors++;
    return;
  }
  stats.frames++;
  if (frame.type === 2 || !frame.feeds) return; // market_info
  const exchangeTs = num(frame.currentTs) ?? Date.now();
  const snapshot = !frame.type;
  const touched: Group[] = [];
  for (const key in frame.feeds) {
    const feed = frame.feeds[key]!;
    const market = feed.fullFeed?.marketFF;
    const ltpc = feed.ltpc ?? market?.ltpc ?? feed.fullFeed?.indexFF?.ltpc ?? feed.firstLevelWithGreeks?.ltpc;
    const volume = num(market?.vtt ?? feed.firstLevelWithGreeks?.vtt);
    let state = latest.get(key);
    if (!state) {
      state = { ltp: null, volume: null };
      latest.set(key, state);
    }
    if (ltpc?.ltp != null) state.ltp = ltpc.ltp;
    if (volume != null) state.volume = volume;
    stats.updatesIn++;
    const groups = groupsByKey.get(key);
    if (!groups) continue;
    const json = `{"instrumentKey":${JSON.stringify(key)},"snapshot":${snapshot},"tick":{"exchangeTs":${exchangeTs},"ltp":${state.ltp},"volume":${state.volume}}}`;
    for (const group of groups) {
      if (group.pending.length === 0) touched.push(group);
      group.pending.push(json);
    }
  }
  for (const group of touched) {
    const message = `{"updates":[${group.pending.join(',')}]}`;
    const count = group.pending.length;
    group.pending = [];
    for (const socket of group.sockets) {
      if (socket.readyState !== WebSocket.OPEN) continue;
      if (socket.bufferedAmount > MAX_BUFFERED_BYTES) {
        stats.skippedSlow += count;
        continue;
      }
      socket.send(message);
      stats.messagesSent++;
    }
  }
}

/** Authorize with the bearer token, open the single-use feeder URL, subscribe `keys` in `mode`. */
async function connectUpstream(apiBase: string, token: string, mode: string, keys: readonly string[]): Promise<void> {
  const response = await fetch(new URL('/v3/feed/market-data-feed/authorize', apiBase), {
    headers: { Authorization: `Bearer ${token}`, Accept: 'application/json' },
  });
  if (!response.ok) throw new Error(`authorize failed: HTTP ${response.status}`);
  const body = (await response.json()) as {
    data?: { authorized_redirect_uri?: string; authorizedRedirectUri?: string };
  };
  const url = body.data?.authorized_redirect_uri ?? body.data?.authorizedRedirectUri;
  if (!url) throw new Error('authorize returned no redirect URI');
  const socket = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  socket.on('message', (data: Buffer) => onFrame(data));
  // One `sub` per ≤ 1,000 keys, binary JSON like every Upstox client.
  for (let i = 0; i < keys.length; i += 1_000) {
    const request = {
      guid: `plain-${i}`,
      method: 'sub',
      data: { mode, instrumentKeys: keys.slice(i, i + 1_000) },
    };
    socket.send(Buffer.from(JSON.stringify(request)));
  }
  upstream = socket;
}

const http = createServer((_request, response) => {
  response.writeHead(404).end();
});
const wss = new WebSocketServer({ server: http });
wss.on('connection', (socket) => {
  socket.once('message', (data) => {
    try {
      const request = JSON.parse(String(data)) as { subscribe?: string[] };
      addClient(socket, request.subscribe ?? []);
    } catch {
      socket.close(1003, 'expected {"subscribe":[keys]}');
    }
  });
});

serveParent(
  async (message: ParentMessage) => {
    if (message.type === 'start') {
      await connectUpstream(
        message['apiBase'] as string,
        message['token'] as string,
        message['mode'] as string,
        message['keys'] as string[],
      );
      sendToParent({ type: 'started' });
    } else if (message.type === 'report') {
      sendToParent({ type: 'report', ...stats, rss: process.memoryUsage().rss });
    }
  },
  async () => {
    upstream?.close(1000);
    for (const socket of wss.clients) socket.terminate();
    await new Promise<void>((resolve) => http.close(() => resolve()));
  },
);

http.listen(0, '127.0.0.1', () => {
  sendToParent({ type: 'ready', port: (http.address() as AddressInfo).port });
});
