/**
 * Several tickgraph instances, one upstream feed: Upstox allows 2 connections per user (5 with Plus), so
 * only the elected leader runs the feed client and relays what it decodes to the others over Redis pub/sub.
 *
 * Election: `SET <ns>:leader <instanceId> NX PX lockTtlMs`. The leader renews every lockTtlMs/3 with a Lua
 * compare-and-extend; if the key holds another id it steps down (onFollower). Followers retry the SET every
 * lockTtlMs/3, and at once when a leader announces it released the lock, so a graceful hand-over takes one
 * round trip and a crashed leader is replaced within lockTtlMs + lockTtlMs/3.
 *
 * Channels (all under the namespace):
 * - `<ns>:ticks`   every TickBatch the leader's pipeline sees (tick-codec.ts); followers publish it into their
 *                  local bus and latest cache.
 * - `<ns>:status`  the leader's FeedStatus, at most once per statusIntervalMs; followers answer feedStatus from it.
 * - `<ns>:subscriptions-changed`  a mutation on any instance asks the leader to reload the desired set.
 * - `<ns>:leader-released`  the leader let go of the lock: followers try to take it now, not at their next retry.
 *
 * Redis trouble never stops the live path: publishes fail fast (no offline queue, so no stale burst after a
 * reconnect), are counted, and the leader keeps serving its own clients. While it cannot reach Redis a leader
 * stays leader; when Redis answers again the renewal either extends its lock, retakes a lock that expired, or
 * finds another instance's id and steps down. (So during a partition between the leader and Redis, a second
 * instance may lead too; two feed connections are within Upstox's limit.) Without Redis at start-up no
 * instance becomes leader until it is reachable.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import type { Tick, TickBatch } from '../ticks/tick.js';
import type { TickBus } from '../ticks/tick-bus.js';
import type { FeedStatus } from '../upstox/feed-client.js';
import { decodeBatch, decodeNotice, decodeStatus, encodeBatch, encodeNotice, encodeStatus } from './tick-codec.js';

/** Where followers put relayed ticks besides the bus: the latest cache (anything with `set`). */
export interface LatestTickSink {
  set(tick: Tick): void;
}

export interface RedisRelayOptions {
  /** Redis URL (`redis://[:password@]host:port[/db]`). Never logged (it may carry a password). */
  readonly url: string;
  /**
   * Prefix of every key and channel (`<namespace>:leader`, `<namespace>:ticks`, ...). Instances with the same
   * namespace share one feed; use a distinct one per deployment (and per test).
   * @default 'tickgraph'
   */
  readonly namespace?: string;
  /** This instance's id, stored in the lock and stamped on every message. @default a random UUID */
  readonly instanceId?: string;
  /**
   * Lock lifetime; renewed every third of it. A crashed leader is replaced after at most ~4/3 of this.
   * @default 10_000 (ms)
   */
  readonly lockTtlMs?: number;
  /** Parent logger; the relay logs under `component: 'redis-relay'` and rate-limits repeated warnings. */
  readonly logger: Logger;
  /** Followers publish relayed batches here. */
  readonly bus: Pick<TickBus, 'publish'>;
  /** Followers store relayed ticks here (the latest cache). */
  readonly cache: LatestTickSink;
  /**
   * Called when this instance becomes leader: start the feed client (and load the desired set).
   * A throw or rejection is logged and counted (`callbackErrors`), never propagated.
   */
  readonly onLeader?: () => void | Promise<void>;
  /** Called when this instance stops being leader (lost lock, or stop()): stop the feed client. Errors as onLeader. */
  readonly onFollower?: () => void | Promise<void>;
  /**
   * The leader's feed status, polled and relayed every statusIntervalMs while leading. Optional: the app may
   * call publishStatus() itself instead (or as well).
   */
  readonly status?: () => FeedStatus;
  /**
   * Called on followers with each status relayed by the leader (e.g. to push a feedStatus subscription).
   * Errors as onLeader.
   */
  readonly onStatus?: (status: FeedStatus) => void;
  /**
   * Called when the relay's link to Redis comes up (both connections ready) or goes down (either closed),
   * e.g. to report a degraded readiness. Errors as onLeader.
   */
  readonly onConnectionChange?: (connected: boolean) => void;
  /**
   * Minimum time between two relayed statuses (latest wins in between).
   * @default 1_000 (ms)
   */
  readonly statusIntervalMs?: number;
  /**
   * How long start() waits for Redis before returning as follower (elections keep retrying afterwards).
   * @default 5_000 (ms)
   */
  readonly connectTimeoutMs?: number;
  /**
   * Batch publishes awaiting Redis before further batches are dropped (counted in `publishDropped`).
   * @default 1_000
   */
  readonly maxInFlight?: number;
}

