/**
 * Tick bus publish() cost: ns per published update with 1, 100 and 1,000 subscribers, beside a baseline of
 * a plain loop over an array of listener functions (the least work any fan-out can do).
 *
 * Scenarios (500-update batches over 2,000 instruments, like a busy upstream frame):
 * - `all keys`: every subscriber wants every instrument, so each update goes to every subscriber. The baseline
 *   calls each listener per update. This is the bus's worst case (no filtering to win).
 * - `20 keys each`: each subscriber watches 20 random instruments (a dashboard). The baseline is what an
 *   emitter without an index must do: call every listener, which checks its own Set. Ours visits only the
 *   subscribers of each updated key.
 * - `stalled readers`: like `20 keys each`, but nobody reads: every subscriber is past its buffer limit and
 *   conflates (the overflow-map path).
 *
 * Only the publish() calls are timed; re-arming the readers' next() happens outside the timed section. Each
 * figure is the best of a few rounds after a warm-up round: the machine is shared, the minimum is the least noisy.
 * Standalone: `npx tsx bench/bus.ts [--full]`. Also a module for bench/run.ts (`npm run bench -- bus`).
 */
import { pathToFileURL } from 'node:url';
import { silentLogger } from '../src/logger.js';
import { blankTick, type TickBatch, type TickUpdate } from '../src/ticks/tick.js';
import { createTickBus, type TickSubscription } from '../src/ticks/tick-bus.js';
import { type Benchmark, formatTable, type Profile, type Result, type Row, ratio } from './lib/harness.js';

const KEYS = Array.from({ length: 2_000 }, (_, i) => `NSE_EQ|INE${String(i).padStart(6, '0')}01`);
const BATCH_SIZE = 500;
const SUBSCRIBER_COUNTS = [1, 100, 1_000] as const;
/** Deliveries (update × interested subscriber) per timed run, so every row takes a similar time. */
const TARGET_WORK: Record<Profile, number> = { smoke: 20_000, quick: 1_000_000, full: 10_000_000 };
const ROUNDS: Record<Profile, number> = { smoke: 1, quick: 3, full: 5 };

type Scenario = 'all keys' | '20 keys each' | 'stalled readers';

function makeUpdate(key: string, i: number): TickUpdate {
  const ts = 1_760_000_000_000 + i;
  const tick = blankTick(key, 'ltpc', false, ts, ts);
  tick.ltp = 100 + (i % 100);
  tick.ltq = 1;
  tick.closePrice = 100;
  return { tick, changed: 1, snapshot: false };
}

/** Deterministic pseudo-random (mulberry32), so runs are comparable. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function makeBatches(count: number): TickBatch[] {
  const next = random(1);
  return Array.from({ length: count }, (_, b) => ({
    exchangeTs: b,
    receivedAt: b,
    updates: Array.from({ length: BATCH_SIZE }, (_, i) => makeUpdate(KEYS[Math.floor(next() * KEYS.length)]!, b + i)),
  }));
}

function keySets(subscribers: number, scenario: Scenario): string[][] {
  if (scenario === 'all keys') return Array.from({ length: subscribers }, () => KEYS);
  const next = random(2);
  return Array.from({ length: subscribers }, () => {
    const mine = new Set<string>();
    while (mine.size < 20) mine.add(KEYS[Math.floor(next() * KEYS.length)]!);
    return [...mine];
  });
}

/** Interested subscribers per update on average: how much fan-out work one published update carries. */
function fanout(sets: string[][]): number {
  const counts = new Map<string, number>();
  for (const set of sets) for (const key of set) counts.set(key, (counts.get(key) ?? 0) + 1);
  let total = 0;
  for (const key of KEYS) total += counts.get(key) ?? 0;
  return total / KEYS.length;
}

