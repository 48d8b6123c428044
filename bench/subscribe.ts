/**
 * Subscribe latency: time from the subscribeInstruments mutation for 5,000 LTPC keys to a graphql-ws
 * subscriber holding a snapshot of every one of them (simulator → tickgraph → subscriber, separate processes).
 * Each repetition uses a fresh server and database, so every run is a cold subscribe.
 */
import type { Benchmark, Profile, Row } from './lib/harness.js';
import { startWorker, type WorkerMessage, workerPath } from './lib/processes.js';
import { median } from './lib/stats.js';
import { startSimulator, startTickgraph } from './lib/system.js';

const SIZES: Record<Profile, { keys: number; repetitions: number }> = {
  smoke: { keys: 50, repetitions: 1 },
  quick: { keys: 5_000, repetitions: 2 },
  full: { keys: 5_000, repetitions: 5 },
};

/** The server's default per-subscription key limit (MAX_KEYS_PER_REQUEST / maxKeysPerRead). */
const KEYS_PER_SUBSCRIPTION = 500;

interface RunResult extends WorkerMessage {
  mutationMs: number;
  firstSnapshotMs: number | null;
  allSnapshotsMs: number | null;
  snapshotted: number;
  seen: number;
  subscriptions: number;
  errors: number;
  lastError: string;
}

export const subscribeBenchmark: Benchmark = {
  name: 'subscribe',
  description: 'subscribeInstruments(5,000 LTPC keys) → every key snapshotted at a graphql-ws subscriber',
  async run({ profile, log }) {
    const { keys: keyCount, repetitions } = SIZES[profile];
    const rows: Row[] = [];
    const totals: number[] = [];
    for (let rep = 1; rep <= repetitions; rep++) {
      const simulator = await startSimulator({ ticksPerSecond: 1_000, equities: keyCount, frameIntervalMs: 50 });
      const server = await startTickgraph({ simulator, recorder: true }).catch(async (error) => {
        await simulator.worker.stop();
        throw error;
      });
      const { worker } = await startWorker(workerPath('subscribe-client.ts'));
      try {
        const result = await worker.request<RunResult>(
          {
            type: 'run',
            httpUrl: server.httpUrl,
            wsUrl: server.wsUrl,
            keys: simulator.keys.slice(0, keyCount),
            mode: 'ltpc',
            chunk: KEYS_PER_SUBSCRIPTION,
            timeoutMs: 60_000,
          },
          'result',
          90_000,
        );
        if (result.allSnapshotsMs !== null) totals.push(result.allSnapshotsMs);
        log(
          `run ${rep}: mutation ${result.mutationMs.toFixed(0)} ms, all snapshots ${result.allSnapshotsMs?.toFixed(0) ?? `— (${result.snapshotted}/${keyCount})`} ms${result.lastError ? `, error: ${result.lastError}` : ''}`,
        );
        rows.push({
          run: rep,
          keys: keyCount,
          subscriptions: result.subscriptions,
          'mutation ms': result.mutationMs,
          'first snapshot ms': result.firstSnapshotMs,
          'all snapshots ms': result.allSnapshotsMs,
          'keys snapshotted': result.snapshotted,
          errors: result.errors,
        });
      } finally {
        await worker.stop();
        await server.stop();
        await simulator.worker.stop();
      }
    }
    const med = totals.length > 0 ? median(totals) : null;
    if (rows.length > 1) {
      rows.push({
        run: 'median',
        keys: keyCount,
        subscriptions: null,
        'mutation ms': median(rows.map((r) => r['mutation ms'] as number)),
        'first snapshot ms': null,
        'all snapshots ms': med,
        'keys snapshotted': null,
        errors: null,
      });
    }
    return {
      rows,
      notes: [
        `The subscriber holds one graphql-ws connection and opens ${Math.ceil(keyCount / KEYS_PER_SUBSCRIPTION)} subscriptions of ≤ ${KEYS_PER_SUBSCRIPTION} keys (the server's per-subscription key limit) right after the mutation returns; keys not subscribed upstream are refused, so the subscription cannot start earlier.`,
        'Times from the moment the mutation is sent (one process, one clock). Snapshot = an update flagged snapshot: from the cache or from the upstream initial_feed.',
        'Recorder on (SQLite): the mutation also persists the 5,000 subscriptions.',
      ],
    };
  },
};

export default subscribeBenchmark;