export type RelayRole = 'leader' | 'follower' | 'stopped';

export interface RedisRelayStats {
  readonly role: RelayRole;
  /** Both Redis connections are ready. */
  readonly connected: boolean;
  /** Times this instance became leader. */
  readonly leaderTerms: number;
  /** Batches handed to Redis and acknowledged. */
  readonly published: number;
  /** Batch publishes Redis rejected or that failed because it was unreachable. */
  readonly publishFailures: number;
  /** Batches not sent because maxInFlight publishes were already waiting. */
  readonly publishDropped: number;
  readonly bytesPublished: number;
  /** Batches received from another instance and handed to the bus and cache. */
  readonly received: number;
  readonly updatesReceived: number;
  /** Messages dropped on purpose: our own echoes, or batches from another instance while we lead. */
  readonly ignored: number;
  /** Messages that failed validation (any channel). */
  readonly decodeErrors: number;
  /** Throws from the bus or cache while handing them a relayed batch. */
  readonly sinkErrors: number;
  readonly statusPublished: number;
  readonly statusReceived: number;
  /** Epoch ms of the last relayed status received; null if none. */
  readonly lastStatusAt: number | null;
  readonly notificationsSent: number;
  readonly notificationsReceived: number;
  /**
   * Times the subscriber connection came back after losing its link (relayed batches sent meanwhile are lost;
   * each tick carries full merged state, so an instrument is current again at its next update). Redis also
   * drops a subscriber whose output buffer passes `client-output-buffer-limit pubsub` (32 MB by default).
   */
  readonly subscriberReconnects: number;
  /** Failed lock/renew/release/notify commands and connection errors. */
  readonly redisErrors: number;
  readonly callbackErrors: number;
}

export interface RedisRelay {
  readonly instanceId: string;
  /** Connects, subscribes and runs the first election. Resolves (never rejects) once this instance knows its role. */
  start(): Promise<void>;
  /** Releases leadership (onFollower), unsubscribes, disconnects. Idempotent. */
  stop(): Promise<void>;
  isLeader(): boolean;
  /**
   * Relays a batch to the followers; call it for every batch the leader's pipeline sees. Returns false (and sends
   * nothing) when not leader, when Redis is unreachable or when too many publishes are pending; synchronous and
   * never throws, so it can sit on the feed's hot path.
   */
  publishBatch(batch: TickBatch): boolean;
  /** Relays the leader's status (at most once per statusIntervalMs; latest wins). No-op when not leader. */
  publishStatus(status: FeedStatus): void;
  /** The last status relayed by the leader, or null (none yet, or this instance leads). */
  followerStatus(): FeedStatus | null;
  /**
   * Tells the leader the desired subscriptions changed. On the leader itself listeners run at once (even when
   * Redis is down). Resolves false when the notice could not be published.
   */
  notifySubscriptionsChanged(): Promise<boolean>;
  /** Runs `listener` on the leader when any instance notifies. Returns a function that removes it. */
  onSubscriptionsChanged(listener: () => void | Promise<void>): () => void;
  stats(): RedisRelayStats;
}

