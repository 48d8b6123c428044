/**
 * Worker-thread entry of the threaded tick writer (tick-writer-thread.ts): owns its own database connection
 * and runs the raw-driver writes, so a synchronous better-sqlite3 transaction or the CPU spent encoding a
 * COPY stream never runs on the thread that serves the live feed.
 *
 * Messages in: { type: 'write', id, segments } | { type: 'close' }. Out: { type: 'written', id, rows, ms } |
 * { type: 'failed', id, message, code }. The writer is opened lazily and reopened after a failed open.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createTickWriter, type TickSegment, type TickWriter, type TickWriterOptions } from './tick-writer.js';

export type WriterRequest = { type: 'write'; id: number; segments: TickSegment[] } | { type: 'close' };
export type WriterReply =
  | { type: 'written'; id: number; rows: number; ms: number }
  | { type: 'failed'; id: number; message: string; code: string | undefined }
  | { type: 'closed' };

const port = parentPort;
if (port) {
  const options = workerData as TickWriterOptions;
  let writer: Promise<TickWriter> | undefined;
  // Requests are handled one at a time, in order.
  let queue: Promise<void> = Promise.resolve();
  port.on('message', (request: WriterRequest) => {
    queue = queue.then(async () => {
      if (request.type === 'close') {
        await (await writer?.catch(() => undefined))?.close();
        port.postMessage({ type: 'closed' } satisfies WriterReply);
        port.close();
        return;
      }
      const started = performance.now();
      try {
        writer ??= createTickWriter(options);
        const rows = await (await writer).write(request.segments);
        port.postMessage({
          type: 'written',
          id: request.id,
          rows,
          ms: performance.now() - started,
        } satisfies WriterReply);
      } catch (error) {
        const opened = await writer?.then(
          () => true,
          () => false,
        );
        if (!opened) writer = undefined;
        const e = error as Error & { code?: unknown };
        port.postMessage({
          type: 'failed',
          id: request.id,
          message: e.message ?? String(error),
          code: typeof e.code === 'string' ? e.code : undefined,
        } satisfies WriterReply);
      }
    });
  });
}
