/**
 * Redis relay: (1) wire format — bytes and encode/decode time of a 500-update batch as JSON of the objects
 * vs our positional-tuple JSON (tick-codec.ts); (2) round trip through a real Redis — throughput of
 * 500-update batches from a leader to a follower's bus, and one-at-a-time latency.
 *
 * `npx tsx bench/relay.ts [--full]` with Redis at $TEST_REDIS_URL (default redis://127.0.0.1:6379).
 * Also a module for the bench harness (not in bench/run.ts's list yet).
 */
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { createRedisRelay } from '../src/cluster/redis-relay.js';
import { decodeBatch, encodeBatch } from '../src/cluster/tick-codec.js';
import { redactUrl, silentLogger } from '../src/logger.js';
import { type TickBatch, TickChange } from '../src/ticks/tick.js';
import { makeFullTick, makeTick } from '../test/support/bus-fixtures.js';
import { type Benchmark, formatTable, type Profile, type Result, type Row, ratio } from './lib/harness.js';

const BATCH_SIZE = 500;
/** Batches in flight between the leader's publish and the follower's bus during the throughput run. */
const WINDOW = 20;
const SIZES: Record<Profile, { codecLoops: number; burst: number; pings: number }> = {
  smoke: { codecLoops: 5, burst: 10, pings: 5 },
  quick: { codecLoops: 50, burst: 200, pings: 100 },
  full: { codecLoops: 200, burst: 1_000, pings: 500 },
};

function batchOf(kind: 'full' | 'ltpc'): TickBatch {
  const updates = Array.from({ length: BATCH_SIZE }, (_, i) => {
    const key = `NSE_EQ|INE${String(i).padStart(6, '0')}01`;
    const ltp = 100 + i * 0.05;
    return kind === 'full'
      ? {
          tick: makeFullTick(key, ltp),
          changed: TickChange.LTPC | TickChange.DEPTH | TickChange.STATS,
          snapshot: false,
        }
      : { tick: makeTick(key, ltp), changed: TickChange.LTPC, snapshot: false };
  });
  return { exchangeTs: 1_760_000_000_000, receivedAt: 1_760_000_000_003, updates };
}

/** Best per-call time in µs over `loops` calls (after one warm-up call). */
function bestMicros(loops: number, run: () => unknown): number {
  run();
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < loops; i++) {
    const start = process.hrtime.bigint();
    run();
    best = Math.min(best, Number(process.hrtime.bigint() - start) / 1_000);
  }
  return best;
}

function codecRows(loops: number): Row[] {
  const rows: Row[] = [];
  for (const kind of ['full', 'ltpc'] as const) {
    const batch = batchOf(kind);
    const json = JSON.stringify(batch);
    const tuples = encodeBatch('bench', batch);
    const jsonEncode = bestMicros(loops, () => JSON.stringify(batch));
    const tupleEncode = bestMicros(loops, () => encodeBatch('bench', batch));
    const jsonDecode = bestMicros(loops, () => JSON.parse(json));
    const tupleDecode = bestMicros(loops, () => decodeBatch(tuples));
    rows.push(
      {
        batch: `${BATCH_SIZE} × ${kind}`,
        format: 'JSON objects',
        bytes: json.length,
        'encode µs': jsonEncode,
        'decode µs': jsonDecode,
        'bytes vs JSON': 1,
      },
      {
        batch: `${BATCH_SIZE} × ${kind}`,
        format: 'tuples (ours, validated)',
        bytes: tuples.length,
        'encode µs': tupleEncode,
        'decode µs': tupleDecode,
        'bytes vs JSON': ratio(tuples.length, json.length),
      },
    );
  }
  return rows;
}

