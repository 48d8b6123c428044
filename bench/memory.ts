/**
 * Server memory (RSS after two forced GCs, via --expose-gc in the server process): idle; per 1,000 subscribed
 * instruments (LTPC up to the 5,000 cap, full up to its 2,000 cap, ticks flowing); with 1,000 idle graphql-ws
 * clients (one subscription each, no ticks flowing). Clients live in their own processes.
 */
import type { Benchmark, Profile, Row } from './lib/harness.js';
import { sleep } from './lib/stats.js';
import { type ServerHandle, type SimulatorHandle, startClients, startSimulator, startTickgraph } from './lib/system.js';

interface Size {
  readonly ltpcSteps: readonly number[];
  readonly fullSteps: readonly number[];
  readonly idleClients: number;
  /** Ticks flow this long before each reading, so caches and buffers hold real state. */
  readonly settleMs: number;
}

const SIZES: Record<Profile, Size> = {
  smoke: { ltpcSteps: [20], fullSteps: [10], idleClients: 5, settleMs: 300 },
  quick: { ltpcSteps: [1_000, 5_000], fullSteps: [2_000], idleClients: 1_000, settleMs: 2_000 },
  full: {
    ltpcSteps: [1_000, 2_000, 3_000, 4_000, 5_000],
    fullSteps: [1_000, 2_000],
    idleClients: 1_000,
    settleMs: 4_000,
  },
};

async function withServer<T>(
  equities: number,
  ticksPerSecond: number,
  body: (simulator: SimulatorHandle, server: ServerHandle) => Promise<T>,
): Promise<T> {
  const simulator = await startSimulator({ ticksPerSecond, equities, frameIntervalMs: 50 });
  let server: ServerHandle | undefined;
  try {
    server = await startTickgraph({ simulator, recorder: false, exposeGc: true });
    return await body(simulator, server);
  } finally {
    await server?.stop();
    await simulator.worker.stop();
  }
}

export const memoryBenchmark: Benchmark = {
  name: 'memory',
  description: 'Server RSS: idle, per 1,000 subscribed instruments, with 1,000 idle graphql-ws clients',
  async run({ profile, log }) {
    const size = SIZES[profile];
    const rows: Row[] = [];
    let idleRss: number | null = null;

    for (const [mode, steps] of [
      ['ltpc', size.ltpcSteps],
      ['full', size.fullSteps],
    ] as const) {
      const max = Math.max(...steps);
      await withServer(max, Math.max(200, max), async (simulator, server) => {
        await sleep(size.settleMs);
        const idle = await server.settledMemory();
        if (mode === 'ltpc') {
          idleRss = idle.rssMiB;
          rows.push({
            state: 'idle (no instruments, no clients)',
            mode: null,
            instruments: 0,
            clients: 0,
            'RSS MiB': idle.rssMiB,
            'heap MiB': idle.heapMiB,
            'Δ RSS MiB': 0,
            'Δ heap MiB': 0,
            'per 1,000 instruments MiB': null,
            'heap per 1,000 instruments MiB': null,
            'per client KiB': null,
            'heap per client KiB': null,
          });
          log(`idle: RSS ${idle.rssMiB.toFixed(1)} MiB`);
        }
        let subscribed = 0;
        let previous = idle;
        for (const step of steps) {
          const stepFrom = subscribed;
          await server.subscribe(simulator.keys.slice(subscribed, step), mode);
          subscribed = step;
          await sleep(size.settleMs);
          const now = await server.settledMemory();
          const delta = now.rssMiB - idle.rssMiB;
          rows.push({
            state: `${step} instruments subscribed, ticks flowing`,
            mode,
            instruments: step,
            clients: 0,
            'RSS MiB': now.rssMiB,
            'heap MiB': now.heapMiB,
            'Δ RSS MiB': delta,
            'Δ heap MiB': now.heapMiB - idle.heapMiB,
            'per 1,000 instruments MiB': (delta * 1_000) / step,
            'heap per 1,000 instruments MiB': ((now.heapMiB - idle.heapMiB) * 1_000) / step,
            // Against the previous row: the first step also carries one-off costs (first subscription, JIT).
            'marginal heap per 1,000 MiB': ((now.heapMiB - previous.heapMiB) * 1_000) / (step - stepFrom),
            'per client KiB': null,
            'heap per client KiB': null,
          });
          previous = now;
          log(`${mode} ${step} instruments: RSS ${now.rssMiB.toFixed(1)} MiB (Δ ${delta.toFixed(1)})`);
        }
      });
    }

    await withServer(10, 50, async (simulator, server) => {
      await server.subscribe(simulator.keys.slice(0, 10), 'ltpc');
      await simulator.setRate(0);
      await sleep(size.settleMs);
      const before = await server.settledMemory();
      const fleet = await startClients({
        protocol: 'graphql-ws',
        url: server.wsUrl,
        clients: Array.from({ length: size.idleClients }, (_, i) => [simulator.keys[i % 10]!]),
        processes: size.idleClients >= 100 ? 2 : 1,
      });
      try {
        await sleep(size.settleMs);
        const after = await server.settledMemory();
        const delta = after.rssMiB - before.rssMiB;
        rows.push({
          state: `${fleet.connected} idle graphql-ws clients (1 subscription each)`,
          mode: 'ltpc',
          instruments: 10,
          clients: fleet.connected,
          'RSS MiB': after.rssMiB,
          'heap MiB': after.heapMiB,
          'Δ RSS MiB': delta,
          'Δ heap MiB': after.heapMiB - before.heapMiB,
          'per 1,000 instruments MiB': null,
          'heap per 1,000 instruments MiB': null,
          'per client KiB': fleet.connected > 0 ? (delta * 1_024) / fleet.connected : null,
          'heap per client KiB':
            fleet.connected > 0 ? ((after.heapMiB - before.heapMiB) * 1_024) / fleet.connected : null,
        });
        log(
          `${fleet.connected} idle clients: RSS ${after.rssMiB.toFixed(1)} MiB (Δ ${delta.toFixed(1)} vs same server before)`,
        );
      } finally {
        await fleet.stop();
      }
    });

    return {
      rows,
      notes: [
        'RSS read by the server process itself after two forced GCs (--expose-gc); Δ is against the same server before the change (idle for the instrument rows).',
        `Instrument rows: recorder off, simulator offering max(200, instruments) ticks/s so every instrument has a cached tick.${idleRss === null ? '' : ` Idle baseline ${(idleRss as number).toFixed(1)} MiB.`}`,
        'Idle-client row: simulator rate set to 0 after the 10 instruments were subscribed, so the delta is connections + subscriptions only.',
      ],
    };
  },
};

export default memoryBenchmark;
