/**
 * The server under test in its own process: `createApp(loadConfig(env))` from src/app.ts, with the env given
 * by the parent in BENCH_APP_ENV (JSON) only — the shell's environment never leaks into the config.
 * IPC: → `ready` { port, url } once listening; `stats` → `stats` { bus, feed, rss, heapUsed, cpu }.
 */
import { createApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { type ParentMessage, sendToParent, serveParent } from './worker-side.js';

const env = JSON.parse(process.env['BENCH_APP_ENV'] ?? '{}') as Record<string, string>;
const config = loadConfig(env);
// Warnings and errors only, to stderr (the parent shows them when the server fails).
const logger = createLogger({
  level: config.log.level,
  secrets: config.secrets,
  destination: { write: (line: string) => process.stderr.write(line) },
});
const app = createApp({ config, logger });

serveParent(
  (message: ParentMessage) => {
    if (message.type === 'stats') {
      const services = app.parts.services;
      const memory = process.memoryUsage();
      sendToParent({
        type: 'stats',
        bus: services?.bus.stats() ?? null,
        feed: services?.feed.status() ?? null,
        pipeline: services?.pipeline?.stats() ?? null,
        rss: memory.rss,
        heapUsed: memory.heapUsed,
        cpu: process.cpuUsage(),
      });
    } else if (message.type === 'gc') {
      // Two passes: the first frees objects whose finalizers release more.
      globalThis.gc?.();
      globalThis.gc?.();
      const memory = process.memoryUsage();
      sendToParent({ type: 'gc-done', rss: memory.rss, heapUsed: memory.heapUsed });
    }
  },
  () => app.stop(),
);

const { port, url } = await app.start();
sendToParent({ type: 'ready', port, url });
