/**
 * Composition root: creates every component, wires the data flow and orders start and stop.
 *
 *   feed client → decoder/merge (latest cache) → pipeline ─┬─ live: tick bus → GraphQL subscriptions
 *                                                          ├─ persistence: recorder → store
 *                                                          └─ cluster: Redis relay (leader only)
 *
 * Start: database → migrations → store → (simulator) → cache, bus, pipeline, recorder → feed client →
 * instrument set loaded → HTTP/WS server listening → feed started → ready.
 * Stop (idempotent, bounded by `shutdownTimeoutMs`): readiness off → WS clients closed with 1001 → HTTP closed →
 * feed closed → pipeline drained → recorder flushed → relay, retention, simulator stopped → DB disconnected last.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createRedisRelay, type RedisRelay } from './cluster/redis-relay.js';
import type { Config } from './config.js';
import type { AppServices } from './graphql/context.js';
import { buildSchema } from './graphql/schema/index.js';
import { createInstrumentService, type InstrumentService } from './instruments/instrument-service.js';
import type { Logger } from './logger.js';
import { createServer, type Server } from './server/http.js';
import { defaultUniverse } from './simulator/market-model.js';
import { createSimulator, type Simulator } from './simulator/simulator.js';
import { applyMigrations, pendingMigrations } from './store/migrate.js';
import { createDatabase, type Database } from './store/prisma.js';
import { createRetention, type Retention } from './store/retention.js';
import { createTickStore } from './store/tick-store.js';
import { createLatestCache, type LatestCache } from './ticks/latest-cache.js';
import { createPipeline, type Pipeline } from './ticks/pipeline.js';
import { createRecorder, type Recorder } from './ticks/recorder.js';
import { createTickBus, type TickBus } from './ticks/tick-bus.js';
import { createFeedClient, type FeedClient } from './upstox/feed-client.js';

export interface AppOptions {
  config: Config;
  logger: Logger;
}

export interface AppParts {
  database: Database;
  services: AppServices;
  feed: FeedClient;
  pipeline: Pipeline;
  server: Server;
  simulator: Simulator | undefined;
  recorder: Recorder | undefined;
  retention: Retention | undefined;
  relay: RedisRelay | undefined;
  port: number;
}

export interface App {
  /** Starts everything; resolves once the server listens and the feed has been started. Rejects on start-up failure (call stop()). */
  start(): Promise<{ url: string; port: number }>;
  /** Ordered, bounded, idempotent stop. */
  stop(): Promise<void>;
  /** The live components, for tests and benchmarks (filled in as start() proceeds). */
  readonly parts: Partial<AppParts>;
}

