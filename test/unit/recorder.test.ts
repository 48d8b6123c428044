import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { TickSegment, TickWriter } from '../../src/store/tick-writer.js';
import { createRecorder, type RecorderOptions } from '../../src/ticks/recorder.js';
import { batchOf, sampleTick } from '../support/db.js';

/** A writer whose writes the test settles one by one. */
function fakeWriter() {
  const calls: { rows: number; segments: readonly TickSegment[]; resolve: () => void; reject: (e: Error) => void }[] =
    [];
  let closed = 0;
  const writer: TickWriter = {
    write(segments) {
      return new Promise<number>((resolve, reject) => {
        const rows = segments.reduce((n, s) => n + s.count, 0);
        calls.push({ rows, segments, resolve: () => resolve(rows), reject });
      });
    },
    async close() {
      closed++;
    },
  };
  return { writer, calls, closedCount: () => closed };
}

const database = { connection: { provider: 'sqlite', filename: '/unused', busyTimeoutMs: 1 } } as const;
let sent = 0;
const ticks = (n: number) => {
  const batch = batchOf(Array.from({ length: n }, (_, i) => sampleTick(sent + i)));
  sent += n;
  return batch;
};
/** Lets settled write promises run their callbacks. */
const settle = () => vi.advanceTimersByTimeAsync(0);

describe('recorder', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const make = (options: Partial<RecorderOptions> = {}) => {
    const fake = fakeWriter();
    const recorder = createRecorder({
      database,
      writer: fake.writer,
      batchSize: 100,
      flushIntervalMs: 250,
      maxBufferedTicks: 1_000,
      retryDelayMs: (attempt) => attempt * 100,
      stopTimeoutMs: 5_000,
      ...options,
    });
    return { recorder, ...fake };
  };

  it('only buffers in handle() and writes nothing before a batch fills or the interval passes', async () => {
    const { recorder, calls } = make();
    expect(recorder.handle(ticks(60))).toBeUndefined();
    expect(calls).toHaveLength(0);
    expect(recorder.stats()).toMatchObject({ buffered: 60, written: 0 });
    await vi.advanceTimersByTimeAsync(249);
    expect(calls).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls.map((c) => c.rows)).toEqual([60]);
    calls[0]!.resolve();
    await settle();
    expect(recorder.stats()).toMatchObject({ buffered: 0, written: 60, flushes: 1, lastFlushRows: 60 });
  });

  it('writes a full batch at once and keeps one write in flight, combining what queued meanwhile', async () => {
    const { recorder, calls } = make({ maxTicksPerWrite: 300 });
    recorder.handle(ticks(150));
    expect(calls.map((c) => c.rows)).toEqual([100]);
    recorder.handle(ticks(300));
    expect(calls).toHaveLength(1);
    expect(recorder.stats()).toMatchObject({ buffered: 450, inFlight: 100 });
    calls[0]!.resolve();
    await settle();
    // Queued meanwhile: three full segments (50 + 300 ticks = 3 × 100, 50 still filling), one write of 300.
    expect(calls.map((c) => c.rows)).toEqual([100, 300]);
    calls[1]!.resolve();
    await settle();
    expect(calls.map((c) => c.rows)).toEqual([100, 300]);
    expect(recorder.stats()).toMatchObject({ written: 400, buffered: 50 });
  });

  it('retries a failed write after the backoff delay, keeping its ticks in order', async () => {
    const errors: number[] = [];
    const { recorder, calls } = make({ onWriteError: (_e, attempt) => errors.push(attempt) });
    recorder.handle(ticks(100));
    const firstSegment = calls[0]!.segments[0]!;
    calls[0]!.reject(new Error('SQLITE_BUSY: database is locked'));
    await settle();
    expect(recorder.stats()).toMatchObject({
      writeErrors: 1,
      lastError: 'SQLITE_BUSY: database is locked',
      retrying: true,
    });
    await vi.advanceTimersByTimeAsync(99);
    expect(calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toHaveLength(2);
    expect(calls[1]!.segments[0]).toBe(firstSegment);
    calls[1]!.reject(new Error('still locked'));
    await settle();
    await vi.advanceTimersByTimeAsync(200);
    expect(calls).toHaveLength(3);
    calls[2]!.resolve();
    await settle();
    expect(errors).toEqual([1, 2]);
    expect(recorder.stats()).toMatchObject({ written: 100, buffered: 0, writeErrors: 2, retrying: false });
  });

  it('drops the oldest queued ticks beyond the budget and counts them, never the write in flight', async () => {
    const { recorder, calls } = make({ maxBufferedTicks: 500 });
    recorder.handle(ticks(100));
    expect(calls).toHaveLength(1);
    recorder.handle(ticks(900));
    const stats = recorder.stats();
    expect(stats.buffered).toBeLessThanOrEqual(500);
    expect(stats.inFlight).toBe(100);
    expect(stats.dropped.buffer_full).toBe(500);
    expect(stats.written + stats.buffered + stats.dropped.buffer_full).toBe(1_000);
    calls[0]!.resolve();
    await settle();
    for (let i = 1; i < calls.length; i++) {
      calls[i]!.resolve();
      await settle();
    }
    await recorder.flush();
    expect(recorder.stats()).toMatchObject({ written: 500, buffered: 0, dropped: { buffer_full: 500 } });
  });

  it('flushes everything on stop, then closes the writer once, and counts ticks handed in afterwards', async () => {
    const { recorder, calls, closedCount } = make();
    recorder.handle(ticks(30));
    const stopped = recorder.stop();
    await settle();
    expect(calls.map((c) => c.rows)).toEqual([30]);
    recorder.handle(ticks(5));
    calls[0]!.resolve();
    await stopped;
    await recorder.stop();
    expect(closedCount()).toBe(1);
    expect(recorder.stats()).toMatchObject({ written: 30, buffered: 0, dropped: { stopped: 5, shutdown: 0 } });
  });

  it('counts what it could not write before the stop timeout as dropped on shutdown', async () => {
    const { recorder, calls } = make({ stopTimeoutMs: 1_000 });
    recorder.handle(ticks(250));
    const stopped = recorder.stop();
    await settle();
    calls[0]!.reject(new Error('connection refused'));
    await vi.advanceTimersByTimeAsync(1_000);
    // The retry in flight at the deadline fails too: it is counted, not retried.
    for (const call of calls.slice(1)) call.reject(new Error('connection refused'));
    await stopped;
    const stats = recorder.stats();
    expect(stats.written).toBe(0);
    expect(stats.buffered).toBe(0);
    expect(stats.dropped.shutdown).toBe(250);
  });

  it('refuses an in-memory SQLite database, which its writer thread could not see', () => {
    expect(() => createRecorder({ url: 'file::memory:' })).toThrow(/cannot write to an in-memory SQLite database/);
    expect(() => createRecorder({})).toThrow(/needs `database` or `url`/);
  });

  it('rejects a budget smaller than one batch', () => {
    expect(() => make({ batchSize: 1_000, maxBufferedTicks: 10 })).toThrow(
      /maxBufferedTicks \(10\) must be ≥ batchSize/,
    );
  });
});
