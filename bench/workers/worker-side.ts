/**
 * The child side of bench/lib/processes.ts: typed IPC with the parent, a `stop` handler and a guard that
 * turns a crash into an `error` message instead of a silent exit.
 */
export interface ParentMessage {
  readonly type: string;
  readonly [key: string]: unknown;
}

export function sendToParent(message: ParentMessage): void {
  if (process.connected && process.send) process.send(message);
}

/**
 * Wires IPC: `handle` gets every message except `stop`; `stop` runs `onStop` (bounded by 5 s) and exits.
 * The process also exits when the parent goes away, so an interrupted benchmark leaves no orphans.
 */
export function serveParent(
  handle: (message: ParentMessage) => void | Promise<void>,
  onStop: () => void | Promise<void>,
): void {
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    const timer = setTimeout(() => process.exit(0), 5_000);
    timer.unref();
    try {
      await onStop();
    } finally {
      process.exit(0);
    }
  };
  process.on('message', (message: ParentMessage) => {
    if (message?.type === 'stop') void stop();
    else
      Promise.resolve(handle(message)).catch((error: unknown) =>
        sendToParent({ type: 'error', message: error instanceof Error ? error.message : String(error) }),
      );
  });
  process.on('disconnect', () => void stop());
  process.on('uncaughtException', (error) => {
    sendToParent({ type: 'error', message: error.stack ?? error.message });
    process.exit(1);
  });
}