export function createApp({ config, logger }: AppOptions): App {
  const log = (component: string) => logger.child({ component });
  const parts: Partial<AppParts> = {};
  let ready = false;
  let shuttingDown = false;
  let stopping: Promise<void> | undefined;

  async function startSimulator(): Promise<{ simulator: Simulator; apiBase: string; accessToken: string }> {
    // A fresh random token per run: the embedded simulator listens on loopback, and still checks it.
    const accessToken = `simulator-${randomBytes(12).toString('hex')}`;
    const simulator = createSimulator({
      port: config.simulator.port,
      accessTokens: [accessToken],
      ticksPerSecond: config.simulator.ticksPerSecond,
      plus: config.feed.plus,
      replayFile: config.feed.replayFile || undefined,
      replaySpeed: config.feed.replaySpeed,
      logger: log('simulator'),
    });
    parts.simulator = simulator;
    await simulator.start();
    log('feed').warn(
      { simulator: simulator.url },
      config.feed.source === 'REPLAY'
        ? `the feed is REPLAYED from ${config.feed.replayFile} through the embedded simulator`
        : 'no UPSTOX_ACCESS_TOKEN: the feed is SIMULATED by the embedded Upstox-compatible simulator',
    );
    return { simulator, apiBase: simulator.url, accessToken };
  }

  async function start(): Promise<{ url: string; port: number }> {
    const database = createDatabase({
      url: config.database.url,
      poolSize: config.database.poolSize,
      connectTimeoutMs: config.database.connectTimeoutMs,
      logger: log('store'),
    });
    parts.database = database;
    await applyMigrations({ database, logger: log('migrate') });
    const store = createTickStore({ database });

    const upstream =
      config.feed.source === 'UPSTOX'
        ? { simulator: undefined, apiBase: config.feed.apiBase, accessToken: config.feed.accessToken }
        : await startSimulator();

    const cache = createLatestCache();
    const bus = createTickBus({ logger: log('bus'), defaultBufferLimit: config.api.subscriberBufferLimit });
    const pipeline = createPipeline({ logger: log('pipeline') });
    parts.pipeline = pipeline;
    // The live path: the decoder already merged each update into the latest cache; the bus fans batches out.
    pipeline.use({ name: 'live', handle: (batch) => bus.publish(batch) }, { inline: true });

    let recorder: Recorder | undefined;
    if (config.recorder.enabled) {
      recorder = createRecorder({
        database,
        batchSize: config.recorder.batchSize,
        flushIntervalMs: config.recorder.flushIntervalMs,
        maxBufferedTicks: config.recorder.maxBufferedTicks,
        logger: log('recorder'),
      });
      parts.recorder = recorder;
      pipeline.use(recorder);
    }
    if (config.recorder.retentionMaxAgeMs > 0) {
      parts.retention = createRetention({
        database,
        maxAgeMs: config.recorder.retentionMaxAgeMs,
        logger: log('retention'),
      });
    }

    const feed = createFeedClient({
      apiBase: upstream.apiBase,
      accessToken: upstream.accessToken,
      source: config.feed.source,
      cache,
      onBatch: (batch) => pipeline.publish(batch),
      plus: config.feed.plus,
      livenessTimeoutMs: config.feed.livenessTimeoutMs,
      dataTimeoutMs: config.feed.dataTimeoutMs,
      recordTo: config.feed.recordFile || undefined,
      logger: log('feed'),
    });
    parts.feed = feed;

    const instruments = createInstrumentService({ feed, store, plus: config.feed.plus, logger: log('instruments') });
    await instruments.load();
    if (upstream.simulator && feed.desired().size === 0) {
      // First start against the simulator: subscribe its default universe so ticks flow at once.
      const keys = defaultUniverse().map((instrument) => instrument.key);
      await instruments.subscribe(keys, config.simulator.defaultMode);
      log('instruments').info(
        { count: keys.length, mode: config.simulator.defaultMode },
        'subscribed the default universe',
      );
    }

    const relay = config.redisUrl ? createRelay({ feed, instruments, bus, cache, pipeline }) : undefined;
    parts.relay = relay;

    const services: AppServices = {
      // On a follower the leader's relayed status is the truth; its own feed client is idle.
      feed: relay ? withRelayedStatus(feed, relay) : feed,
      cache,
      bus,
      store,
      instruments,
      pipeline,
      stats: () => {
        const dropped: Record<string, number> = {};
        for (const [reason, count] of Object.entries(recorder?.stats().dropped ?? {})) {
          if (count > 0) dropped[`recorder-${reason}`] = count;
        }
        return { dropped };
      },
    };
    parts.services = services;

    if (config.api.readKeys.length === 0 && config.api.adminKeys.length === 0) {
      log('http').warn('API_KEYS_READ and API_KEYS_ADMIN are empty: the API is open to anyone who can reach this port');
    }
    const server = createServer({
      schema: buildSchema(),
      services,
      auth: { readKeys: config.api.readKeys, adminKeys: config.api.adminKeys },
      limits: {
        maxKeysPerRequest: config.api.maxKeysPerRequest,
        maxSubscriptionsPerConnection: config.api.maxSubscriptionsPerConnection,
      },
      logger: log('http'),
      secrets: config.secrets,
      isReady: async () => {
        const reasons: string[] = [];
        if (shuttingDown) reasons.push('shutting down');
        else if (!ready) reasons.push('starting');
        try {
          const pending = await pendingMigrations({ database });
          if (pending.length > 0) reasons.push(`migrations pending: ${pending.join(', ')}`);
        } catch {
          reasons.push('database unreachable');
        }
        return { ready: reasons.length === 0, reasons };
      },
    });
    parts.server = server;
    const { port } = await server.listen(config.http.port, config.http.host);
    parts.port = port;

    if (relay)
      await relay.start(); // the elected leader starts the feed (onLeader)
    else feed.start();
    parts.retention?.start();
    ready = true;
    const host = config.http.host === '0.0.0.0' || config.http.host === '::' ? 'localhost' : config.http.host;
    const url = `http://${host}:${port}/graphql`;
    logger.info({ url, source: config.feed.source, database: database.displayUrl }, `tickgraph ready at ${url}`);
    return { url, port };
  }

  function createRelay(deps: {
    feed: FeedClient;
    instruments: InstrumentService;
    bus: TickBus;
    cache: LatestCache;
    pipeline: Pipeline;
  }): RedisRelay {
    const { feed, instruments, bus, cache, pipeline } = deps;
    const relay = createRedisRelay({
      url: config.redisUrl,
      namespace: config.redisNamespace,
      instanceId: randomUUID(),
      bus,
      cache,
      status: () => feed.status(),
      logger: log('cluster'),
      // The leader re-reads the persisted set (another instance may have changed it) and holds the feed.
      onLeader: async () => {
        await instruments.load();
        feed.start();
      },
      onFollower: () => feed.stop(),
    });
    pipeline.use({ name: 'cluster', handle: (batch) => void relay.publishBatch(batch) }, { inline: true });
    relay.onSubscriptionsChanged(() => instruments.load());
    instruments.onChange(() => void relay.notifySubscriptionsChanged());
    return relay;
  }

  async function doStop(): Promise<void> {
    shuttingDown = true;
    ready = false;
    const deadline = Date.now() + config.shutdownTimeoutMs;
    // Each step gets what is left of the shutdown budget; a step that fails or hangs is logged and skipped.
    const step = async (name: string, run: (() => Promise<unknown> | unknown) | false | undefined) => {
      if (!run) return;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`${name} did not stop within SHUTDOWN_TIMEOUT`)),
          Math.max(0, deadline - Date.now()),
        );
      });
      try {
        await Promise.race([Promise.resolve().then(run), timeout]);
      } catch (error) {
        logger.error({ err: error, step: name }, 'stop step failed; continuing');
      } finally {
        clearTimeout(timer);
      }
    };
    const { server, feed, relay, pipeline, recorder, retention, services, simulator, database } = parts;
    await step('server', server && (() => server.close())); // WS clients get 1001, then HTTP closes
    await step('feed', feed && (() => feed.stop()));
    await step('relay', relay && (() => relay.stop()));
    await step('pipeline', pipeline && (() => pipeline.stop(Math.max(0, deadline - Date.now()))));
    await step('recorder', recorder && (() => recorder.stop())); // flushes everything buffered
    await step('retention', retention && (() => retention.stop()));
    await step('bus', services && (() => services.bus.stop()));
    await step('simulator', simulator && (() => simulator.stop()));
    await step('database', database && (() => database.disconnect()));
    logger.info('stopped');
  }

  return {
    start,
    stop: () => {
      stopping ??= doStop();
      return stopping;
    },
    parts,
  };
}

/** A FeedClient whose status() is the leader's relayed status while this instance follows. */
function withRelayedStatus(feed: FeedClient, relay: RedisRelay): FeedClient {
  return { ...feed, status: () => (relay.isLeader() ? feed.status() : (relay.followerStatus() ?? feed.status())) };
}
