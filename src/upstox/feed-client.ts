/**
 * Our client for the Upstox Market Data Feed V3: authorize → single-use URL → WebSocket; binary JSON
 * requests; protobuf frames decoded once; desired-state subscriptions replayed on every connection;
 * jittered exponential backoff; liveness watchdog; status.
 *
 * CONTRACT (shared with graphql/, app.ts, bench/): the exported types below are stable; implementation
 * lives in createFeedClient().
 */
import { once } from 'node:events';
import { WebSocket } from 'ws';
import { type Logger, scrubSecrets, silentLogger } from '../logger.js';
import { createFrameRecorder, type FrameRecorder } from '../simulator/recording.js';
import type { LatestCache } from '../ticks/latest-cache.js';
import type { Pipeline } from '../ticks/pipeline.js';
import type { TickBatch } from '../ticks/tick.js';
import { AuthorizeError, authorize, redactFeedUrl } from './authorizer.js';
import { createDecoder, type DecodeResult } from './decoder.js';
import {
  type FeedMode,
  type FeedRequest,
  type InstrumentKeyProblem,
  instrumentKeyProblem,
  isFeedMode,
  type MarketStatus,
  SEGMENTS,
  UPSTOX_API_BASE,
} from './protocol.js';
import { applyRequests, CapExceededError, checkCaps, countByMode, planRequests } from './subscriptions.js';

export type FeedState = 'CONNECTING' | 'CONNECTED' | 'RECONNECTING' | 'UNAUTHORIZED' | 'STOPPED';
export type FeedSource = 'UPSTOX' | 'SIMULATOR' | 'REPLAY';

/** One segment's market status from `market_info`, with the 2026 CAS / pre-open maps folded in. */
export interface SegmentStatus {
  readonly segment: string;
  /** From `segmentStatus`; null when the segment appears only in the CAS / pre-open maps. */
  readonly status: MarketStatus | null;
  readonly casStatus: string | null;
  readonly casUpdatedAt: number | null;
  readonly preOpenStatus: string | null;
  readonly preOpenUpdatedAt: number | null;
}

export interface FeedStatus {
  readonly state: FeedState;
  readonly source: FeedSource;
  /** Epoch ms when the current connection opened; null when not connected. */
  readonly connectedSince: number | null;
  /** Connections opened after the first one. */
  readonly reconnects: number;
  /** Epoch ms of the last frame (or ping) received. */
  readonly lastFrameAt: number | null;
  /** Last connection/authorization error, secrets redacted. */
  readonly lastError: string | null;
  readonly framesDecoded: number;
  readonly ticksDecoded: number;
  readonly decodeErrors: number;
  /** Rates over the last few seconds. */
  readonly framesPerSecond: number;
  readonly ticksPerSecond: number;
  /** Desired keys per mode. */
  readonly keysByMode: Readonly<Record<FeedMode, number>>;
  /** Keys per mode sent on the current connection. */
  readonly activeKeysByMode: Readonly<Record<FeedMode, number>>;
  readonly segments: readonly SegmentStatus[];
  /** Text frames received and ignored (Upstox sends only binary frames). */
  readonly textFramesIgnored?: number;
  /** Batches whose onBatch callback threw (counted, skipped). */
  readonly deliveryErrors?: number;
}

export interface FeedClientEvents {
  /** State or counters changed in a way a status watcher cares about (state, segments, errors). */
  status: (status: FeedStatus) => void;
  /** A `market_info` frame changed segment statuses. */
  marketInfo: (segments: readonly SegmentStatus[]) => void;
}

export interface FeedClient {
  /** Connects (and keeps reconnecting) until stop(). Never throws for network errors: see status(). */
  start(): void;
  /** Closes the socket, cancels timers. Idempotent. */
  stop(): Promise<void>;
  status(): FeedStatus;
  on<E extends keyof FeedClientEvents>(event: E, listener: FeedClientEvents[E]): () => void;

  /** The desired set: instrument key → mode. The truth the connection converges to. */
  desired(): ReadonlyMap<string, FeedMode>;
  /** What has been sent on the current connection (empty while disconnected). */
  active(): ReadonlyMap<string, FeedMode>;
  /**
   * Replaces the desired set. Caps are checked first: over a cap it throws CapExceededError
   * (from subscriptions.ts), for a malformed key InvalidInstrumentKeyError, and nothing changes. When connected,
   * the difference is sent as batched requests. Keys that leave the set are dropped from the latest cache.
   */
  setDesired(next: ReadonlyMap<string, FeedMode>): void;
  /** Replaces the access token at runtime; leaves UNAUTHORIZED and reconnects when it was stuck there. */
  setAccessToken(token: string): void;
}