async function roundTrip(url: string, burst: number, pings: number): Promise<{ rows: Row[]; notes: string[] }> {
  const namespace = `tickgraph-bench-${randomUUID().slice(0, 8)}`;
  let received = 0;
  let onReceive: (() => void) | undefined;
  const sink = { set() {} };
  // Shared by both instances: only the follower's relay ever publishes into it (the leader ignores its echo).
  const bus = {
    publish() {
      received++;
      onReceive?.();
    },
  };
  const common = { url, namespace, logger: silentLogger(), cache: sink, bus, maxInFlight: burst + 10 };
  const a = createRedisRelay({ ...common, instanceId: 'a', connectTimeoutMs: 2_000 });
  const b = createRedisRelay({ ...common, instanceId: 'b', connectTimeoutMs: 2_000 });
  await Promise.all([a.start(), b.start()]);
  const leader = a.isLeader() ? a : b;
  const follower = leader === a ? b : a;
  if (!leader.isLeader()) throw new Error(`no leader elected (is Redis up at ${redactUrl(url)}?)`);
  const until = (count: number) =>
    new Promise<void>((resolve, reject) => {
      if (received >= count) return resolve();
      // Only a safety net: a batch lost by Redis (e.g. the subscriber over its output buffer limit) would hang.
      const timer = setTimeout(() => {
        onReceive = undefined;
        reject(
          new Error(
            `follower got ${received}/${count} batches within 60 s (subscriber reconnects: ${follower.stats().subscriberReconnects})`,
          ),
        );
      }, 60_000);
      onReceive = () => {
        if (received >= count) {
          clearTimeout(timer);
          onReceive = undefined;
          resolve();
        }
      };
    });

  const rows: Row[] = [];
  const notes: string[] = [];
  try {
    for (const kind of ['full', 'ltpc'] as const) {
      const batch = batchOf(kind);
      // Throughput: at most WINDOW batches between leader and follower's bus at a time, timed until the
      // follower has them all. (An unpaced burst of 200 full batches, ~37 MB, overflows Redis's default
      // `client-output-buffer-limit pubsub 32mb` and Redis drops the follower's connection; measured.)
      received = 0;
      const start = performance.now();
      for (let i = 0; i < burst; i++) {
        if (i - received >= WINDOW) await until(i - WINDOW + 1);
        leader.publishBatch(batch);
      }
      await until(burst);
      const seconds = (performance.now() - start) / 1_000;
      // Latency: one batch at a time, publish → follower's bus.
      const latencies: number[] = [];
      for (let i = 0; i < pings; i++) {
        received = 0;
        const t0 = performance.now();
        leader.publishBatch(batch);
        await until(1);
        latencies.push(performance.now() - t0);
      }
      latencies.sort((x, y) => x - y);
      const bytes = encodeBatch('a', batch).length;
      rows.push({
        batch: `${BATCH_SIZE} × ${kind}`,
        window: WINDOW,
        'batches/s': burst / seconds,
        'updates/s': (burst * BATCH_SIZE) / seconds,
        'MB/s': (burst * bytes) / seconds / 1e6,
        'latency p50 ms': latencies[Math.floor(latencies.length / 2)]!,
        'latency p99 ms': latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * 0.99))]!,
      });
    }
    const stats = follower.stats();
    notes.push(
      `follower received ${stats.received} batches, ${stats.decodeErrors} decode errors; leader publish failures ${leader.stats().publishFailures}, dropped ${leader.stats().publishDropped}`,
    );
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
  return { rows, notes };
}

export const benchmark: Benchmark = {
  name: 'relay',
  description: 'Redis relay: wire format size/speed and leader → follower round trip for 500-update batches',
  async run({ profile, log }): Promise<Result> {
    const size = SIZES[profile];
    const codec = codecRows(size.codecLoops);
    for (const row of codec) log(`${row.batch} ${row.format}: ${row.bytes} bytes`);
    const url = process.env.TEST_REDIS_URL || 'redis://127.0.0.1:6379';
    const notes = ['encode/decode: best single call; tuple decode validates every field, JSON.parse alone does not'];
    let trip: Row[] = [];
    try {
      const result = await roundTrip(url, size.burst, size.pings);
      trip = result.rows;
      notes.push(...result.notes);
    } catch (error) {
      notes.push(`round trip not measured: ${error instanceof Error ? error.message : String(error)}`);
    }
    return {
      rows: [...codec, ...trip.map((row) => ({ ...row, format: 'round trip via Redis' }))],
      notes,
    };
  },
};

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const profile: Profile = process.argv.includes('--full')
    ? 'full'
    : process.argv.includes('--smoke')
      ? 'smoke'
      : 'quick';
  const result = await benchmark.run({ profile, log: (message) => console.log(`  ${message}`) });
  const codec = result.rows.filter((r) => r.format !== 'round trip via Redis');
  const trip = result.rows.filter((r) => r.format === 'round trip via Redis');
  console.log(formatTable({ rows: codec }));
  console.log();
  console.log(formatTable({ rows: trip }));
  for (const note of result.notes ?? []) console.log(`  note: ${note}`);
}
