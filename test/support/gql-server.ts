/**
 * Starts the HTTP/WebSocket server on port 0 over the fakes and the real tick bus, plus the clients the
 * e2e tests use: graphql-ws (`createClient` with `ws`), an SSE reader, and a plain GraphQL POST.
 */

import { Writable } from 'node:stream';
import { type Client, createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { buildSchema } from '../../src/graphql/schema/index.js';
import { createInstrumentService, type InstrumentService } from '../../src/instruments/instrument-service.js';
import { createLogger } from '../../src/logger.js';
import { createServer, type ReadyState, type Server, type ServerOptions } from '../../src/server/http.js';
import { createTickBus, type TickBus } from '../../src/ticks/tick-bus.js';
import {
  createFakeCache,
  createFakeFeed,
  createFakeStore,
  type FakeCache,
  type FakeFeed,
  type FakeStore,
} from './gql-fakes.js';

export interface GqlTestServer {
  server: Server;
  port: number;
  url: string;
  wsUrl: string;
  feed: FakeFeed;
  store: FakeStore;
  cache: FakeCache;
  bus: TickBus;
  instruments: InstrumentService;
  /** What /ready answers; tests flip it. */
  readiness: { current: ReadyState };
  /** Every log line the server wrote (JSON). */
  logs: string[];
  stop(): Promise<void>;
}

export async function startGqlServer(
  options: Partial<Pick<ServerOptions, 'auth' | 'limits' | 'wsKeepAliveMs' | 'wsCloseTimeoutMs' | 'secrets'>> & {
    plus?: boolean;
  } = {},
): Promise<GqlTestServer> {
  const logs: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      logs.push(String(chunk));
      done();
    },
  });
  const logger = createLogger({ level: 'debug', destination: destination as never });
  const feed = createFakeFeed();
  const store = createFakeStore();
  const cache = createFakeCache();
  const bus = createTickBus({ logger });
  const instruments = createInstrumentService({ feed, store, plus: options.plus ?? false, logger });
  const readiness = { current: { ready: true, reasons: [] } as ReadyState };
  const server = createServer({
    schema: buildSchema(),
    services: { feed, cache, bus, store, instruments, stats: () => ({ dropped: { 'recorder-queue-full': 3 } }) },
    auth: options.auth,
    limits: options.limits,
    secrets: options.secrets ?? [],
    wsKeepAliveMs: options.wsKeepAliveMs ?? 0,
    ...(options.wsCloseTimeoutMs === undefined ? {} : { wsCloseTimeoutMs: options.wsCloseTimeoutMs }),
    logger,
    isReady: () => readiness.current,
  });
  const { port } = await server.listen(0, '127.0.0.1');
  return {
    server,
    port,
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/graphql`,
    feed,
    store,
    cache,
    bus,
    instruments,
    readiness,
    logs,
    async stop() {
      await server.close();
      await bus.stop();
    },
  };
}

export interface GraphQLResponse<T = Record<string, unknown>> {
  status: number;
  data?: T | null;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
}

/** POSTs one operation to /graphql. */
export async function gql<T = Record<string, unknown>>(
  baseUrl: string,
  query: string,
  variables: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Promise<GraphQLResponse<T>> {
  const response = await fetch(`${baseUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as Omit<GraphQLResponse<T>, 'status'>;
  return { status: response.status, ...body };
}

/** A graphql-ws client that does not retry (tests assert on the first close). */
export function wsClient(url: string, connectionParams?: Record<string, unknown>): Client {
  return createClient({
    url,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: true,
    ...(connectionParams ? { connectionParams } : {}),
  });
}

/** Collects the events of one subscription and lets a test wait for a condition on them. */
export interface Collector<T> {
  readonly events: T[];
  readonly errors: unknown[];
  completed: boolean;
  /** Resolves when `predicate(events)` holds; rejects on error/complete before it does. */
  waitFor(predicate: (events: T[]) => boolean, what?: string): Promise<T[]>;
  /** Stops the subscription (client side). */
  dispose(): void;
}

export function collect<T>(
  start: (sink: { next(v: T): void; error(e: unknown): void; complete(): void }) => () => void,
): Collector<T> {
  const waiters = new Set<() => void>();
  const notify = () => {
    for (const waiter of [...waiters]) waiter();
  };
  const collector: Collector<T> = {
    events: [],
    errors: [],
    completed: false,
    waitFor(predicate, what = 'condition') {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (predicate(collector.events)) {
            waiters.delete(check);
            resolve(collector.events);
          } else if (collector.errors.length > 0 || collector.completed) {
            waiters.delete(check);
            reject(
              new Error(
                `ended before ${what}: errors=${JSON.stringify(collector.errors)} events=${JSON.stringify(collector.events).slice(0, 500)}`,
              ),
            );
          }
        };
        waiters.add(check);
        check();
      });
    },
    dispose: () => stop(),
  };
  const stop = start({
    next(value) {
      collector.events.push(value);
      notify();
    },
    error(error) {
      collector.errors.push(error);
      notify();
    },
    complete() {
      collector.completed = true;
      notify();
    },
  });
  return collector;
}

/** Subscribes over graphql-ws and collects the results. */
export function wsSubscribe<T = Record<string, unknown>>(
  client: Client,
  query: string,
  variables: Record<string, unknown> = {},
): Collector<{ data?: T | null; errors?: readonly { message: string; extensions?: Record<string, unknown> }[] }> {
  return collect((sink) => client.subscribe<T>({ query, variables }, sink as never));
}

/** Subscribes over SSE (POST, Accept: text/event-stream) and collects each `next` event's JSON. */
export function sseSubscribe<T = Record<string, unknown>>(
  baseUrl: string,
  query: string,
  variables: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Collector<{ data?: T | null; errors?: { message: string; extensions?: Record<string, unknown> }[] }> & {
  response: Promise<Response>;
} {
  const abort = new AbortController();
  let response!: Promise<Response>;
  const collector = collect<{ data?: T | null; errors?: { message: string; extensions?: Record<string, unknown> }[] }>(
    (sink) => {
      response = fetch(`${baseUrl}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...headers },
        body: JSON.stringify({ query, variables }),
        signal: abort.signal,
      });
      (async () => {
        const res = await response;
        const reader = res.body!.getReader();
        const decoder = new TextDecoder();
        let buffer = '';
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          buffer += decoder.decode(value, { stream: true });
          let boundary = buffer.indexOf('\n\n');
          while (boundary !== -1) {
            const block = buffer.slice(0, boundary);
            buffer = buffer.slice(boundary + 2);
            boundary = buffer.indexOf('\n\n');
            const event = /^event: (.*)$/m.exec(block)?.[1] ?? 'message';
            const data = block
              .split('\n')
              .filter((line) => line.startsWith('data:'))
              .map((line) => line.slice(5).trimStart())
              .join('\n');
            if (event === 'complete') {
              sink.complete();
              return;
            }
            if (data) sink.next(JSON.parse(data));
          }
        }
        sink.complete();
      })().catch((error: unknown) => {
        if ((error as Error).name !== 'AbortError') sink.error(error);
      });
      return () => abort.abort();
    },
  );
  return Object.assign(collector, { response });
}

/** Resolves when `predicate()` holds, re-checking on every bus/socket-related tick of the event loop. */
export async function until(predicate: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}
