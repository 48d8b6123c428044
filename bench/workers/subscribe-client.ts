/**
 * Subscriber process for bench/subscribe.ts. With one graphql-ws connection already open, on `run` it:
 * t0 → sends subscribeInstruments(keys, mode) over HTTP → t1 response → opens `ticks` subscriptions for the keys
 * (chunks of `chunk`, the server's per-subscription key limit) → t2 when every key has had a snapshot update.
 * All times are taken in this one process. IPC: `run` { httpUrl, wsUrl, keys, mode, chunk, timeoutMs } → `result`.
 */
import { type Client, createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { gqlMode, graphqlRequest, SUBSCRIBE_INSTRUMENTS } from '../lib/graphql.js';
import { type ParentMessage, sendToParent, serveParent } from './worker-side.js';

const SUBSCRIPTION = `subscription Snap($keys: [String!]!) {
  ticks(instrumentKeys: $keys) { updates { instrumentKey snapshot } }
}`;

let client: Client | null = null;
const unsubscribes: (() => void)[] = [];

async function connect(wsUrl: string): Promise<Client> {
  return new Promise((resolve, reject) => {
    const c = createClient({
      url: wsUrl,
      webSocketImpl: WebSocket,
      lazy: false,
      retryAttempts: 0,
      on: { connected: () => resolve(c), error: reject },
    });
  });
}

async function run(message: ParentMessage): Promise<void> {
  const httpUrl = message['httpUrl'] as string;
  const keys = message['keys'] as string[];
  const mode = message['mode'] as string;
  const chunk = message['chunk'] as number;
  const timeoutMs = message['timeoutMs'] as number;
  client ??= await connect(message['wsUrl'] as string);
  const c = client;

  const snapshotted = new Set<string>();
  const seen = new Set<string>();
  let firstSnapshotAt: number | null = null;
  let errors = 0;
  let lastError = '';
  let allSnapshotsAt: number | null = null;
  let resolveAll: () => void = () => {};
  const all = new Promise<void>((resolve) => {
    resolveAll = resolve;
  });

  // Warm the HTTP path first (first-request costs are not what this measures).
  await graphqlRequest(httpUrl, '{ __typename }', {}, { timeoutMs });
  const t0 = performance.now();
  await graphqlRequest(httpUrl, SUBSCRIBE_INSTRUMENTS, { keys, mode: gqlMode(mode) }, { timeoutMs });
  const t1 = performance.now();
  for (let i = 0; i < keys.length; i += chunk) {
    unsubscribes.push(
      c.subscribe<{ ticks: { updates: { instrumentKey: string; snapshot: boolean }[] } }>(
        { query: SUBSCRIPTION, variables: { keys: keys.slice(i, i + chunk) } },
        {
          next: (result) => {
            if (result.errors?.length) {
              errors++;
              lastError = result.errors[0]!.message;
            }
            for (const update of result.data?.ticks.updates ?? []) {
              seen.add(update.instrumentKey);
              if (!update.snapshot) continue;
              firstSnapshotAt ??= performance.now();
              snapshotted.add(update.instrumentKey);
            }
            if (allSnapshotsAt === null && snapshotted.size >= keys.length) {
              allSnapshotsAt = performance.now();
              resolveAll();
            }
          },
          error: (error) => {
            errors++;
            lastError = error instanceof Error ? error.message : JSON.stringify(error);
          },
          complete: () => {},
        },
      ),
    );
  }
  const timer = setTimeout(resolveAll, timeoutMs);
  await all;
  clearTimeout(timer);
  sendToParent({
    type: 'result',
    mutationMs: t1 - t0,
    firstSnapshotMs: firstSnapshotAt === null ? null : firstSnapshotAt - t0,
    allSnapshotsMs: allSnapshotsAt === null ? null : (allSnapshotsAt as number) - t0,
    snapshotted: snapshotted.size,
    seen: seen.size,
    subscriptions: Math.ceil(keys.length / chunk),
    errors,
    lastError,
  });
}

serveParent(
  async (message) => {
    if (message.type === 'run') await run(message);
  },
  async () => {
    for (const unsubscribe of unsubscribes) unsubscribe();
    await client?.dispose();
  },
);
sendToParent({ type: 'ready' });