// ---------------------------------------------------------------------------------------------------------
// Implementation
// ---------------------------------------------------------------------------------------------------------

/** A connection attempt or an open connection failed (authorize failures are AuthorizeError instead). */
export class FeedConnectionError extends Error {
  override name = 'FeedConnectionError' as const;
  /**
   * UNAUTHORIZED: handshake answered 401/403 (no retries until a new token). HANDSHAKE: any other handshake
   * failure (status, redirects, timeout, network). LIVENESS / DATA_TIMEOUT: the watchdogs gave up on a silent
   * socket. CLOSED: the server or network closed an open connection.
   */
  readonly kind: 'UNAUTHORIZED' | 'HANDSHAKE' | 'LIVENESS' | 'DATA_TIMEOUT' | 'CLOSED';
  readonly status: number | null;
  readonly closeCode: number | null;
  constructor(
    kind: FeedConnectionError['kind'],
    message: string,
    options: { status?: number | null; closeCode?: number | null; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.kind = kind;
    this.status = options.status ?? null;
    this.closeCode = options.closeCode ?? null;
  }
}

/** An instrument key that is not `SEGMENT|ID` with a known segment (spec §5). */
export class InvalidInstrumentKeyError extends Error {
  override name = 'InvalidInstrumentKeyError' as const;
  constructor(
    readonly keys: readonly string[],
    readonly problem: InstrumentKeyProblem,
  ) {
    super(
      `invalid instrument key${keys.length === 1 ? '' : 's'} ${keys
        .slice(0, 5)
        .map((k) => JSON.stringify(k))
        .join(', ')}${keys.length > 5 ? ` (+${keys.length - 5} more)` : ''}: ${
        problem === 'FORMAT'
          ? 'expected SEGMENT|IDENTIFIER'
          : `unknown segment (expected one of ${SEGMENTS.join(', ')})`
      }`,
    );
  }
}

export interface FeedClientOptions {
  /** REST base the authorize call goes to; the single-use ws(s) URL comes back from it. @default UPSTOX_API_BASE */
  apiBase?: string;
  /** Upstox access token. Never logged; replace at runtime with setAccessToken(). */
  accessToken: string;
  /** Reported in status (UPSTOX, SIMULATOR, REPLAY). @default 'UPSTOX' */
  source?: FeedSource;
  /** Latest state per instrument; the decoder merges partial updates through it. */
  cache: LatestCache;
  /**
   * Receives every decoded tick batch, synchronously on the socket's message callback: keep it cheap (e.g.
   * pipeline.publish). A throw is counted in status `deliveryErrors`. Takes precedence over `pipeline`.
   */
  onBatch?: (batch: TickBatch) => void;
  /** Alternative to onBatch: batches go to `pipeline.publish`. */
  pipeline?: Pick<Pipeline, 'publish'>;
  /** Upstox Plus account: full_d30 allowed (50 keys). @default false */
  plus?: boolean;
  /** Initial desired set (checked against the caps like setDesired). @default empty */
  desired?: ReadonlyMap<string, FeedMode>;
  /**
   * Delay before reconnect attempt `attempt` (1 = first retry), in ms.
   * @default exponential with full jitter: random(0, min(30_000, 500 × 2^(attempt-1)))
   */
  retryWait?: (attempt: number) => number;
  /** Whether to retry after `error` (UNAUTHORIZED never retries until a new token). @default () => true */
  shouldRetry?: (error: Error) => boolean;
  /** Consecutive failed attempts after which the client gives up (state STOPPED). @default Infinity */
  maxAttempts?: number;
  /**
   * An open socket on which nothing arrives (no frame, no server ping, no pong to our pings) for this long is
   * dead: terminated and reconnected. Pings count, so a quiet market never reconnect-loops (§4.8).
   * @default 30_000 (ms)
   */
  livenessTimeoutMs?: number;
  /** We ping the server this often; its pongs keep the liveness watchdog fed. @default 10_000 (ms) */
  pingIntervalMs?: number;
  /**
   * Optional data watchdog: reconnect when no frame and no *server* ping arrived for this long, even though
   * the peer's WebSocket layer still answers our pings (a hung feed behind a live socket). Upstox pings idle
   * sockets itself, so a quiet market still feeds it. 0 turns it off.
   * @default 0
   */
  dataTimeoutMs?: number;
  /** WebSocket opening-handshake timeout. @default 10_000 (ms) */
  handshakeTimeoutMs?: number;
  /** Authorize call timeout. @default 10_000 (ms) */
  authorizeTimeoutMs?: number;
  /** Redirects followed during the handshake (Upstox answers 302/307, §1.2). @default 5 */
  maxRedirects?: number;
  /** Most instrument keys in one request frame. @default 500 */
  maxKeysPerRequest?: number;
  /** Window of framesPerSecond / ticksPerSecond in status. @default 5_000 (ms) */
  rateWindowMs?: number;
  /** Record every binary frame received (raw bytes + receive time) to this file (simulator/recording.ts format). */
  recordTo?: string;
  /** @default silentLogger() */
  logger?: Logger;
  /** fetch for the authorize call (tests). @default globalThis.fetch */
  fetch?: typeof fetch;
  /** Clock, epoch ms. @default Date.now */
  now?: () => number;
}

/** Exponential backoff with full jitter: uniform in [0, min(capMs, baseMs × 2^(attempt-1))]. */
export function fullJitterBackoff(baseMs = 500, capMs = 30_000, random: () => number = Math.random) {
  return (attempt: number): number => random() * Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1));
}

