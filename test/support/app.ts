/**
 * Builds the whole app on port 0 with a temporary SQLite file (or TEST_DATABASE_URL schema) and a captured
 * logger, for end-to-end tests. Every app is stopped and its files removed by `cleanup()`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { type App, createApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';

export interface TestApp {
  app: App;
  url: string;
  port: number;
  /** Every log line the app wrote (JSON strings). */
  logs: string[];
  dir: string;
  stop(): Promise<void>;
}

export async function startTestApp(env: Record<string, string> = {}): Promise<TestApp> {
  const dir = mkdtempSync(join(tmpdir(), 'tickgraph-e2e-'));
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'debug',
    DATABASE_URL: `file:${join(dir, 'ticks.db')}`,
    SHUTDOWN_TIMEOUT: '10s',
    ...env,
  });
  const logs: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      logs.push(String(chunk));
      done();
    },
  });
  const logger = createLogger({ level: 'debug', secrets: config.secrets, destination: destination as never });
  const app = createApp({ config, logger });
  const { port } = await app.start();
  return {
    app,
    port,
    url: `http://127.0.0.1:${port}`,
    logs,
    dir,
    async stop() {
      await app.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