/** Best-of-`rounds` publish time over all `batches`, in ns (the minimum is the least noisy on a shared machine). */
async function timeBus(sets: string[][], batches: TickBatch[], reading: boolean, rounds: number): Promise<number> {
  const bus = createTickBus({ logger: silentLogger(), defaultBufferLimit: 1_000 });
  const subs: TickSubscription[] = sets.map((instrumentKeys) => bus.subscribe({ instrumentKeys }));
  // Readers wait in next() (the GraphQL steady state); stalled readers never call it.
  const fired: number[] = [];
  const arm = (i: number) => {
    subs[i]!.next().then(() => fired.push(i));
  };
  if (reading) for (let i = 0; i < subs.length; i++) arm(i);
  let best = Number.POSITIVE_INFINITY;
  // Round 0 warms up (JIT, and for stalled readers fills the buffers up to conflation); it is not counted.
  for (let round = 0; round <= rounds; round++) {
    let elapsed = 0n;
    for (const batch of batches) {
      const start = process.hrtime.bigint();
      bus.publish(batch);
      elapsed += process.hrtime.bigint() - start;
      if (reading) {
        // Outside the timed section: let the resolved next() reactions run, then re-arm those readers.
        await new Promise<void>((resolve) => setImmediate(resolve));
        for (const i of fired.splice(0)) arm(i);
      }
    }
    if (round > 0) best = Math.min(best, Number(elapsed));
  }
  await bus.stop();
  return best;
}

function timeBaseline(sets: string[][], batches: TickBatch[], filtered: boolean, rounds: number): number {
  const received: TickUpdate[][] = sets.map(() => []);
  const listeners: ((u: TickUpdate) => void)[] = sets.map((keys, i) => {
    const out = received[i]!;
    if (!filtered) return (u) => out.push(u);
    const mine = new Set(keys);
    return (u) => {
      if (mine.has(u.tick.instrumentKey)) out.push(u);
    };
  });
  let best = Number.POSITIVE_INFINITY;
  for (let round = 0; round <= rounds; round++) {
    let elapsed = 0n;
    for (const batch of batches) {
      const start = process.hrtime.bigint();
      const updates = batch.updates;
      for (let i = 0; i < updates.length; i++) {
        const update = updates[i]!;
        for (let l = 0; l < listeners.length; l++) listeners[l]!(update);
      }
      elapsed += process.hrtime.bigint() - start;
      for (const list of received) list.length = 0;
    }
    if (round > 0) best = Math.min(best, Number(elapsed));
  }
  return best;
}

export const benchmark: Benchmark = {
  name: 'bus',
  description: 'tick bus publish() ns per update vs a plain loop over listeners (500-update batches)',
  async run({ profile, log }): Promise<Result> {
    const rows: Row[] = [];
    const scenarios: Scenario[] = ['all keys', '20 keys each', 'stalled readers'];
    for (const scenario of scenarios) {
      for (const subscribers of SUBSCRIBER_COUNTS) {
        const sets = keySets(subscribers, scenario);
        const perUpdate = Math.max(1, fanout(sets));
        const batchCount = Math.max(10, Math.min(400, Math.round(TARGET_WORK[profile] / (BATCH_SIZE * perUpdate))));
        const batches = makeBatches(batchCount);
        const updates = batchCount * BATCH_SIZE;
        const nsPerUpdate = (await timeBus(sets, batches, scenario !== 'stalled readers', ROUNDS[profile])) / updates;
        const baselineNs = timeBaseline(sets, batches, scenario !== 'all keys', ROUNDS[profile]) / updates;
        log(
          `${scenario}, ${subscribers} subscribers: ${nsPerUpdate.toFixed(0)} ns/update (baseline ${baselineNs.toFixed(0)})`,
        );
        rows.push({
          scenario,
          subscribers,
          'deliveries/update': perUpdate,
          'bus ns/update': nsPerUpdate,
          'baseline ns/update': baselineNs,
          'bus/baseline': ratio(nsPerUpdate, baselineNs),
          'bus ns/delivery': nsPerUpdate / perUpdate,
        });
      }
    }
    return {
      rows,
      notes: [
        'baseline = for each update, call every listener in an array (all keys: push; 20 keys: Set.has then push)',
        'bus ns/update times publish() only; the bus also builds one list per subscriber per batch and resolves its next()',
        'stalled readers: nobody reads, every subscriber conflates into its per-key overflow map',
      ],
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
  console.log(formatTable(result));
  for (const note of result.notes ?? []) console.log(`  note: ${note}`);
}
