/**
 * Headless Chromium driven over the DevTools protocol (through `ws`, no extra dependency), for tests of what
 * a person sees in a browser. `findChromium()` returns null when no Chromium is installed; tests skip then.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';

export function findChromium(): string | null {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'];
  return candidates.find((path): path is string => !!path && existsSync(path)) ?? null;
}

export interface BrowserPage {
  navigate(url: string): Promise<void>;
  /** Evaluates `expression` in the page and returns its (JSON) value; promises are awaited. */
  evaluate<T>(expression: string): Promise<T>;
  /** Re-evaluates `expression` after each page event or every 100 ms until it is truthy. */
  waitFor<T>(expression: string, what: string, timeoutMs?: number): Promise<T>;
  close(): Promise<void>;
}

export async function openBrowserPage(executable: string): Promise<BrowserPage> {
  const profile = mkdtempSync(join(tmpdir(), 'tickgraph-chromium-'));
  // Flags as this environment requires: no sandbox as root, no GPU, and no background traffic.
  const chrome: ChildProcess = spawn(
    executable,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-quic',
      '--no-first-run',
      `--user-data-dir=${profile}`,
      '--remote-debugging-port=0',
      'about:blank',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const browserUrl = await new Promise<string>((resolve, reject) => {
    let output = '';
    chrome.stderr!.on('data', (chunk) => {
      output += chunk;
      const match = /DevTools listening on (ws:\S+)/.exec(output);
      if (match) resolve(match[1]!);
    });
    chrome.once('exit', (code) => reject(new Error(`chromium exited with ${code}: ${output.slice(-500)}`)));
  });
  const port = new URL(browserUrl).port;
  const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as {
    type: string;
    webSocketDebuggerUrl: string;
  }[];
  const socket = new WebSocket(targets.find((t) => t.type === 'page')!.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));

  let nextId = 0;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  const eventWaiters = new Set<() => void>();
  socket.on('message', (raw) => {
    const message = JSON.parse(String(raw)) as { id?: number; result?: unknown; error?: { message: string } };
    if (message.id === undefined) {
      for (const waiter of [...eventWaiters]) waiter();
      return;
    }
    const call = pending.get(message.id);
    pending.delete(message.id);
    if (message.error) call?.reject(new Error(message.error.message));
    else call?.resolve(message.result);
  });
  const send = (method: string, params: Record<string, unknown> = {}) =>
    new Promise<unknown>((resolve, reject) => {
      const id = ++nextId;
      pending.set(id, { resolve, reject });
      socket.send(JSON.stringify({ id, method, params }));
    });
  await send('Page.enable');
  await send('Runtime.enable');

  const evaluate = async <T>(expression: string): Promise<T> => {
    const result = (await send('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true })) as {
      result: { value: T };
      exceptionDetails?: { text: string };
    };
    if (result.exceptionDetails) throw new Error(`page threw: ${result.exceptionDetails.text}`);
    return result.result.value;
  };

  return {
    async navigate(url) {
      await send('Page.navigate', { url });
    },
    evaluate,
    async waitFor<T>(expression: string, what: string, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const value = await evaluate<T>(expression);
        if (value) return value;
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        // Wake on the next DevTools event (network, console, DOM) or after 100 ms, whichever comes first.
        await new Promise<void>((resolve) => {
          const wake = () => {
            eventWaiters.delete(wake);
            clearTimeout(timer);
            resolve();
          };
          const timer = setTimeout(wake, 100);
          eventWaiters.add(wake);
        });
      }
    },
    async close() {
      socket.close();
      chrome.kill('SIGKILL');
      await new Promise((resolve) => (chrome.exitCode !== null ? resolve(null) : chrome.once('exit', resolve)));
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
