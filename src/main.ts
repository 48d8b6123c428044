/**
 * Process entry: loads `.env` and the environment, builds the app, owns signals and exit codes.
 * The only module that touches `process`.
 *
 * Exit codes: 0 clean stop; 1 start-up failure or forced stop after the shutdown timeout; 2 invalid
 * configuration (nothing was started); 130 a second signal forced the exit.
 */
import { createApp } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { createLogger } from './logger.js';

function loadDotEnv(): void {
  try {
    process.loadEnvFile('.env'); // Node ≥ 20.12; variables already set in the environment win.
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

async function main(): Promise<void> {
  loadDotEnv();
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\nSee .env.example for every variable, its default and meaning.\n`);
    process.exitCode = 2;
    return;
  }

  const pretty = config.log.format === 'pretty' || (config.log.format === 'auto' && process.stdout.isTTY === true);
  const logger = createLogger({ level: config.log.level, pretty, secrets: config.secrets });
  const app = createApp({ config, logger });

  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals > 1) {
      logger.warn({ signal }, 'second signal: forcing exit');
      process.exit(130);
    }
    logger.info({ signal }, 'stopping (send the signal again to force)');
    // The app bounds its own stop by SHUTDOWN_TIMEOUT; this is the backstop if something hangs anyway.
    setTimeout(() => {
      logger.error('shutdown did not finish in time; forcing exit');
      process.exit(1);
    }, config.shutdownTimeoutMs + 2_000).unref();
    void app.stop().then(
      () => process.exit(process.exitCode ?? 0),
      (error: unknown) => {
        logger.error({ err: error }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // Never crash on a stray rejection: log it (secrets scrubbed) and keep serving.
  process.on('unhandledRejection', (reason) => logger.error({ err: reason }, 'unhandled rejection'));

  try {
    await app.start();
  } catch (error) {
    logger.fatal({ err: error }, 'start-up failed');
    process.exitCode = 1;
    await app.stop();
  }
}

await main();
