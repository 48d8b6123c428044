/**
 * Child processes for benchmarks: servers and load generators run in their own processes (forked through
 * tsx) so the figures are not skewed by sharing one event loop, and a CPU/RSS sampler that reads
 * /proc/<pid>/stat, so no cooperation from the measured process is needed.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

/** Messages workers send to the parent always carry a `type`. */
export interface WorkerMessage {
  readonly type: string;
  readonly [key: string]: unknown;
}

export interface Worker {
  readonly pid: number;
  readonly child: ChildProcess;
  send(message: WorkerMessage): void;
  /** Next message of `type` (optionally matching `match`), rejects on timeout or worker exit. */
  next<T extends WorkerMessage = WorkerMessage>(
    type: string,
    timeoutMs: number,
    match?: (message: T) => boolean,
  ): Promise<T>;
  /** Sends `request` and waits for the reply of `replyType`. */
  request<T extends WorkerMessage = WorkerMessage>(
    request: WorkerMessage,
    replyType: string,
    timeoutMs: number,
  ): Promise<T>;
  /** Asks it to stop (`{ type: 'stop' }`), then SIGKILLs it after `graceMs`. Idempotent. */
  stop(graceMs?: number): Promise<void>;
}

export interface StartWorkerOptions {
  readonly args?: readonly string[];
  readonly env?: Record<string, string | undefined>;
  /** How long to wait for the worker's `{ type: 'ready' }`. @default 30_000 */
  readonly readyTimeoutMs?: number;
  /** Extra Node flags, e.g. `--expose-gc`. */
  readonly nodeArgs?: readonly string[];
  /** Receives the worker's stderr lines (default: dropped unless the worker fails to start). */
  readonly onStderr?: (line: string) => void;
}

/** Path of a file in bench/workers/. */
export function workerPath(name: string): string {
  return fileURLToPath(new URL(`../workers/${name}`, import.meta.url));
}

/**
 * Forks `file` with tsx (`node --import tsx file`) and waits for its `ready` message. The ready message's
 * fields are returned (e.g. the port it listens on).
 */
export async function startWorker<R extends WorkerMessage = WorkerMessage>(
  file: string,
  { args = [], env, readyTimeoutMs = 30_000, onStderr, nodeArgs = [] }: StartWorkerOptions = {},
): Promise<{ worker: Worker; ready: R }> {
  const child = fork(file, [...args], {
    execArgv: [...nodeArgs, '--import', 'tsx'],
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    serialization: 'advanced',
  });
  let stderrTail = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderrTail = (stderrTail + chunk).slice(-4_000);
    if (onStderr) for (const line of chunk.split('\n')) if (line) onStderr(line);
  });
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('exit', () => {
    exited = true;
  });

  const worker: Worker = {
    pid: child.pid ?? -1,
    child,
    send(message) {
      if (!exited && child.connected) child.send(message);
    },
    next(type, timeoutMs, match) {
      return new Promise((resolve, reject) => {
        const onMessage = (message: WorkerMessage) => {
          if (message?.type === 'error') {
            cleanup();
            reject(new Error(`worker ${file} failed: ${String(message['message'])}`));
          } else if (message?.type === type && (!match || match(message as never))) {
            cleanup();
            resolve(message as never);
          }
        };
        const onExit = (code: number | null, signal: string | null) => {
          cleanup();
          reject(new Error(`worker ${file} exited (${code ?? signal}) before '${type}'\n${stderrTail}`));
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`worker ${file}: no '${type}' within ${timeoutMs} ms\n${stderrTail}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          child.off('message', onMessage);
          child.off('exit', onExit);
        };
        child.on('message', onMessage);
        child.once('exit', onExit);
        if (exited) onExit(child.exitCode, child.signalCode);
      });
    },
    request(request, replyType, timeoutMs) {
      const reply = worker.next(replyType, timeoutMs);
      worker.send(request);
      return reply as never;
    },
    async stop(graceMs = 5_000) {
      if (exited) return;
      worker.send({ type: 'stop' });
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exit;
      clearTimeout(timer);
    },
  };
  try {
    const ready = await worker.next<R>('ready', readyTimeoutMs);
    return { worker, ready };
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
}

/** Stops every worker in parallel, ignoring ones already gone. */
export async function stopAll(workers: readonly (Worker | undefined)[]): Promise<void> {
  await Promise.allSettled(workers.map((w) => w?.stop()));
}

export interface ProcessSample {
  /** CPU time (user + system) in ms since the process started. */
  readonly cpuMs: number;
  readonly rssMiB: number;
  readonly at: number;
}

// USER_HZ is 100 on every Linux we run on (sysconf(_SC_CLK_TCK)); /proc/<pid>/stat counts in those ticks.
const CLOCK_TICKS_PER_SECOND = 100;

/** CPU and RSS of `pid` from /proc (Linux only); null when unavailable. */
export async function sampleProcess(pid: number): Promise<ProcessSample | null> {
  try {
    const [stat, status] = await Promise.all([
      readFile(`/proc/${pid}/stat`, 'utf8'),
      readFile(`/proc/${pid}/status`, 'utf8'),
    ]);
    // The command name (field 2) may contain spaces; fields after the closing paren are fixed.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
    return {
      cpuMs: ((utime + stime) * 1000) / CLOCK_TICKS_PER_SECOND,
      rssMiB: rssKiB / 1024,
      at: performance.now(),
    };
  } catch {
    return null;
  }
}

/** CPU use between two samples as a percentage of one core (200 % = both cores of a 2-core box). */
export function cpuPercent(from: ProcessSample | null, to: ProcessSample | null): number | null {
  if (!from || !to || to.at <= from.at) return null;
  return ((to.cpuMs - from.cpuMs) / (to.at - from.at)) * 100;
}