/** Event counts in 1-second buckets over a sliding window. */
function createRate(windowMs: number, now: () => number) {
  const slots = Math.max(1, Math.round(windowMs / 1_000));
  const counts = new Float64Array(slots);
  const seconds = new Float64Array(slots).fill(-1);
  return {
    add(n: number) {
      const second = Math.floor(now() / 1_000);
      const slot = second % slots;
      if (seconds[slot] !== second) {
        seconds[slot] = second;
        counts[slot] = 0;
      }
      counts[slot]! += n;
    },
    perSecond(): number {
      const second = Math.floor(now() / 1_000);
      let sum = 0;
      for (let i = 0; i < slots; i++) if (seconds[i]! > second - slots) sum += counts[i]!;
      return sum / slots;
    },
  };
}

export function createFeedClient({
  apiBase = UPSTOX_API_BASE,
  accessToken,
  source = 'UPSTOX',
  cache,
  onBatch,
  pipeline,
  plus = false,
  desired: initialDesired,
  retryWait = fullJitterBackoff(),
  shouldRetry = () => true,
  maxAttempts = Number.POSITIVE_INFINITY,
  livenessTimeoutMs = 30_000,
  pingIntervalMs = 10_000,
  dataTimeoutMs = 0,
  handshakeTimeoutMs = 10_000,
  authorizeTimeoutMs = 10_000,
  maxRedirects = 5,
  maxKeysPerRequest = 500,
  rateWindowMs = 5_000,
  recordTo,
  logger = silentLogger(),
  fetch: fetchImpl,
  now = Date.now,
}: FeedClientOptions): FeedClient {
  const deliver = onBatch ?? (pipeline ? (batch: TickBatch) => pipeline.publish(batch) : () => {});
  const decoder = createDecoder({ cache });
  const listeners: { [E in keyof FeedClientEvents]: Set<FeedClientEvents[E]> } = {
    status: new Set(),
    marketInfo: new Set(),
  };

  let token = accessToken;
  /** Tokens ever used: scrubbed from every message we produce. */
  const secrets = new Set<string>([accessToken]);
  let desired = new Map<string, FeedMode>();
  let active = new Map<string, FeedMode>();
  let state: FeedState = 'STOPPED';
  let running = false;
  /** Bumped by stop(): callbacks of an older generation do nothing. */
  let generation = 0;
  let attempt = 0;
  let everConnected = false;
  let reconnects = 0;
  let connectedSince: number | null = null;
  let lastFrameAt: number | null = null;
  let lastError: string | null = null;
  let framesDecoded = 0;
  let ticksDecoded = 0;
  let decodeErrors = 0;
  let textFrames = 0;
  let deliveryErrors = 0;
  let lastDecodeErrorLogAt = Number.NEGATIVE_INFINITY;
  let lastDeliveryErrorLogAt = Number.NEGATIVE_INFINITY;
  const frameRate = createRate(rateWindowMs, now);
  const tickRate = createRate(rateWindowMs, now);
  const segments = new Map<string, SegmentStatus>();
  // desired/active are replaced, never mutated, so per-mode counts are computed once per set (status() is
  // polled by GraphQL and emitted on every state change; 5,000 keys need not be recounted each time).
  const counted = new WeakMap<ReadonlyMap<string, FeedMode>, Readonly<Record<FeedMode, number>>>();
  const countsOf = (set: ReadonlyMap<string, FeedMode>) => {
    let counts = counted.get(set);
    if (!counts) {
      counts = Object.freeze(countByMode(set));
      counted.set(set, counts);
    }
    return counts;
  };

  let socket: WebSocket | undefined;
  let authorizeAbort: AbortController | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let stopping: Promise<void> | undefined;
  let recorder: FrameRecorder | undefined;

  const scrub = (text: string, extra: readonly string[] = []) => scrubSecrets(text, [...secrets, ...extra]);

  function emit<E extends keyof FeedClientEvents>(event: E, ...args: Parameters<FeedClientEvents[E]>): void {
    for (const listener of listeners[event]) {
      try {
        (listener as (...a: Parameters<FeedClientEvents[E]>) => void)(...args);
      } catch (error) {
        logger.warn({ err: error, event }, 'feed client listener threw');
      }
    }
  }

  function status(): FeedStatus {
    const keysByMode = countsOf(desired);
    const activeKeysByMode = countsOf(active);
    return {
      state,
      source,
      connectedSince,
      reconnects,
      lastFrameAt,
      lastError,
      framesDecoded,
      ticksDecoded,
      decodeErrors,
      framesPerSecond: frameRate.perSecond(),
      ticksPerSecond: tickRate.perSecond(),
      keysByMode,
      activeKeysByMode,
      segments: [...segments.values()],
      textFramesIgnored: textFrames,
      deliveryErrors,
    };
  }

  function setState(next: FeedState): void {
    if (state === next) return;
    state = next;
    emit('status', status());
  }

  function validate(next: ReadonlyMap<string, FeedMode>): void {
    const bad = new Map<InstrumentKeyProblem, string[]>();
    for (const [key, mode] of next) {
      if (!isFeedMode(mode))
        throw new TypeError(`unknown feed mode ${JSON.stringify(mode)} for ${JSON.stringify(key)}`);
      const problem = instrumentKeyProblem(key);
      if (problem) bad.set(problem, [...(bad.get(problem) ?? []), key]);
    }
    for (const [problem, keys] of bad) throw new InvalidInstrumentKeyError(keys, problem);
    const violation = checkCaps(next, { plus });
    if (violation) throw new CapExceededError(violation);
  }

  function sendRequests(ws: WebSocket, requests: readonly FeedRequest[]): void {
    for (const request of requests) {
      // Binary frames: Upstox silently ignores the same JSON sent as text (§2.1).
      ws.send(Buffer.from(JSON.stringify(request), 'utf8'), { binary: true }, (error) => {
        if (error) logger.debug({ err: error }, 'request not sent (socket closing); it is replayed on reconnect');
      });
    }
    active = applyRequests(active, requests);
  }

  function handleFailure(error: Error, gen: number): void {
    if (gen !== generation || !running) return;
    socket = undefined;
    authorizeAbort = undefined;
    connectedSince = null;
    active = new Map();
    lastError = scrub(error.message);
    const unauthorized =
      (error instanceof AuthorizeError && error.kind === 'UNAUTHORIZED') ||
      (error instanceof FeedConnectionError && error.kind === 'UNAUTHORIZED');
    if (unauthorized) {
      logger.error({ reason: lastError }, 'Upstox refused the access token; waiting for a new one (setAccessToken)');
      attempt = 0;
      setState('UNAUTHORIZED');
      return;
    }
    attempt++;
    let retry = true;
    try {
      retry = shouldRetry(error);
    } catch (hookError) {
      logger.warn({ err: hookError }, 'shouldRetry threw; not retrying');
      retry = false;
    }
    if (attempt >= maxAttempts || !retry) {
      logger.error({ reason: lastError, attempts: attempt }, 'feed connection failed; giving up');
      lastError = `${lastError} (gave up after ${attempt} attempt${attempt === 1 ? '' : 's'})`;
      running = false;
      setState('STOPPED');
      return;
    }
    let delay = 0;
    try {
      delay = Math.max(0, Number(retryWait(attempt)) || 0);
    } catch (hookError) {
      logger.warn({ err: hookError }, 'retryWait threw; retrying after 1 s');
      delay = 1_000;
    }
    if (error instanceof AuthorizeError && error.retryAfterMs !== null) delay = Math.max(delay, error.retryAfterMs);
    logger.warn({ reason: lastError, attempt, delayMs: Math.round(delay) }, 'feed connection failed; reconnecting');
    state = 'RECONNECTING';
    emit('status', status());
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      void connect(gen);
    }, delay);
  }

  async function connect(gen: number): Promise<void> {
    if (gen !== generation || !running) return;
    const abort = new AbortController();
    authorizeAbort = abort;
    let url: string;
    try {
      url = await authorize({
        apiBase,
        accessToken: token,
        fetch: fetchImpl,
        signal: abort.signal,
        timeoutMs: authorizeTimeoutMs,
      });
    } catch (error) {
      handleFailure(error instanceof Error ? error : new Error(String(error)), gen);
      return;
    }
    if (gen !== generation || !running) return;
    open(url, gen);
  }

  function open(url: string, gen: number): void {
    let code: string | null = null;
    try {
      code = new URL(url).searchParams.get('code');
    } catch {
      // not a URL at all: the WebSocket constructor below reports it
    }
    const urlSecrets = code ? [url, code] : [url];
    let failure: Error | undefined;
    let ws: WebSocket;
    try {
      ws = new WebSocket(url, { followRedirects: true, maxRedirects, handshakeTimeout: handshakeTimeoutMs });
    } catch (error) {
      const message = scrub(error instanceof Error ? error.message : String(error), urlSecrets);
      handleFailure(
        new FeedConnectionError('HANDSHAKE', `cannot open the feed socket: ${message}`, { cause: error }),
        gen,
      );
      return;
    }
    socket = ws;
    logger.debug({ url: redactFeedUrl(url) }, 'opening feed socket');

    let lastLifeAt = now();
    let lastDataAt = now();
    let pingTimer: NodeJS.Timeout | undefined;
    let livenessTimer: NodeJS.Timeout | undefined;
    let dataTimer: NodeJS.Timeout | undefined;
    const clearTimers = () => {
      clearInterval(pingTimer);
      clearTimeout(livenessTimer);
      clearTimeout(dataTimer);
    };
    const fail = (error: Error) => {
      failure ??= error;
      ws.terminate();
    };
    const life = () => {
      lastLifeAt = now();
    };
    const checkLiveness = () => {
      const silent = now() - lastLifeAt;
      if (silent >= livenessTimeoutMs) {
        fail(new FeedConnectionError('LIVENESS', `no frame, ping or pong for ${silent} ms; reconnecting`));
      } else {
        livenessTimer = setTimeout(checkLiveness, livenessTimeoutMs - silent);
      }
    };
    const checkData = () => {
      const silent = now() - lastDataAt;
      if (silent >= dataTimeoutMs) {
        fail(new FeedConnectionError('DATA_TIMEOUT', `no frame or server ping for ${silent} ms; reconnecting`));
      } else {
        dataTimer = setTimeout(checkData, dataTimeoutMs - silent);
      }
    };

    ws.on('unexpected-response', (_req, res) => {
      const status = res.statusCode ?? 0;
      res.resume();
      fail(
        new FeedConnectionError(
          status === 401 || status === 403 ? 'UNAUTHORIZED' : 'HANDSHAKE',
          `feed handshake answered HTTP ${status}`,
          { status },
        ),
      );
    });
    ws.on('open', () => {
      if (gen !== generation) return;
      connectedSince = now();
      if (everConnected) reconnects++;
      everConnected = true;
      life();
      lastDataAt = now();
      pingTimer = setInterval(() => {
        if (ws.readyState === WebSocket.OPEN) ws.ping();
      }, pingIntervalMs);
      livenessTimer = setTimeout(checkLiveness, livenessTimeoutMs);
      if (dataTimeoutMs > 0) dataTimer = setTimeout(checkData, dataTimeoutMs);
      // A fresh connection holds nothing: replay the whole desired set (§2.5, subscriptions vanish on close).
      active = new Map();
      const requests = planRequests(active, desired, { maxKeysPerRequest });
      sendRequests(ws, requests);
      logger.info(
        { keys: desired.size, requests: requests.length, reconnects },
        everConnected && reconnects > 0 ? 'feed reconnected' : 'feed connected',
      );
      state = 'CONNECTED';
      emit('status', status());
    });
    ws.on('ping', () => {
      life();
      lastDataAt = now();
    });
    ws.on('pong', life);
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (gen !== generation) return;
      const receivedAt = now();
      lastLifeAt = receivedAt;
      lastFrameAt = receivedAt;
      lastDataAt = receivedAt;
      if (!isBinary) {
        textFrames++; // Upstox sends none (§4.7); counted, ignored
        return;
      }
      if (recorder) {
        try {
          recorder.write(data, receivedAt);
        } catch (error) {
          logger.warn({ err: error }, 'frame recording failed; recording stopped');
          recorder = undefined;
        }
      }
      let result: DecodeResult;
      try {
        result = decoder.decode(data, receivedAt);
      } catch (error) {
        decodeErrors++;
        if (receivedAt - lastDecodeErrorLogAt >= 10_000) {
          lastDecodeErrorLogAt = receivedAt;
          logger.warn({ err: error, decodeErrors }, 'undecodable feed frame skipped');
        }
        return;
      }
      framesDecoded++;
      frameRate.add(1);
      attempt = 0; // the connection works: the next failure starts the backoff from the beginning
      if (result.kind === 'ticks') {
        const n = result.batch.updates.length;
        ticksDecoded += n;
        tickRate.add(n);
        if (n === 0) return;
        try {
          deliver(result.batch);
        } catch (error) {
          deliveryErrors++;
          if (receivedAt - lastDeliveryErrorLogAt >= 10_000) {
            lastDeliveryErrorLogAt = receivedAt;
            logger.warn({ err: error, deliveryErrors }, 'onBatch threw; batch skipped');
          }
        }
      } else {
        for (const segment of result.segments) segments.set(segment.segment, segment);
        emit('marketInfo', [...segments.values()]);
        emit('status', status());
      }
    });
    ws.on('error', (error) => {
      const message = scrub(error.message, urlSecrets);
      failure ??= new FeedConnectionError(
        ws.readyState === WebSocket.CONNECTING || connectedSince === null ? 'HANDSHAKE' : 'CLOSED',
        `feed socket error: ${message}`,
      );
      logger.debug({ reason: message }, 'feed socket error');
    });
    ws.on('close', (code, reason) => {
      clearTimers();
      if (socket === ws) socket = undefined;
      if (gen !== generation) return;
      const why = reason.length > 0 ? `: ${scrub(reason.toString('utf8'), urlSecrets).slice(0, 200)}` : '';
      handleFailure(
        failure ?? new FeedConnectionError('CLOSED', `feed socket closed with code ${code}${why}`, { closeCode: code }),
        gen,
      );
    });
  }

  async function doStop(): Promise<void> {
    const gen = ++generation;
    running = false;
    clearTimeout(retryTimer);
    retryTimer = undefined;
    authorizeAbort?.abort();
    authorizeAbort = undefined;
    const ws = socket;
    socket = undefined;
    if (ws && ws.readyState !== WebSocket.CLOSED) {
      const closed = once(ws, 'close').then(
        () => {},
        () => {},
      );
      if (ws.readyState === WebSocket.OPEN) ws.close(1000, 'client stopping');
      else ws.terminate();
      const timer = setTimeout(() => ws.terminate(), 2_000);
      await closed;
      clearTimeout(timer);
    }
    if (gen !== generation || running) return; // start() was called again while we were closing
    active = new Map();
    connectedSince = null;
    const rec = recorder;
    recorder = undefined;
    if (rec) {
      try {
        await rec.close();
      } catch (error) {
        logger.warn({ err: error }, 'closing the frame recording failed');
      }
    }
    if (gen === generation && !running) setState('STOPPED');
  }

  if (initialDesired) {
    validate(initialDesired);
    desired = new Map(initialDesired);
  }

  return {
    start() {
      if (running) return;
      running = true;
      stopping = undefined;
      attempt = 0;
      const gen = generation;
      if (recordTo && !recorder) recorder = createFrameRecorder(recordTo);
      setState('CONNECTING');
      void connect(gen);
    },
    stop() {
      stopping ??= doStop();
      return stopping;
    },
    status,
    on(event, listener) {
      const set = listeners[event] as Set<typeof listener>;
      set.add(listener);
      return () => {
        set.delete(listener);
      };
    },
    desired: () => desired,
    active: () => active,
    setDesired(next) {
      validate(next);
      const previous = desired;
      desired = new Map(next);
      for (const key of previous.keys()) if (!desired.has(key)) cache.delete(key);
      if (state === 'CONNECTED' && socket?.readyState === WebSocket.OPEN) {
        sendRequests(socket, planRequests(active, desired, { maxKeysPerRequest }));
      }
      emit('status', status());
    },
    setAccessToken(next) {
      if (next.length >= 4) secrets.add(next);
      token = next;
      if (state === 'UNAUTHORIZED' && running) {
        lastError = null;
        attempt = 0;
        setState('CONNECTING');
        void connect(generation);
      }
    },
  };
}
