/**
 * Load-generator process: hosts many WebSocket clients (graphql-ws against tickgraph, or plain JSON against
 * bench/workers/plain-ws-server.ts) and measures, per delivered instrument update, latency = receipt time −
 * tick.exchangeTs (the simulator's send time, FeedResponse.currentTs). Both protocols carry the same payload:
 * `{ updates: [{ instrumentKey, snapshot, tick: { exchangeTs, ltp, volume } }] }`.
 *
 * IPC: parent → `start` { protocol, url, clients: string[][], throttleMs? } → `started` { connected, failed }
 *      parent → `reset` → `reset-done`;  parent → `report` → `report` { updates, snapshots, events, histogram, ... }
 */
import { type Client, createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { createLatencyRecorder } from '../lib/stats.js';
import { type ParentMessage, sendToParent, serveParent } from './worker-side.js';

export const TICKS_SUBSCRIPTION = `subscription Ticks($keys: [String!]!, $throttleMs: Int) {
  ticks(instrumentKeys: $keys, throttleMs: $throttleMs) {
    updates { instrumentKey snapshot tick { exchangeTs ltp volume } }
  }
}`;

interface Update {
  readonly instrumentKey: string;
  readonly snapshot: boolean;
  readonly tick: { readonly exchangeTs: number };
}
interface TickEvent {
  readonly updates: readonly Update[];
}

const latency = createLatencyRecorder();
let updates = 0;
let snapshots = 0;
let events = 0;
let errors = 0;
let closedUnexpectedly = 0;
let lastError = '';
let windowStartedAt = Date.now();
const closers: (() => void)[] = [];
let stopping = false;

function onEvent(event: TickEvent | null | undefined): void {
  if (!event) return;
  events++;
  const now = Date.now();
  for (const update of event.updates) {
    if (update.snapshot) {
      snapshots++;
      continue;
    }
    updates++;
    latency.recordMs(now - update.tick.exchangeTs);
  }
}

function noteError(error: unknown): void {
  errors++;
  lastError = error instanceof Error ? error.message : typeof error === 'string' ? error : JSON.stringify(error);
}

async function startGraphqlClient(url: string, keys: readonly string[], throttleMs: number): Promise<void> {
  let client: Client | null = null;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('graphql-ws connect timeout')), 30_000);
    client = createClient({
      url,
      webSocketImpl: WebSocket,
      lazy: false,
      retryAttempts: 0,
      on: {
        connected: () => {
          clearTimeout(timer);
          resolve();
        },
        closed: (event) => {
          clearTimeout(timer);
          if (!stopping) {
            closedUnexpectedly++;
            noteError(`closed ${(event as { code?: number })?.code ?? ''}`);
          }
          reject(new Error('closed before connected'));
        },
      },
    });
  });
  const c = client!;
  const unsubscribe = c.subscribe<{ ticks: TickEvent }>(
    { query: TICKS_SUBSCRIPTION, variables: { keys, throttleMs } },
    {
      next: (result) => {
        if (result.errors?.length) noteError(result.errors[0]?.message);
        onEvent(result.data?.ticks);
      },
      error: noteError,
      complete: () => {},
    },
  );
  closers.push(() => {
    unsubscribe();
    void c.dispose();
  });
}

async function startPlainClient(url: string, keys: readonly string[]): Promise<void> {
  const socket = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('plain ws connect timeout')), 30_000);
    socket.once('open', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
  socket.on('message', (data) => onEvent(JSON.parse(String(data)) as TickEvent));
  socket.on('error', noteError);
  socket.on('close', () => {
    if (!stopping) closedUnexpectedly++;
  });
  socket.send(JSON.stringify({ subscribe: keys }));
  closers.push(() => socket.close(1000));
}

async function start(message: ParentMessage): Promise<void> {
  const protocol = message['protocol'] as 'graphql-ws' | 'plain';
  const url = message['url'] as string;
  const clients = message['clients'] as string[][];
  const throttleMs = (message['throttleMs'] as number | undefined) ?? 0;
  let connected = 0;
  let failed = 0;
  // Connect in small waves: 1,000 simultaneous handshakes on 2 cores only measure the accept queue.
  const wave = 50;
  for (let i = 0; i < clients.length; i += wave) {
    const results = await Promise.allSettled(
      clients
        .slice(i, i + wave)
        .map((keys) =>
          protocol === 'plain' ? startPlainClient(url, keys) : startGraphqlClient(url, keys, throttleMs),
        ),
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
    for (const close of closers) close();
  },
);
sendToParent({ type: 'ready' });
