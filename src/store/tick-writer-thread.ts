/**
 * A {@link TickWriter} whose writes run in a worker thread (tick-writer-worker.ts) with its own connection.
 * The calling thread only posts segments (a memcpy of typed arrays) and awaits the reply.
 *
 * The worker is started on the first write and restarted on the next write after it dies; a write in flight
 * when it dies is rejected (the recorder keeps those ticks and retries them).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { TickSegment, TickWriter, TickWriterOptions } from './tick-writer.js';
import type { WriterReply, WriterRequest } from './tick-writer-worker.js';

export class TickWriterError extends Error {
  override name = 'TickWriterError';
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

/**
 * Starts the worker module. Compiled (.js next to this file) it is started directly; from TypeScript sources
 * (tsx, vitest) the worker first registers tsx's ESM loader, since a worker does not inherit the parent's.
 */
function spawn(options: TickWriterOptions): Worker {
  const js = new URL('./tick-writer-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(js))) return new Worker(js, { workerData: options });
  const ts = new URL('./tick-writer-worker.ts', import.meta.url);
  const require = createRequire(import.meta.url);
  const tsxApi = pathToFileURL(require.resolve('tsx/esm/api').replace(/index\.cjs$/, 'index.mjs')).href;
  const bootstrap = `import(${JSON.stringify(tsxApi)}).then((api) => { api.register(); return import(${JSON.stringify(ts.href)}); });`;
  return new Worker(bootstrap, { eval: true, workerData: options });
}

export function createThreadedTickWriter(options: TickWriterOptions): TickWriter {
  let worker: Worker | undefined;
  let nextId = 1;
  const pending = new Map<number, { resolve: (rows: number) => void; reject: (error: Error) => void }>();
  let closing: Promise<void> | undefined;

  const failAll = (error: Error) => {
    for (const { reject } of pending.values()) reject(error);
    pending.clear();
  };

  const start = () => {
    const w = spawn(options);
    w.on('message', (reply: WriterReply) => {
      if (reply.type === 'closed') return;
      const waiter = pending.get(reply.id);
      if (!waiter) return;
      pending.delete(reply.id);
      if (pending.size === 0) w.unref();
      if (reply.type === 'written') waiter.resolve(reply.rows);
      else waiter.reject(new TickWriterError(reply.message, reply.code));
    });
    w.on('error', (error) => {
      if (worker === w) worker = undefined;
      failAll(new TickWriterError(`tick writer thread crashed: ${error.message}`, 'WORKER_ERROR'));
    });
    w.on('exit', (code) => {
      if (worker === w) worker = undefined;
      failAll(new TickWriterError(`tick writer thread exited with code ${code}`, 'WORKER_EXIT'));
    });
    // An idle worker must not keep the process alive on its own; one with a write pending does (see write()).
    w.unref();
    return w;
  };

  return {
    write(segments: readonly TickSegment[]) {
      if (closing) return Promise.reject(new TickWriterError('tick writer is closed', 'CLOSED'));
      worker ??= start();
      worker.ref();
      const id = nextId++;
      return new Promise<number>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        worker?.postMessage({ type: 'write', id, segments: [...segments] } satisfies WriterRequest);
      });
    },
    close() {
      closing ??= (async () => {
        const w = worker;
        if (!w) return;
        const exited = new Promise<void>((resolve) => w.once('exit', () => resolve()));
        w.postMessage({ type: 'close' } satisfies WriterRequest);
        const timer = setTimeout(() => void w.terminate(), 5_000);
        await exited;
        clearTimeout(timer);
      })();
      return closing;
    },
  };
}
