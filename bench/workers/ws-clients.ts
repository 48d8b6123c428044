/**
 * Load-generator process: hosts many WebSocket clients (graphql-ws against tickgraph, or plain JSON against
 * bench/workers/plain-ws-server.ts) and measures, per delivered instrument update, latency = receipt time −
 * tick.exchangeTs (the simulator's send time, FeedResponse.currentTs). Both protocols carry the same payload:
 * `{ updates: [{ instrumentKey, snapshot, tick: { exchangeTs, ltp, volume } }] }`.
 *
 * IPC: parent → `start` { protocol, url, clients: string[][], throttleMs? } → `started` { connected, failed }
 *      parent → `reset` → `reset-done`;  parent → `report` → `report` { updates, snapshots, events, histogram, ... }
 */
import WebSocket from 'ws';
import { createLatencyRecorder } from '../lib/stats.js';
import { type ParentMessage, sendToParent, serveParent } from './worker-side.js';

export const TICKS_SUBSCRIPTION = `subscription Ticks($keys: [String!]!, $throttleMs: Int) {
  ticks(instrumentKeys: $keys, throttleMs: $throttleMs) {
    updates { instrumentKey snapshot tick { exchangeTs ltp volume } }
  }
}`;

const latency = createLatencyRecorder();
let updates = 0;
let snapshots = 0;
let events = 0;
let errors = 0;
let closedUnexpectedly = 0;
let lastError = '';
let windowStartedAt = Date.now();
const sockets: WebSocket[] = [];
let stopping = false;

// The clients must cost far less than the server they measure (they share 2 cores with it), so messages are
// not JSON.parse'd: both payloads put `"snapshot":…` before `"exchangeTs":<digits>` in every update (GraphQL
// keeps the selection order), and a byte scan for those two is enough to count updates and time each one.
const SNAPSHOT = Buffer.from('"snapshot":');
const EXCHANGE_TS = Buffer.from('"exchangeTs":');
const ERRORS = Buffer.from('"errors"');
const ERROR_TYPE = Buffer.from('"type":"error"');
const PING = Buffer.from('"type":"ping"');

function onMessage(data: Buffer, socket: WebSocket): void {
  const now = Date.now();
  if (data.length < 200 && data.indexOf(PING) !== -1) {
    socket.send('{"type":"pong"}');
    return;
  }
  if (data.indexOf(ERRORS) !== -1 || data.indexOf(ERROR_TYPE) !== -1) {
    errors++;
    lastError = data.toString('utf8', 0, Math.min(data.length, 300));
    return;
  }
  let position = 0;
  let found = false;
  for (;;) {
    const s = data.indexOf(SNAPSHOT, position);
    if (s === -1) break;
    const isSnapshot = data[s + SNAPSHOT.length] === 0x74; // 't'
    const t = data.indexOf(EXCHANGE_TS, s);
    if (t === -1) break;
    let i = t + EXCHANGE_TS.length;
    let ts = 0;
    for (; i < data.length; i++) {
      const c = data[i]!;
      if (c < 0x30 || c > 0x39) break;
      ts = ts * 10 + (c - 0x30);
    }
    position = i;
    found = true;
    if (isSnapshot) snapshots++;
    else {
      updates++;
      latency.recordMs(now - ts);
    }
  }
  if (found) events++;
}

function noteError(error: unknown): void {
  errors++;
  lastError = error instanceof Error ? error.message : typeof error === 'string' ? error : JSON.stringify(error);
}

function open(url: string, protocol?: string): Promise<WebSocket> {
  const socket = new WebSocket(url, protocol, { perMessageDeflate: false });
  return new Promise<WebSocket>((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.terminate();
      reject(new Error('WebSocket handshake not answered within 20 s'));
    }, 20_000);
    socket.once('open', () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

function watch(socket: WebSocket): void {
  sockets.push(socket);
  socket.on('error', noteError);
  socket.on('close', (code) => {
    if (!stopping) {
      closedUnexpectedly++;
      noteError(`closed ${code}`);
    }
  });
  socket.on('message', (data: Buffer) => onMessage(data, socket));
}

/** graphql-transport-ws by hand (init → ack → subscribe), so receiving costs no JSON.parse per message. */
async function startGraphqlClient(url: string, keys: readonly string[], throttleMs: number): Promise<void> {
  const socket = await open(url, 'graphql-transport-ws');
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no connection_ack within 30 s')), 30_000);
    const onClose = (code: number) => {
      clearTimeout(timer);
      reject(new Error(`closed ${code} before connection_ack`));
    };
    socket.once('close', onClose);
    socket.once('message', (data: Buffer) => {
      clearTimeout(timer);
      socket.off('close', onClose);
      if (data.toString().includes('connection_ack')) resolve();
      else reject(new Error(`expected connection_ack, got ${data.toString().slice(0, 200)}`));
    });
    socket.send(JSON.stringify({ type: 'connection_init', payload: {} }));
  });
  watch(socket);
  socket.send(
    JSON.stringify({
      id: '1',
      type: 'subscribe',
      payload: { query: TICKS_SUBSCRIPTION, variables: { keys, throttleMs } },
    }),
  );
}

async function startPlainClient(url: string, keys: readonly string[]): Promise<void> {
  const socket = await open(url);
  watch(socket);
  socket.send(JSON.stringify({ subscribe: keys }));
}

async function start(message: ParentMessage): Promise<void> {
  const protocol = message['protocol'] as 'graphql-ws' | 'plain';
  const url = message['url'] as string;
  const clients = message['clients'] as string[][];
  const throttleMs = (message['throttleMs'] as number | undefined) ?? 0;
  let connected = 0;
  let failed = 0;
  // Connect in small waves: 1,000 simultaneous handshakes on 2 cores only measure the accept queue. A client
  // whose handshake fails is retried once (on a loaded machine a handshake can starve), then counted as failed.
  const wave = 10;
  const connectOne = (keys: string[]) =>
    protocol === 'plain' ? startPlainClient(url, keys) : startGraphqlClient(url, keys, throttleMs);
  for (let i = 0; i < clients.length; i += wave) {
    const results = await Promise.allSettled(
      clients.slice(i, i + wave).map((keys) => connectOne(keys).catch(() => connectOne(keys))),
    );
    for (const result of results) {
      if (result.status === 'fulfilled') connected++;
      else {
        failed++;
        noteError(result.reason);
      }
    }
  }
  sendToParent({ type: 'started', connected, failed, lastError });
}

serveParent(
  async (message) => {
    if (message.type === 'start') await start(message);
    else if (message.type === 'reset') {
      latency.reset();
      updates = 0;
      snapshots = 0;
      events = 0;
      windowStartedAt = Date.now();
      sendToParent({ type: 'reset-done' });
    } else if (message.type === 'report') {
      sendToParent({
        type: 'report',
        updates,
        snapshots,
        events,
        errors,
        closedUnexpectedly,
        lastError,
        windowMs: Date.now() - windowStartedAt,
        histogram: latency.encode(),
        memory: process.memoryUsage().rss,
      });
    }
  },
  () => {
    stopping = true;
    for (const socket of sockets) socket.close(1000);
  },
);
sendToParent({ type: 'ready' });
