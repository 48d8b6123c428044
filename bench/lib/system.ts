/**
 * Builds the end-to-end rig out of worker processes: simulator → server (tickgraph via createApp, or the
 * plain-ws limit) → client processes. Everything listens on 127.0.0.1, port 0.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gqlMode, graphqlRequest, SUBSCRIBE_INSTRUMENTS } from './graphql.js';
import { sampleProcess, startWorker, type Worker, type WorkerMessage, workerPath } from './processes.js';
import { waitUntil } from './stats.js';

export interface SimulatorHandle {
  readonly worker: Worker;
  readonly url: string;
  readonly token: string;
  readonly keys: readonly string[];
  stats(): Promise<SimulatorStats>;
  /** Changes the offered tick rate (0 = idle: no live frames). */
  setRate(ticksPerSecond: number): Promise<void>;
}

export interface SimulatorStats extends WorkerMessage {
  readonly framesSent: number;
  readonly liveFrames: number;
  readonly liveTicks: number;
  readonly snapshotTicks: number;
  readonly framesDropped: number;
  readonly subscribedKeys: number;
  readonly connections: number;
}

export async function startSimulator(options: {
  ticksPerSecond: number;
  equities: number;
  frameIntervalMs?: number;
}): Promise<SimulatorHandle> {
  const { worker, ready } = await startWorker<WorkerMessage & { url: string; token: string; keys: string[] }>(
    workerPath('simulator.ts'),
    { env: { BENCH_SIM_OPTIONS: JSON.stringify(options) } },
  );
  return {
    worker,
    url: ready.url,
    token: ready.token,
    keys: ready.keys,
    stats: () => worker.request<SimulatorStats>({ type: 'stats' }, 'stats', 10_000),
    async setRate(ticksPerSecond) {
      await worker.request({ type: 'rate', ticksPerSecond }, 'rate-set', 10_000);
    },
  };
}

export interface ServerStats {
  /** Ticks the server took in from upstream (cumulative). */
  readonly ticksIn: number;
  /** Updates conflated for slow subscribers (cumulative; 0 for plain-ws). */
  readonly conflated: number;
  /** Messages skipped for slow sockets (plain-ws only; cumulative). */
  readonly skipped: number;
  readonly activeKeys: number;
  readonly rssMiB: number;
  readonly raw: WorkerMessage;
}

export interface ServerHandle {
  readonly kind: 'tickgraph' | 'plain-ws';
  readonly worker: Worker;
  readonly port: number;
  /** URL the client workers connect to (graphql-ws or plain JSON). */
  readonly wsUrl: string;
  readonly httpUrl: string;
  stats(): Promise<ServerStats>;
  /** Runs a full GC in the server (needs exposeGc) and returns its RSS and heap in MiB afterwards. */
  settledMemory(): Promise<{ rssMiB: number; heapMiB: number }>;
  /** Adds `keys` in `mode` to what the server receives upstream; resolves when the feed carries them. */
  subscribe(keys: readonly string[], mode: string): Promise<void>;
  stop(): Promise<void>;
}

export interface TickgraphOptions {
  readonly simulator: SimulatorHandle;
  /** Store ticks (SQLite in a temp dir). @default false */
  readonly recorder?: boolean;
  /** Extra config variables (see .env.example). */
  readonly env?: Record<string, string>;
  /** Start the server with --expose-gc (memory benchmark). @default false */
  readonly exposeGc?: boolean;
}

