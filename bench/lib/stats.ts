/**
 * Measurement helpers: latency histograms (hdr-histogram-js, mergeable across worker processes) and loops
 * bounded both in iterations and in wall time, so no benchmark can run away.
 */
import * as hdr from 'hdr-histogram-js';

/** Latencies are recorded in microseconds (integers for hdr); reported in milliseconds. */
export interface LatencySummary {
  readonly count: number;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  readonly p999Ms: number | null;
  readonly maxMs: number | null;
  readonly meanMs: number | null;
}

export interface LatencyRecorder {
  /** Records one latency in milliseconds (fractions kept to the microsecond; negatives clamp to 0). */
  recordMs(ms: number): void;
  readonly count: number;
  /** Compressed form to send over IPC; merge with {@link mergeEncoded}. */
  encode(): string;
  mergeEncoded(encoded: string): void;
  summary(): LatencySummary;
  reset(): void;
}

export function createLatencyRecorder(): LatencyRecorder {
  let histogram = hdr.build({ numberOfSignificantValueDigits: 3, autoResize: true });
  return {
    recordMs(ms) {
      histogram.recordValue(Math.max(0, Math.round(ms * 1000)));
    },
    get count() {
      return histogram.totalCount;
    },
    encode() {
      return hdr.encodeIntoCompressedBase64(histogram);
    },
    mergeEncoded(encoded) {
      const other = hdr.decodeFromCompressedBase64(encoded);
      histogram.add(other);
      other.destroy();
    },
    summary() {
      const count = histogram.totalCount;
      if (count === 0) return { count, p50Ms: null, p99Ms: null, p999Ms: null, maxMs: null, meanMs: null };
      return {
        count,
        p50Ms: histogram.getValueAtPercentile(50) / 1000,
        p99Ms: histogram.getValueAtPercentile(99) / 1000,
        p999Ms: histogram.getValueAtPercentile(99.9) / 1000,
        maxMs: histogram.maxValue / 1000,
        meanMs: histogram.mean / 1000,
      };
    },
    reset() {
      histogram.destroy();
      histogram = hdr.build({ numberOfSignificantValueDigits: 3, autoResize: true });
    },
  };
}

export interface LoopBounds {
  /** Stop after this many iterations. */
  readonly maxIterations: number;
  /** Stop once this much wall time has passed (checked between iterations). */
  readonly maxMs: number;
  /** Untimed iterations first (JIT warm-up), also bounded by maxMs / 4. @default 0 */
  readonly warmupIterations?: number;
}

export interface LoopResult {
  readonly iterations: number;
  readonly elapsedMs: number;
  readonly perSecond: number;
}

/** Runs `fn` synchronously until either bound is reached; returns the measured rate (warm-up excluded). */
export function timeLoop(bounds: LoopBounds, fn: (iteration: number) => void): LoopResult {
  const { maxIterations, maxMs, warmupIterations = 0 } = bounds;
  const warmupDeadline = performance.now() + maxMs / 4;
  for (let i = 0; i < warmupIterations && performance.now() < warmupDeadline; i++) fn(i);
  const start = performance.now();
  const deadline = start + maxMs;
  let iterations = 0;
  // Check the clock every few iterations only: performance.now() is not free next to a 20 µs decode.
  while (iterations < maxIterations) {
    fn(iterations);
    iterations++;
    if ((iterations & 7) === 0 && performance.now() >= deadline) break;
  }
  const elapsedMs = performance.now() - start;
  return { iterations, elapsedMs, perSecond: (iterations * 1000) / elapsedMs };
}

/** Resolves when `predicate` is true (polled every `intervalMs`), rejects after `timeoutMs`. */
export async function waitUntil(
  predicate: () => boolean | Promise<boolean>,
  { timeoutMs, intervalMs = 20, what = 'condition' }: { timeoutMs: number; intervalMs?: number; what?: string },
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Median of a small sample (used to pick the middle of repeated measurements). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
