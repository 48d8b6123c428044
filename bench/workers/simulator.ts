/**
 * The upstream in its own process: src/simulator's createSimulator over a generated universe, so the server
 * under test spends no CPU producing its own input. Options come as JSON in BENCH_SIM_OPTIONS.
 * It counts what it offers (live ticks per frame, from its `frame` events) so the parent can tell lost from
 * conflated. IPC: → `ready` { url, token, keys }; `stats` → `stats` { framesSent, liveTicks, snapshotTicks, ... }.
 */
import { generateUniverse } from '../../src/simulator/market-model.js';
import { createSimulator } from '../../src/simulator/simulator.js';
import { type ParentMessage, sendToParent, serveParent } from './worker-side.js';

export interface SimulatorWorkerOptions {
  readonly ticksPerSecond: number;
  /** Generated equities (the universe); keys come back in `ready`. */
  readonly equities: number;
  /** @default 20 */
  readonly frameIntervalMs?: number;
  readonly token?: string;
}

const options = JSON.parse(process.env['BENCH_SIM_OPTIONS'] ?? '{}') as SimulatorWorkerOptions;
const token = options.token ?? 'bench-simulator-token-0123456789';
const universe = generateUniverse({ equities: options.equities, indices: false, seed: 7 });
const simulator = createSimulator({
  port: 0,
  accessTokens: [token],
  universe,
  ticksPerSecond: options.ticksPerSecond,
  frameIntervalMs: options.frameIntervalMs ?? 20,
  // Benchmarks never wait on pings; fewer timers.
  pingIntervalMs: 30_000,
});

const counts = { framesSent: 0, liveFrames: 0, liveTicks: 0, snapshotTicks: 0, bytes: 0 };
simulator.on('frame', (event) => {
  counts.framesSent++;
  counts.bytes += event.bytes;
  const feeds = event.response.feeds;
  if (!feeds) return;
  let n = 0;
  for (const _ in feeds) n++;
  if (event.type === 'live_feed') {
    counts.liveFrames++;
    counts.liveTicks += n;
  } else if (event.type === 'initial_feed') counts.snapshotTicks += n;
});

serveParent(
  (message: ParentMessage) => {
    if (message.type === 'stats') {
      const connections = simulator.connections();
      sendToParent({
        type: 'stats',
        ...counts,
        at: Date.now(),
        connections: connections.length,
        framesDropped: connections.reduce((sum, c) => sum + c.framesDropped, 0),
        subscribedKeys: connections.reduce((sum, c) => sum + c.subscriptions.size, 0),
      });
    } else if (message.type === 'rate') {
      simulator.setTicksPerSecond(message['ticksPerSecond'] as number);
      sendToParent({ type: 'rate-set' });
    }
  },
  () => simulator.stop(),
);

await simulator.start();
sendToParent({ type: 'ready', url: simulator.url, token, keys: universe.map((spec) => spec.key) });