export async function startTickgraph({
  simulator,
  recorder = false,
  env = {},
  exposeGc = false,
}: TickgraphOptions): Promise<ServerHandle> {
  const dir = await mkdtemp(join(tmpdir(), 'tickgraph-bench-'));
  const appEnv: Record<string, string> = {
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'warn',
    LOG_FORMAT: 'json',
    DATABASE_URL: `file:${join(dir, 'bench.db')}`,
    UPSTOX_ACCESS_TOKEN: simulator.token,
    UPSTOX_API_BASE: simulator.url,
    RECORDER_ENABLED: String(recorder),
    MAX_SUBSCRIPTIONS_PER_CONNECTION: '100',
    ...env,
  };
  let stderr = '';
  const { worker, ready } = await startWorker<WorkerMessage & { port: number; url: string }>(
    workerPath('app-server.ts'),
    {
      env: { BENCH_APP_ENV: JSON.stringify(appEnv) },
      readyTimeoutMs: 60_000,
      nodeArgs: exposeGc ? ['--expose-gc'] : [],
      onStderr: (line) => {
        stderr = (stderr + line + '\n').slice(-4_000);
      },
    },
  );
  const httpUrl = `http://127.0.0.1:${ready.port}/graphql`;
  const stats = async (): Promise<ServerStats> => {
    const raw = await worker.request({ type: 'stats' }, 'stats', 10_000);
    const feed = raw['feed'] as { ticksDecoded: number; activeKeysByMode: Record<string, number> } | null;
    const bus = raw['bus'] as { conflated: number } | null;
    return {
      ticksIn: feed?.ticksDecoded ?? 0,
      conflated: bus?.conflated ?? 0,
      skipped: 0,
      activeKeys: Object.values(feed?.activeKeysByMode ?? {}).reduce((a, b) => a + b, 0),
      rssMiB: (raw['rss'] as number) / 1024 / 1024,
      raw,
    };
  };
  return {
    kind: 'tickgraph',
    worker,
    port: ready.port,
    wsUrl: `ws://127.0.0.1:${ready.port}/graphql`,
    httpUrl,
    stats,
    async settledMemory() {
      const reply = await worker.request({ type: 'gc' }, 'gc-done', 30_000);
      return { rssMiB: (reply['rss'] as number) / 1024 / 1024, heapMiB: (reply['heapUsed'] as number) / 1024 / 1024 };
    },
    async subscribe(keys, mode) {
      const before = (await stats()).activeKeys;
      for (let i = 0; i < keys.length; i += 5_000) {
        await graphqlRequest(httpUrl, SUBSCRIBE_INSTRUMENTS, { keys: keys.slice(i, i + 5_000), mode: gqlMode(mode) });
      }
      await waitUntil(async () => (await stats()).activeKeys >= before + keys.length, {
        timeoutMs: 30_000,
        intervalMs: 50,
        what: `the feed to carry ${keys.length} more keys${stderr ? `\n${stderr}` : ''}`,
      });
    },
    async stop() {
      await worker.stop(15_000);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export async function startPlainWs({ simulator }: { simulator: SimulatorHandle }): Promise<ServerHandle> {
  const { worker, ready } = await startWorker<WorkerMessage & { port: number }>(workerPath('plain-ws-server.ts'));
  const stats = async (): Promise<ServerStats> => {
    const raw = await worker.request({ type: 'report' }, 'report', 10_000);
    return {
      ticksIn: raw['updatesIn'] as number,
      conflated: 0,
      skipped: raw['skippedSlow'] as number,
      activeKeys: 0,
      rssMiB: (raw['rss'] as number) / 1024 / 1024,
      raw,
    };
  };
  return {
    kind: 'plain-ws',
    worker,
    port: ready.port,
    wsUrl: `ws://127.0.0.1:${ready.port}/`,
    httpUrl: '',
    stats,
    async settledMemory() {
      const { rssMiB } = await stats();
      return { rssMiB, heapMiB: Number.NaN };
    },
    async subscribe(keys, mode) {
      await worker.request(
        { type: 'start', apiBase: simulator.url, token: simulator.token, mode, keys: [...keys] },
        'started',
        30_000,
      );
      // The plain server has no feed status: wait until the simulator serves every key.
      await waitUntil(async () => (await simulator.stats()).subscribedKeys >= keys.length, {
        timeoutMs: 30_000,
        intervalMs: 50,
        what: 'the simulator to serve the plain-ws server',
      });
    },
    async stop() {
      await worker.stop(10_000);
    },
  };
}

export interface ClientReport {
  readonly updates: number;
  readonly snapshots: number;
  readonly events: number;
  readonly errors: number;
  readonly closedUnexpectedly: number;
  readonly lastError: string;
  readonly histogram: string;
}

export interface ClientFleet {
  readonly workers: readonly Worker[];
  readonly connected: number;
  readonly failed: number;
  readonly lastError: string;
  reset(): Promise<void>;
  report(): Promise<ClientReport[]>;
  stop(): Promise<void>;
}

/**
 * Starts `clients.length` clients spread over `processes` worker processes (each key list is one client).
 */
export async function startClients({
  protocol,
  url,
  clients,
  processes,
  throttleMs = 0,
}: {
  protocol: 'graphql-ws' | 'plain';
  url: string;
  clients: readonly (readonly string[])[];
  processes: number;
  throttleMs?: number;
}): Promise<ClientFleet> {
  const count = Math.max(1, Math.min(processes, clients.length));
  const workers = await Promise.all(
    Array.from({ length: count }, () => startWorker(workerPath('ws-clients.ts')).then((w) => w.worker)),
  );
  // A fleet that fails to start must not outlive the point: leaked client processes would starve the next one.
  const started = await Promise.all(
    workers.map((worker, i) =>
      worker.request<WorkerMessage & { connected: number; failed: number; lastError: string }>(
        {
          type: 'start',
          protocol,
          url,
          throttleMs,
          clients: clients.filter((_, c) => c % count === i).map((k) => [...k]),
        },
        'started',
        180_000,
      ),
    ),
  ).catch(async (error: unknown) => {
    await Promise.allSettled(workers.map((w) => w.stop()));
    throw error;
  });
  return {
    workers,
    connected: started.reduce((sum, s) => sum + s.connected, 0),
    failed: started.reduce((sum, s) => sum + s.failed, 0),
    lastError: started.map((s) => s.lastError).find(Boolean) ?? '',
    async reset() {
      await Promise.all(workers.map((w) => w.request({ type: 'reset' }, 'reset-done', 60_000)));
    },
    report: () =>
      Promise.all(workers.map((w) => w.request<WorkerMessage & ClientReport>({ type: 'report' }, 'report', 60_000))),
    async stop() {
      await Promise.allSettled(workers.map((w) => w.stop()));
    },
  };
}

export { sampleProcess };