// Extend our own lock; retake it if it expired while Redis was unreachable; report 0 if another instance holds it.
const RENEW_SCRIPT = `
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if holder == false then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0`;

const RELEASE_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`;

/** Logs at most one warning per kind per this interval; the counters carry the rest. */
const WARN_EVERY_MS = 10_000;

export function createRedisRelay({
  url,
  namespace = 'tickgraph',
  instanceId = randomUUID(),
  lockTtlMs = 10_000,
  logger,
  bus,
  cache,
  onLeader,
  onFollower,
  status,
  onStatus,
  onConnectionChange,
  statusIntervalMs = 1_000,
  connectTimeoutMs = 5_000,
  maxInFlight = 1_000,
}: RedisRelayOptions): RedisRelay {
  if (!Number.isInteger(lockTtlMs) || lockTtlMs < 30)
    throw new RangeError(`lockTtlMs must be ≥ 30 ms, got ${lockTtlMs}`);
  const lockKey = `${namespace}:leader`;
  const channels = {
    ticks: `${namespace}:ticks`,
    status: `${namespace}:status`,
    subscriptions: `${namespace}:subscriptions-changed`,
    released: `${namespace}:leader-released`,
  };
  const renewEveryMs = Math.max(10, Math.floor(lockTtlMs / 3));
  // CLIENT SETNAME refuses spaces and newlines; the name is only for `CLIENT LIST`.
  const connectionLabel = `${namespace}:${instanceId}`.replace(/[^\w.:|-]/g, '_');

  let commands: Redis | undefined;
  let subscriber: Redis | undefined;
  let leader = false;
  let started = false;
  let stopped = false;
  let starting: Promise<void> | undefined;
  let stopping: Promise<void> | undefined;
  let electionTimer: ReturnType<typeof setTimeout> | undefined;
  let electing: Promise<void> | undefined;
  let electAgain = false;
  let statusTimer: ReturnType<typeof setTimeout> | undefined;
  let pendingStatus: FeedStatus | undefined;
  let pollTimer: ReturnType<typeof setInterval> | undefined;
  let relayedStatus: FeedStatus | null = null;
  let inFlight = 0;
  /** Both connections ready (kept by watchConnection). */
  let connected = false;
  const listeners = new Set<() => void | Promise<void>>();
  /** Resolved by stop(), so a start() still waiting for Redis gives up at once. */
  let wakeOnStop: () => void = () => undefined;
  const stopSignal = new Promise<void>((resolve) => {
    wakeOnStop = resolve;
  });
  const lastWarnAt = new Map<string, number>();

  const counts = {
    leaderTerms: 0,
    published: 0,
    publishFailures: 0,
    publishDropped: 0,
    bytesPublished: 0,
    received: 0,
    updatesReceived: 0,
    ignored: 0,
    decodeErrors: 0,
    sinkErrors: 0,
    statusPublished: 0,
    statusReceived: 0,
    lastStatusAt: null as number | null,
    notificationsSent: 0,
    notificationsReceived: 0,
    subscriberReconnects: 0,
    redisErrors: 0,
    callbackErrors: 0,
  };

  const log = logger.child({ component: 'redis-relay', instanceId, namespace });

  function warn(kind: string, error: unknown, message: string): void {
    const now = Date.now();
    if (now - (lastWarnAt.get(kind) ?? 0) < WARN_EVERY_MS) return;
    lastWarnAt.set(kind, now);
    log.warn({ err: error instanceof Error ? { name: error.name, message: error.message } : String(error) }, message);
  }

  function runCallback(name: string, callback: (() => void | Promise<void>) | undefined): void {
    if (callback === undefined) return;
    const failed = (error: unknown) => {
      counts.callbackErrors++;
      log.error({ err: error }, `${name} callback failed`);
    };
    try {
      Promise.resolve(callback()).catch(failed);
    } catch (error) {
      failed(error);
    }
  }

  // --- roles ------------------------------------------------------------------------------------------------

  function becomeLeader(): void {
    if (leader || stopped) return;
    leader = true;
    counts.leaderTerms++;
    relayedStatus = null;
    log.info('became leader');
    if (status !== undefined) {
      pollTimer = setInterval(() => {
        try {
          publishStatus(status());
        } catch (error) {
          counts.callbackErrors++;
          warn('status', error, 'status() threw');
        }
      }, statusIntervalMs);
    }
    runCallback('onLeader', onLeader);
  }

  function stepDown(reason: string): void {
    if (!leader) return;
    leader = false;
    if (pollTimer !== undefined) clearInterval(pollTimer);
    pollTimer = undefined;
    if (statusTimer !== undefined) clearTimeout(statusTimer);
    statusTimer = undefined;
    pendingStatus = undefined;
    log.info({ reason }, 'stepped down');
    runCallback('onFollower', onFollower);
  }

  async function electOnce(): Promise<void> {
    const client = commands;
    if (client === undefined || stopped) return;
    try {
      if (leader) {
        const held = await client.eval(RENEW_SCRIPT, 1, lockKey, instanceId, String(lockTtlMs));
        if (held !== 1 && !stopped) stepDown('lock held by another instance');
      } else {
        const taken = await client.set(lockKey, instanceId, 'PX', lockTtlMs, 'NX');
        if (taken === 'OK' && !stopped) becomeLeader();
      }
    } catch (error) {
      // Unreachable Redis: keep the current role (see the module comment).
      counts.redisErrors++;
      warn('election', error, leader ? 'could not renew leadership; still leading' : 'could not run election');
    }
  }

  /** Runs one election now, or right after the one in progress; never two at once. */
  function elect(): Promise<void> {
    if (electing !== undefined) {
      electAgain = true;
      return electing;
    }
    electing = (async () => {
      do {
        electAgain = false;
        await electOnce();
      } while (electAgain && !stopped);
      electing = undefined;
    })();
    return electing;
  }

  function scheduleElections(): void {
    if (stopped) return;
    electionTimer = setTimeout(async () => {
      await elect();
      scheduleElections();
    }, renewEveryMs);
  }

  // --- outgoing ---------------------------------------------------------------------------------------------

  function publishBatch(batch: TickBatch): boolean {
    if (!leader || stopped || commands === undefined) return false;
    // Either connection down counts as Redis down (see onConnectionChange): fail fast, and count it.
    if (!connected || commands.status !== 'ready') {
      counts.publishFailures++;
      return false;
    }
    if (inFlight >= maxInFlight) {
      counts.publishDropped++;
      warn('backlog', undefined, `dropping batches: ${inFlight} publishes already waiting for Redis`);
      return false;
    }
    let message: string;
    try {
      message = encodeBatch(instanceId, batch);
    } catch (error) {
      // A batch we cannot encode is our bug, not the feed's; count it and keep going.
      counts.publishFailures++;
      warn('encode', error, 'could not encode batch');
      return false;
    }
    inFlight++;
    counts.bytesPublished += message.length;
    commands.publish(channels.ticks, message).then(
      () => {
        inFlight--;
        counts.published++;
      },
      (error: unknown) => {
        inFlight--;
        counts.publishFailures++;
        warn('publish', error, 'could not publish batch');
      },
    );
    return true;
  }

  function sendStatus(next: FeedStatus): void {
    const client = commands;
    if (client === undefined || client.status !== 'ready') return;
    client.publish(channels.status, encodeStatus(instanceId, next)).then(
      () => {
        counts.statusPublished++;
      },
      (error: unknown) => {
        counts.redisErrors++;
        warn('status-publish', error, 'could not publish status');
      },
    );
  }

  function statusWindowEnded(): void {
    statusTimer = undefined;
    if (pendingStatus === undefined || !leader) return;
    const next = pendingStatus;
    pendingStatus = undefined;
    sendStatus(next);
    statusTimer = setTimeout(statusWindowEnded, statusIntervalMs);
  }

  function publishStatus(next: FeedStatus): void {
    if (!leader || stopped) return;
    if (statusTimer !== undefined) {
      pendingStatus = next;
      return;
    }
    sendStatus(next);
    statusTimer = setTimeout(statusWindowEnded, statusIntervalMs);
  }

  function runListeners(): void {
    for (const listener of listeners) runCallback('onSubscriptionsChanged', listener);
  }

  async function notifySubscriptionsChanged(): Promise<boolean> {
    if (stopped) return false;
    if (leader) runListeners();
    const client = commands;
    if (client === undefined || client.status !== 'ready') {
      counts.redisErrors++;
      return false;
    }
    try {
      await client.publish(channels.subscriptions, encodeNotice(instanceId));
      counts.notificationsSent++;
      return true;
    } catch (error) {
      counts.redisErrors++;
      warn('notify', error, 'could not publish subscriptions-changed');
      return false;
    }
  }

  // --- incoming ---------------------------------------------------------------------------------------------

  function handleTicks(message: string): void {
    let relayed: ReturnType<typeof decodeBatch>;
    try {
      relayed = decodeBatch(message);
    } catch (error) {
      counts.decodeErrors++;
      warn('decode', error, 'dropped a bad batch message');
      return;
    }
    // Our own echo, or (briefly, around a hand-over) another leader's batch while we feed our own bus.
    if (relayed.sender === instanceId || leader) {
      counts.ignored++;
      return;
    }
    counts.received++;
    counts.updatesReceived += relayed.batch.updates.length;
    try {
      for (const update of relayed.batch.updates) cache.set(update.tick);
      bus.publish(relayed.batch);
    } catch (error) {
      counts.sinkErrors++;
      warn('sink', error, 'cache or bus threw on a relayed batch');
    }
  }

  function handleStatus(message: string): void {
    let decoded: ReturnType<typeof decodeStatus>;
    try {
      decoded = decodeStatus(message);
    } catch (error) {
      counts.decodeErrors++;
      warn('decode', error, 'dropped a bad status message');
      return;
    }
    if (decoded.sender === instanceId || leader) {
      counts.ignored++;
      return;
    }
    counts.statusReceived++;
    counts.lastStatusAt = Date.now();
    relayedStatus = decoded.status;
    if (onStatus !== undefined) runCallback('onStatus', () => onStatus(decoded.status));
  }

  function handleNotice(channel: string, message: string): void {
    let notice: ReturnType<typeof decodeNotice>;
    try {
      notice = decodeNotice(message);
    } catch (error) {
      counts.decodeErrors++;
      warn('decode', error, `dropped a bad message on ${channel}`);
      return;
    }
    if (notice.sender === instanceId) {
      counts.ignored++;
      return;
    }
    if (channel === channels.released) {
      // The leader let go: try now rather than at the next retry.
      if (!leader && !stopped) void elect();
      return;
    }
    counts.notificationsReceived++;
    if (leader) runListeners();
  }

  function handleMessage(channel: string, message: string): void {
    if (channel === channels.ticks) handleTicks(message);
    else if (channel === channels.status) handleStatus(message);
    else handleNotice(channel, message);
  }

  // --- lifecycle --------------------------------------------------------------------------------------------

  function whenReady(client: Redis): Promise<boolean> {
    if (client.status === 'ready') return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        client.off('ready', ready);
        resolve(false);
      }, connectTimeoutMs);
      const ready = () => {
        clearTimeout(timer);
        resolve(true);
      };
      client.once('ready', ready);
      void stopSignal.then(() => {
        clearTimeout(timer);
        client.off('ready', ready);
        resolve(false);
      });
    });
  }

  function watchConnection(client: Redis, name: string): void {
    client.on('error', (error: unknown) => {
      counts.redisErrors++;
      warn(`connection-${name}`, error, `redis ${name} connection error`);
    });
    const update = () => {
      const now = commands?.status === 'ready' && subscriber?.status === 'ready';
      if (now === connected) return;
      connected = now;
      if (!now) log.warn('lost the link to redis; ioredis reconnects');
      else log.info('linked to redis');
      if (onConnectionChange !== undefined) runCallback('onConnectionChange', () => onConnectionChange(now));
    };
    client.on('ready', update);
    client.on('close', update);
  }

  async function doStart(): Promise<void> {
    started = true;
    // Commands fail fast while disconnected (no offline queue): a publish must not wait and then flood stale
    // batches after a reconnect. The subscriber keeps the default queue so SUBSCRIBE is replayed on reconnect.
    commands = new Redis(url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectionName: `${connectionLabel}:cmd`,
    });
    subscriber = new Redis(url, { connectionName: `${connectionLabel}:sub` });
    watchConnection(commands, 'command');
    watchConnection(subscriber, 'subscriber');
    subscriber.on('message', handleMessage);
    let subscriberWasReady = false;
    subscriber.on('ready', () => {
      if (subscriberWasReady) {
        counts.subscriberReconnects++;
        warn('resubscribed', undefined, 'subscriber reconnected; batches relayed meanwhile were missed');
      }
      subscriberWasReady = true;
    });
    const [commandsReady, subscriberReady] = await Promise.all([whenReady(commands), whenReady(subscriber)]);
    if (stopped) return;
    if (subscriberReady) {
      try {
        await subscriber.subscribe(channels.ticks, channels.status, channels.subscriptions, channels.released);
      } catch (error) {
        counts.redisErrors++;
        warn('subscribe', error, 'could not subscribe; ioredis resubscribes on reconnect');
      }
    }
    if (!commandsReady || !subscriberReady) {
      log.warn({ connectTimeoutMs }, 'redis not reachable yet; following until it is');
    }
    await elect();
    scheduleElections();
    log.info({ role: leader ? 'leader' : 'follower' }, 'relay started');
  }

  async function closeClient(client: Redis | undefined): Promise<void> {
    if (client === undefined) return;
    if (client.status === 'ready') {
      try {
        await client.quit();
        return;
      } catch {
        // fall through to a hard disconnect
      }
    }
    client.disconnect();
  }

  async function doStop(): Promise<void> {
    // Let a start() in progress finish its awaits first; `stopped` makes it bail out early.
    stopped = true;
    wakeOnStop();
    if (electionTimer !== undefined) clearTimeout(electionTimer);
    electionTimer = undefined;
    await starting?.catch(() => undefined);
    await electing;
    if (electionTimer !== undefined) clearTimeout(electionTimer);
    // Release even when not leading: an election that won the lock while stop() began never became leader.
    if (commands !== undefined && commands.status === 'ready') {
      try {
        const released = await commands.eval(RELEASE_SCRIPT, 1, lockKey, instanceId);
        if (released === 1) await commands.publish(channels.released, encodeNotice(instanceId));
      } catch (error) {
        counts.redisErrors++;
        warn('release', error, 'could not release leadership; it expires after lockTtlMs');
      }
    }
    // stepDown() checks `leader`, not `stopped`, so the app still hears onFollower.
    stepDown('stopped');
    await Promise.all([closeClient(commands), closeClient(subscriber)]);
    listeners.clear();
    log.info('relay stopped');
  }

  return {
    instanceId,
    start() {
      if (stopped) return Promise.resolve();
      starting ??= doStart();
      return starting;
    },
    stop() {
      if (!started) stopped = true;
      stopping ??= doStop();
      return stopping;
    },
    isLeader: () => leader,
    publishBatch,
    publishStatus,
    followerStatus: () => relayedStatus,
    notifySubscriptionsChanged,
    onSubscriptionsChanged(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    stats() {
      const role: RelayRole = stopped ? 'stopped' : leader ? 'leader' : 'follower';
      return { role, connected, ...counts };
    },
  };
}
