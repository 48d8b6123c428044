/**
 * An Upstox-compatible Market Data Feed V3 server for development, tests and benchmarks
 * (spec: shared/upstox-feed-v3.md §1, §2, §4, §10).
 *
 * One node:http server carries:
 * - `GET  /v3/feed/market-data-feed/authorize` — bearer check → single-use feeder URL (§1.1);
 * - `WS   /v3/feed/market-data-feed`          — bearer check → 307/302 to a fresh single-use feeder URL (§1.2);
 * - `WS   /market-data-feeder/v3/upstox-developer-api/feeds?requestId&code` — the feeder: no header needed, the
 *   code authenticates (ws drops Authorization on cross-host redirects); unknown/used/expired code → 403;
 * - `/_simulator/*` — a small control API for faults and status (unauthenticated: bind to loopback).
 *
 * On a feeder socket: `market_info` first; each binary `sub` gets a snapshot (type absent = initial_feed) for the
 * keys it added, then live frames (type 1) batched across instruments every `frameIntervalMs`, partial per key.
 * Text frames, unknown keys, over-cap keys and `full_d30` without Plus are ignored silently, as upstream does
 * (§4.7), but counted per connection. Pings go out when a socket has been idle for `pingIntervalMs`.
 *
 * Choices where upstream is undocumented (§4.6, [UNCONFIRMED]):
 * - `change_mode` (and a `sub` of an already-subscribed key in another mode, the Node SDK's way of changing mode,
 *   §2.4) sends a fresh snapshot of the moved keys in the new mode, so a client never holds a mix of modes;
 * - a key or mode change that would break a cap is refused, and keys already granted are never taken back
 *   (e.g. 3,000 ltpc keys, then a `full` key: the combined ltpc cap of 2,000 is already exceeded → refused);
 * - while stalled, snapshots and live frames are simply not sent (they are not queued for later);
 * - a socket whose send buffer is above `maxBufferedBytes` skips live frames (counted in `framesDropped`).
 *
 * Rate: each live frame steps a random sample of the subscribed keys (each key at most once per frame), so the
 * achievable rate is min(ticksPerSecond, keys × 1000 / frameIntervalMs). Measured on the 2-core dev VM under
 * load (simulator CPU time, client in another process): 50k ltpc ticks/s over 5,000 keys ≈ 14% of a core,
 * 18k full ticks/s over 2,000 keys ≈ 13%, 26k option_greeks ticks/s over 3,000 keys ≈ 14% — i.e. roughly
 * 340k ltpc, 140k full, 190k option_greeks ticks/s per core for model step + frame build + protobufjs encode.
 * A hand-written two-pass encoder was tried: byte-identical to protobufjs but no faster, so not kept.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse, STATUS_CODES } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocket, WebSocketServer } from 'ws';
import { type Logger, silentLogger } from '../logger.js';
import {
  AUTHORIZE_PATH,
  DIRECT_FEED_PATH,
  FEED_METHODS,
  FEEDER_PATH,
  type FeedMethod,
  type FeedMode,
  type FeedRequest,
  FRAME_TYPE,
  isFeedMode,
  KEY_CAPS,
  type MarketStatus,
  UPSTOX_ERROR,
  type UpstoxErrorBody,
} from '../upstox/protocol.js';
import { buildFeed, buildMarketInfo } from './frames.js';
import { createMarketModel, createPrng, type InstrumentSpec, istDayStart, type MarketModel } from './market-model.js';
import { assertRecording, readRecording } from './recording.js';
import { createFeedCodec, type WireFeed, type WireFeedResponse } from './wire.js';

export type FrameType = 'initial_feed' | 'live_feed' | 'market_info';
export type RefusableStatus = 401 | 429 | 500;

export interface SimulatorOptions {
  /** Interface to listen on. @default '127.0.0.1' */
  host?: string;
  /** TCP port; 0 picks a free one (read it back from `url`). @default 0 */
  port?: number;
  /** Bearer tokens the authorize and direct endpoints accept. @default ['simulator-token'] */
  accessTokens?: readonly string[];
  /** Instruments that exist; keys outside it are ignored silently. @default defaultUniverse() */
  universe?: readonly InstrumentSpec[];
  /** Total offered tick rate, spread over the union of subscribed keys (each key at most once per frame). @default 100 */
  ticksPerSecond?: number;
  /** Live frames are batched across instruments per interval, in ms. @default 100 */
  frameIntervalMs?: number;
  /** A socket that has sent nothing for this long gets a WS ping, in ms. @default 5_000 */
  pingIntervalMs?: number;
  /** Status of the direct endpoint's redirect (307 observed, 302 documented, §1.2). @default 307 */
  redirectStatus?: 302 | 307;
  /** Upstox Plus: enables `full_d30` (30 levels). Without it full_d30 subscriptions get nothing. @default false */
  plus?: boolean;
  /** Concurrent feeder sockets per token; one more is refused with 403. @default 2 */
  maxConnectionsPerToken?: number;
  /** Per-connection key caps (§2.5). Override only to test cap logic with small numbers. @default KEY_CAPS */
  keyCaps?: typeof KEY_CAPS;
  /** Lifetime of an authorized URL's code, in ms. @default 60_000 */
  codeTtlMs?: number;
  /** PRNG seed of the market model. @default 1 */
  seed?: number;
  /** Clock (epoch ms) for frame timestamps, the model and code expiry. @default Date.now */
  now?: () => number;
  /** @default silentLogger() */
  logger?: Logger;
  /**
   * Replay this recording (see recording.ts) instead of generating a market: every feeder connection gets the
   * whole file from its first frame with the original pacing, raw bytes (currentTs not restamped). Requests are
   * still parsed, counted and emitted but change nothing; no market_info or snapshots are generated (a recording
   * made from connect already starts with them).
   */
  replayFile?: string;
  /** Replay pace multiplier: 1 = original pacing, 10 = ten times faster. @default 1 */
  replaySpeed?: number;
  /** A socket whose unsent bytes exceed this skips live frames (counted in framesDropped). @default 16 MiB */
  maxBufferedBytes?: number;
  /** Segment statuses in `market_info`; unlisted segments are NORMAL_OPEN. @default {} */
  segmentStatus?: Partial<Record<string, MarketStatus>>;
}

export interface ConnectionInfo {
  readonly id: string;
  readonly subscriptions: ReadonlyMap<string, FeedMode>;
  /** Binary frames received (valid or not). */
  readonly requestsReceived: number;
  /** Binary frames that were not a valid request (bad JSON, unknown method or mode). */
  readonly requestsInvalid: number;
  /** Text frames, ignored as upstream does (§2.1). */
  readonly textFramesIgnored: number;
  /** Keys ignored: unknown, over a cap, or full_d30 without Plus. */
  readonly keysIgnored: number;
  readonly framesSent: number;
  /** Live frames skipped because the socket's send buffer was full. */
  readonly framesDropped: number;
}

export interface FrameEvent {
  readonly connectionId: string;
  readonly type: FrameType;
  /** Equal to the frame's `currentTs`. */
  readonly sentAt: number;
  /** The object that was encoded (for replayed frames: the decoded recording, `replayed` true). */
  readonly response: WireFeedResponse;
  readonly bytes: number;
  readonly replayed: boolean;
}

export interface SimulatorEvents {
  connection: { readonly connectionId: string };
  disconnect: { readonly connectionId: string; readonly code: number; readonly reason: string };
  /** A valid request, emitted after it was applied (and its snapshot sent). */
  request: { readonly connectionId: string; readonly request: FeedRequest };
  frame: FrameEvent;
  /** Every answer of the authorize endpoint and of the direct endpoint's handshake. */
  authorize: { readonly status: number; readonly endpoint: 'authorize' | 'direct' };
  /** One live-loop iteration (also while stalled): lets tests wait "a few frame intervals" without sleeping. */
  loop: { readonly at: number; readonly ticks: number; readonly stalled: boolean };
  'replay-end': { readonly connectionId: string; readonly frames: number; readonly error?: Error };
}

export interface SimulatorFaults {
  /** Terminates every feeder socket (no close frame: clients see 1006). */
  drop(): void;
  /** While on: no frames and no pings (sockets stay open). */
  stall(on: boolean): void;
  /** Sends `count` frames of random bytes that are not a valid FeedResponse to every feeder socket (no 'frame' event). */
  garbage(count?: number): void;
  /** The next `times` authorize/direct requests fail with `status` and an Upstox error envelope. */
  refuseAuthorize(status: RefusableStatus, times?: number): void;
  /** While on, the direct endpoint redirects to itself (clients hit their redirect limit). */
  redirectLoop(on: boolean): void;
  /** Delays handling of each client request by `delayMs` (order kept); 0 turns it off. */
  slowReader(delayMs: number): void;
  /** Clears every fault. */
  reset(): void;
  /** Current fault settings. */
  state(): FaultState;
}

export interface FaultState {
  readonly stalled: boolean;
  readonly refuse: { readonly status: RefusableStatus; readonly remaining: number } | null;
  readonly redirectLoop: boolean;
  readonly slowReaderMs: number;
}

export interface Simulator {
  start(): Promise<void>;
  /** Closes sockets (1001) and the server. Idempotent. */
  stop(): Promise<void>;
  /** HTTP base URL, e.g. `http://127.0.0.1:41234`. Throws before start(). */
  readonly url: string;
  /** Direct WS endpoint URL (`ws://…/v3/feed/market-data-feed`). Throws before start(). */
  readonly feedUrl: string;
  connections(): readonly ConnectionInfo[];
  on<E extends keyof SimulatorEvents>(event: E, listener: (payload: SimulatorEvents[E]) => void): () => void;
  readonly faults: SimulatorFaults;
  setAccessTokens(tokens: readonly string[]): void;
  setTicksPerSecond(ticksPerSecond: number): void;
  /**
   * Changes segment statuses (e.g. `{ NSE_EQ: 'CLOSING_END' }`) and pushes a fresh `market_info` frame to every
   * feeder socket, as upstream may on a session transition (§4.3, [UNCONFIRMED]). Later connections get it too.
   */
  setMarketStatus(statuses: Partial<Record<string, MarketStatus>>): void;
  instruments(): readonly InstrumentSpec[];
  /** The market model (read current prices with `model.state(key)` / `model.ltp(key)`). */
  readonly model: MarketModel;
}

export class SimulatorError extends Error {
  override name = 'SimulatorError';
}

interface Connection {
  readonly id: string;
  readonly ws: WebSocket;
  readonly token: string;
  readonly subscriptions: Map<string, FeedMode>;
  readonly counts: Record<FeedMode, number>;
  readonly abort: AbortController;
  requestsReceived: number;
  requestsInvalid: number;
  textFramesIgnored: number;
  keysIgnored: number;
  framesSent: number;
  framesDropped: number;
  lastSentAt: number;
  /** Serialises request handling (slow-reader delays keep order). */
  queue: Promise<void>;
  /** Canonical subscription string; connections with equal signatures share one encoded live frame. */
  signature: string | null;
}

const FRAME_TYPE_NAMES: Record<number, FrameType> = {
  [FRAME_TYPE.initial_feed]: 'initial_feed',
  [FRAME_TYPE.live_feed]: 'live_feed',
  [FRAME_TYPE.market_info]: 'market_info',
};

function errorBody(code: string, message: string): UpstoxErrorBody {
  return {
    status: 'error',
    errors: [
      {
        error_code: code,
        message,
        property_path: null,
        invalid_value: null,
        errorCode: code,
        propertyPath: null,
        invalidValue: null,
      },
    ],
  };
}

// Error envelopes per refusal status. 401/429 codes are documented (§1.1); the 500 code is an assumption.
const REFUSAL_BODIES: Record<RefusableStatus, UpstoxErrorBody> = {
  401: errorBody(UPSTOX_ERROR.INVALID_TOKEN, 'Invalid token used to access API'),
  429: errorBody(UPSTOX_ERROR.TOO_MANY_REQUESTS, 'Too Many Request Sent'),
  500: errorBody('UDAPI100500', 'Something went wrong. Please try again later'),
};

function bearerOf(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

/** Writes a complete HTTP response onto a raw upgrade socket and closes it. */
function refuseUpgrade(socket: Duplex, status: number, body?: object, headers: Record<string, string> = {}): undefined {
  const payload = body ? JSON.stringify(body) : '';
  const lines = [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}`, 'Connection: close'];
  if (body) lines.push('Content-Type: application/json');
  lines.push(`Content-Length: ${Buffer.byteLength(payload)}`);
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  if (socket.writable) socket.end(`${lines.join('\r\n')}\r\n\r\n${payload}`);
  else socket.destroy();
}

function sendJson(res: ServerResponse, status: number, body: unknown): undefined {
  const payload = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) });
  res.end(payload);
}

/** Parses one client request (§2.2); returns null for anything that is not a well-formed request. */
export function parseFeedRequest(bytes: Buffer): FeedRequest | null {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const { guid, method, data } = value as { guid?: unknown; method?: unknown; data?: unknown };
  if (typeof method !== 'string' || !(FEED_METHODS as readonly string[]).includes(method)) return null;
  if (typeof data !== 'object' || data === null) return null;
  const { mode, instrumentKeys } = data as { mode?: unknown; instrumentKeys?: unknown };
  if (!Array.isArray(instrumentKeys) || !instrumentKeys.every((k) => typeof k === 'string')) return null;
  if (mode !== undefined && !isFeedMode(mode)) return null;
  return {
    guid: typeof guid === 'string' ? guid : '',
    method: method as FeedMethod,
    data: mode === undefined ? { instrumentKeys } : { mode, instrumentKeys },
  };
}

export function createSimulator({
  host = '127.0.0.1',
  port = 0,
  accessTokens = ['simulator-token'],
  universe,
  ticksPerSecond = 100,
  frameIntervalMs = 100,
  pingIntervalMs = 5_000,
  redirectStatus = 307,
  plus = false,
  maxConnectionsPerToken = 2,
  keyCaps = KEY_CAPS,
  codeTtlMs = 60_000,
  seed = 1,
  now = Date.now,
  logger = silentLogger(),
  replayFile,
  replaySpeed = 1,
  maxBufferedBytes = 16 * 1024 * 1024,
  segmentStatus = {},
}: SimulatorOptions = {}): Simulator {
  if (!(replaySpeed > 0)) throw new SimulatorError(`replaySpeed must be > 0, got ${replaySpeed}`);
  if (!(frameIntervalMs > 0)) throw new SimulatorError(`frameIntervalMs must be > 0, got ${frameIntervalMs}`);
  const log = logger.child({ component: 'simulator' });
  const codec = createFeedCodec();
  const model = createMarketModel({ universe, seed, now });
  // Which keys tick in a frame, and garbage bytes: seeded too, so a run's choices follow from its seed.
  const random = createPrng((seed ^ 0x5bd1e995) >>> 0);
  let tokens = new Set(accessTokens);
  const marketStatus: Partial<Record<string, MarketStatus>> = { ...segmentStatus };
  let rate = Math.max(0, ticksPerSecond);

  const listeners = new Map<keyof SimulatorEvents, Set<(payload: never) => void>>();
  const connections = new Map<string, Connection>();
  /** code → token and expiry; a code is deleted on first use. */
  const codes = new Map<string, { token: string; expiresAt: number }>();
  let connectionSeq = 0;

  const faultState = {
    stalled: false,
    refuse: null as { status: RefusableStatus; remaining: number } | null,
    redirectLoop: false,
    slowReaderMs: 0,
  };

  let server: Server | undefined;
  let wss: WebSocketServer | undefined;
  let loopTimer: NodeJS.Timeout | undefined;
  let baseUrl: string | undefined;
  let starting: Promise<void> | undefined;
  let stopping: Promise<void> | undefined;

  // Live-loop state.
  let lastLoopAt = 0;
  let credit = 0;
  let union: string[] = [];
  let unionDirty = true;

  function emit<E extends keyof SimulatorEvents>(event: E, payload: SimulatorEvents[E]): void {
    const set = listeners.get(event);
    if (!set) return;
    for (const listener of set) {
      try {
        (listener as (p: SimulatorEvents[E]) => void)(payload);
      } catch (error) {
        // A throwing test listener must not kill the live loop.
        log.error({ err: error, event }, 'simulator listener threw');
      }
    }
  }

  function hasListeners(event: keyof SimulatorEvents): boolean {
    return (listeners.get(event)?.size ?? 0) > 0;
  }

  function takeRefusal(): RefusableStatus | null {
    const refuse = faultState.refuse;
    if (!refuse || refuse.remaining <= 0) return null;
    refuse.remaining--;
    if (refuse.remaining <= 0) faultState.refuse = null;
    return refuse.status;
  }

  function issueFeederUrl(token: string, hostHeader: string | undefined): string {
    const t = now();
    for (const [code, entry] of codes) if (entry.expiresAt <= t) codes.delete(code);
    const code = randomUUID();
    codes.set(code, { token, expiresAt: t + codeTtlMs });
    const authority = hostHeader ?? new URL(requireUrl()).host;
    return `ws://${authority}${FEEDER_PATH}?requestId=${randomUUID()}&code=${code}`;
  }

  function requireUrl(): string {
    if (!baseUrl) throw new SimulatorError('simulator is not started');
    return baseUrl;
  }

  // ---- HTTP: authorize + control API ----------------------------------------------------------------------

  /**
   * The bearer check shared by the authorize and direct-connect endpoints: the caller's token, or the status to
   * refuse with (401 for a missing or unknown token, else an injected refusal), announced as an 'authorize' event.
   */
  function admit(req: IncomingMessage, endpoint: 'authorize' | 'direct'): { token: string } | RefusableStatus {
    const token = bearerOf(req);
    const refused = !token || !tokens.has(token) ? 401 : takeRefusal();
    if (refused) {
      emit('authorize', { status: refused, endpoint });
      return refused;
    }
    return { token: token! };
  }

  function handleHttp(req: IncomingMessage, res: ServerResponse): undefined {
    const url = new URL(req.url ?? '/', 'http://simulator');
    if (url.pathname === AUTHORIZE_PATH) {
      if (req.method !== 'GET') return sendJson(res, 405, errorBody('UDAPI1000', `method ${req.method} not allowed`));
      const admitted = admit(req, 'authorize');
      if (typeof admitted === 'number') return sendJson(res, admitted, REFUSAL_BODIES[admitted]);
      const uri = issueFeederUrl(admitted.token, req.headers.host);
      emit('authorize', { status: 200, endpoint: 'authorize' });
      return sendJson(res, 200, {
        status: 'success',
        data: { authorized_redirect_uri: uri, authorizedRedirectUri: uri },
      });
    }
    if (url.pathname.startsWith('/_simulator/')) return handleControl(req, res, url);
    sendJson(res, 404, errorBody('UDAPI100060', `no route for ${req.method} ${url.pathname}`));
  }

  function handleControl(req: IncomingMessage, res: ServerResponse, url: URL): undefined {
    const route = url.pathname.slice('/_simulator/'.length);
    const q = url.searchParams;
    const bad = (message: string): undefined => sendJson(res, 400, { status: 'error', message });
    const flag = (name: string): boolean | null => {
      const v = q.get(name) ?? '1';
      if (['1', 'true', 'on'].includes(v)) return true;
      if (['0', 'false', 'off'].includes(v)) return false;
      return null;
    };
    if (route === 'status') {
      if (req.method !== 'GET') return sendJson(res, 405, { status: 'error', message: 'use GET' });
      return sendJson(res, 200, status());
    }
    if (req.method !== 'POST') return sendJson(res, 405, { status: 'error', message: 'use POST' });
    switch (route) {
      case 'faults/drop':
        faults.drop();
        break;
      case 'faults/stall': {
        const on = flag('on');
        if (on === null) return bad('on must be 1 or 0');
        faults.stall(on);
        break;
      }
      case 'faults/garbage': {
        const count = Number(q.get('count') ?? '1');
        if (!Number.isInteger(count) || count < 1 || count > 1000) return bad('count must be an integer 1..1000');
        faults.garbage(count);
        break;
      }
      case 'faults/refuse-authorize': {
        const statusCode = Number(q.get('status'));
        if (statusCode !== 401 && statusCode !== 429 && statusCode !== 500)
          return bad('status must be 401, 429 or 500');
        const timesRaw = q.get('times');
        const times = timesRaw === null ? Number.POSITIVE_INFINITY : Number(timesRaw);
        if (!(times >= 1)) return bad('times must be a positive number');
        faults.refuseAuthorize(statusCode, times);
        break;
      }
      case 'faults/redirect-loop': {
        const on = flag('on');
        if (on === null) return bad('on must be 1 or 0');
        faults.redirectLoop(on);
        break;
      }
      case 'faults/slow-reader': {
        const ms = Number(q.get('ms'));
        if (!Number.isFinite(ms) || ms < 0) return bad('ms must be a number ≥ 0');
        faults.slowReader(ms);
        break;
      }
      case 'faults/reset':
        faults.reset();
        break;
      case 'rate': {
        const n = Number(q.get('ticksPerSecond'));
        if (!Number.isFinite(n) || n < 0) return bad('ticksPerSecond must be a number ≥ 0');
        rate = n;
        break;
      }
      default:
        return sendJson(res, 404, { status: 'error', message: `unknown control route ${route}` });
    }
    sendJson(res, 200, status());
  }

  function status() {
    const f = faults.state();
    return {
      status: 'success',
      url: baseUrl ?? null,
      ticksPerSecond: rate,
      frameIntervalMs,
      plus,
      replay: replayFile ? { file: replayFile, speed: replaySpeed } : null,
      instruments: model.instruments().length,
      faults: {
        ...f,
        refuse: f.refuse
          ? {
              status: f.refuse.status,
              // JSON has no Infinity.
              remaining: Number.isFinite(f.refuse.remaining) ? f.refuse.remaining : 'unlimited',
            }
          : null,
      },
      connections: [...connections.values()].map((c) => {
        const byMode: Record<string, number> = {};
        for (const [mode, n] of Object.entries(c.counts)) if (n > 0) byMode[mode] = n;
        return {
          id: c.id,
          subscriptions: byMode,
          requestsReceived: c.requestsReceived,
          requestsInvalid: c.requestsInvalid,
          textFramesIgnored: c.textFramesIgnored,
          keysIgnored: c.keysIgnored,
          framesSent: c.framesSent,
          framesDropped: c.framesDropped,
        };
      }),
    };
  }

  // ---- Upgrades: direct endpoint (redirect) and feeder -----------------------------------------------------

  function handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): undefined {
    socket.on('error', (error) => log.debug({ err: error }, 'upgrade socket error'));
    const url = new URL(req.url ?? '/', 'http://simulator');
    if (url.pathname === DIRECT_FEED_PATH) {
      const admitted = admit(req, 'direct');
      if (typeof admitted === 'number') return refuseUpgrade(socket, admitted, REFUSAL_BODIES[admitted]);
      const location = faultState.redirectLoop
        ? `ws://${req.headers.host}${DIRECT_FEED_PATH}`
        : issueFeederUrl(admitted.token, req.headers.host);
      emit('authorize', { status: redirectStatus, endpoint: 'direct' });
      return refuseUpgrade(socket, redirectStatus, undefined, { Location: location });
    }
    if (url.pathname === FEEDER_PATH) {
      const code = url.searchParams.get('code') ?? '';
      const entry = codes.get(code);
      codes.delete(code); // single use, even when refused below
      if (!entry || entry.expiresAt <= now()) {
        log.info('feeder handshake refused: unknown, used or expired code');
        return refuseUpgrade(socket, 403, errorBody('UDAPI100050', 'Invalid or expired feed authorization code'));
      }
      let open = 0;
      for (const c of connections.values()) if (c.token === entry.token) open++;
      if (open >= maxConnectionsPerToken) {
        log.info({ open, maxConnectionsPerToken }, 'feeder handshake refused: connection limit');
        return refuseUpgrade(socket, 403, errorBody('UDAPI100073', 'Maximum connection limit reached'));
      }
      wss!.handleUpgrade(req, socket, head, (ws) => onFeederOpen(ws, entry.token));
      return;
    }
    refuseUpgrade(socket, 404, errorBody('UDAPI100060', `no WebSocket endpoint at ${url.pathname}`));
  }

  // ---- Feeder sockets ----------------------------------------------------------------------------------------

  function onFeederOpen(ws: WebSocket, token: string): void {
    const conn: Connection = {
      id: `c${++connectionSeq}`,
      ws,
      token,
      subscriptions: new Map(),
      counts: { ltpc: 0, option_greeks: 0, full: 0, full_d30: 0 },
      abort: new AbortController(),
      requestsReceived: 0,
      requestsInvalid: 0,
      textFramesIgnored: 0,
      keysIgnored: 0,
      framesSent: 0,
      framesDropped: 0,
      lastSentAt: now(),
      queue: Promise.resolve(),
      signature: '',
    };
    connections.set(conn.id, conn);
    log.info({ connectionId: conn.id }, 'feeder connection opened');
    ws.on('message', (data, isBinary) => onMessage(conn, data as Buffer, isBinary));
    ws.on('error', (error) => log.warn({ err: error, connectionId: conn.id }, 'feeder socket error'));
    ws.on('close', (code, reason) => {
      conn.abort.abort();
      connections.delete(conn.id);
      if (conn.subscriptions.size > 0) unionDirty = true;
      log.info({ connectionId: conn.id, code }, 'feeder connection closed');
      emit('disconnect', { connectionId: conn.id, code, reason: reason.toString() });
    });
    emit('connection', { connectionId: conn.id });
    if (replayFile) {
      void replay(conn, replayFile);
      return;
    }
    // market_info first, right after open (§4.3).
    const t = now();
    sendResponse(conn, buildMarketInfo(t, istDayStart(t), { segmentStatus: marketStatus }), false);
  }

  function onMessage(conn: Connection, data: Buffer, isBinary: boolean): void {
    if (!isBinary) {
      // Upstox ignores JSON sent as a text frame (§2.1): no error, no data.
      conn.textFramesIgnored++;
      log.debug({ connectionId: conn.id }, 'text frame ignored');
      return;
    }
    conn.requestsReceived++;
    const delay = faultState.slowReaderMs;
    conn.queue = conn.queue.then(async () => {
      if (delay > 0) await sleep(delay, undefined, { signal: conn.abort.signal }).catch(() => undefined);
      if (conn.abort.signal.aborted) return;
      try {
        handleRequest(conn, data);
      } catch (error) {
        // A simulator bug must neither break this connection's request chain nor surface as an unhandled rejection.
        log.error({ err: error, connectionId: conn.id }, 'feed request handling failed');
      }
    });
  }

  function fitsCaps(conn: Connection, key: string, mode: FeedMode): boolean {
    const counts = { ...conn.counts };
    const old = conn.subscriptions.get(key);
    if (old) counts[old]--;
    counts[mode]++;
    const inUse = (Object.keys(counts) as FeedMode[]).filter((m) => counts[m] > 0);
    const combined = inUse.length > 1;
    return inUse.every((m) => counts[m] <= (combined ? keyCaps[m].combined : keyCaps[m].individual));
  }

  function assign(conn: Connection, key: string, mode: FeedMode): void {
    const old = conn.subscriptions.get(key);
    if (old) conn.counts[old]--;
    conn.counts[mode]++;
    conn.subscriptions.set(key, mode);
  }

  function handleRequest(conn: Connection, data: Buffer): void {
    const request = parseFeedRequest(data);
    if (!request) {
      conn.requestsInvalid++;
      log.warn({ connectionId: conn.id, bytes: data.length }, 'invalid feed request ignored');
      return;
    }
    if (!replayFile) applyRequest(conn, request); // a replay plays the recording whatever is asked
    // After applying, so a listener sees the effect (subscriptions, counters, the snapshot already sent).
    emit('request', { connectionId: conn.id, request });
  }

  function applyRequest(conn: Connection, request: FeedRequest): void {
    const keys = request.data.instrumentKeys;
    const before = conn.subscriptions.size;
    const snapshot: string[] = [];
    let changed = false;
    if (request.method === 'unsub') {
      for (const key of keys) {
        const old = conn.subscriptions.get(key);
        if (!old) continue;
        conn.subscriptions.delete(key);
        conn.counts[old]--;
        changed = true;
      }
    } else {
      const mode: FeedMode | undefined = request.data.mode ?? (request.method === 'sub' ? 'ltpc' : undefined);
      if (!mode) {
        conn.requestsInvalid++; // change_mode needs a mode
        return;
      }
      if (mode === 'full_d30' && !plus) {
        // Not entitled: market_info was sent, and nothing else ever comes for these keys (§2.3).
        conn.keysIgnored += keys.length;
        return;
      }
      for (const key of keys) {
        const current = conn.subscriptions.get(key);
        if (!model.has(key) || (request.method === 'change_mode' && !current)) {
          conn.keysIgnored++;
          continue;
        }
        if (current === mode) continue;
        if (!fitsCaps(conn, key, mode)) {
          conn.keysIgnored++;
          continue;
        }
        assign(conn, key, mode);
        snapshot.push(key);
        changed = true;
      }
      if (snapshot.length > 0) sendSnapshot(conn, snapshot, mode);
    }
    if (changed) {
      conn.signature = null;
      unionDirty = true;
    }
    log.debug(
      { connectionId: conn.id, method: request.method, keys: keys.length, before, after: conn.subscriptions.size },
      'feed request handled',
    );
  }

  function sendSnapshot(conn: Connection, keys: readonly string[], mode: FeedMode): void {
    if (faultState.stalled) return;
    const feeds: Record<string, WireFeed> = {};
    for (const key of keys) {
      const feed = buildFeed(model, key, mode, -1);
      if (feed) feeds[key] = feed;
    }
    // type initial_feed (0) is left out: proto3 does not write defaults, so it is absent on the wire (§3.4).
    sendResponse(conn, { feeds, currentTs: now() }, false);
  }

  /** Encodes and sends one frame to one connection; returns whether it was sent. */
  function sendResponse(conn: Connection, response: WireFeedResponse, droppable: boolean): boolean {
    const bytes = codec.encode(response);
    return sendBytes(conn, bytes, response, droppable);
  }

  function sendBytes(
    conn: Connection,
    bytes: Uint8Array,
    response: WireFeedResponse,
    droppable: boolean,
    replayed = false,
  ): boolean {
    if (conn.ws.readyState !== WebSocket.OPEN) return false;
    if (droppable && conn.ws.bufferedAmount > maxBufferedBytes) {
      conn.framesDropped++;
      return false;
    }
    conn.ws.send(bytes, { binary: true });
    conn.framesSent++;
    conn.lastSentAt = now();
    if (hasListeners('frame')) {
      emit('frame', {
        connectionId: conn.id,
        type: FRAME_TYPE_NAMES[response.type ?? 0] ?? 'live_feed',
        sentAt: response.currentTs,
        response,
        bytes: bytes.byteLength,
        replayed,
      });
    }
    return true;
  }

  // ---- Live loop -----------------------------------------------------------------------------------------------

  function loop(): void {
    const t = now();
    const elapsed = Math.min(1_000, Math.max(0, t - lastLoopAt));
    lastLoopAt = t;
    if (faultState.stalled) {
      emit('loop', { at: t, ticks: 0, stalled: true });
      return;
    }
    for (const conn of connections.values()) {
      if (t - conn.lastSentAt >= pingIntervalMs && conn.ws.readyState === WebSocket.OPEN) {
        conn.ws.ping();
        conn.lastSentAt = t;
      }
    }
    const ticks = replayFile ? 0 : liveFrames(elapsed);
    emit('loop', { at: t, ticks, stalled: false });
  }

  function liveFrames(elapsedMs: number): number {
    if (unionDirty) {
      const all = new Set<string>();
      for (const c of connections.values()) for (const key of c.subscriptions.keys()) all.add(key);
      union = [...all];
      unionDirty = false;
    }
    if (union.length === 0) {
      credit = 0;
      return 0;
    }
    credit += (rate * elapsedMs) / 1_000;
    const due = Math.min(Math.floor(credit), union.length);
    credit = Math.min(credit - due, union.length);
    if (due === 0) return 0;
    // Partial Fisher–Yates: the first `due` entries become a uniform random sample without replacement.
    const changes = new Map<string, number>();
    for (let i = 0; i < due; i++) {
      const j = i + Math.floor(random() * (union.length - i));
      const key = union[j]!;
      union[j] = union[i]!;
      union[i] = key;
      changes.set(key, model.step(key));
    }
    // Connections with identical subscriptions share one FeedResponse and one encoding.
    const groups = new Map<string, Connection[]>();
    for (const conn of connections.values()) {
      if (conn.subscriptions.size === 0 || conn.ws.readyState !== WebSocket.OPEN) continue;
      conn.signature ??= signatureOf(conn);
      const group = groups.get(conn.signature);
      if (group) group.push(conn);
      else groups.set(conn.signature, [conn]);
    }
    const shared = groups.size > 1 ? new Map<string, WireFeed | undefined>() : undefined;
    for (const group of groups.values()) {
      const subs = group[0]!.subscriptions;
      const feeds: Record<string, WireFeed> = {};
      let n = 0;
      for (const [key, change] of changes) {
        const mode = subs.get(key);
        if (!mode) continue;
        let feed: WireFeed | undefined;
        if (shared) {
          const cacheKey = `${mode}\u0000${key}`;
          if (shared.has(cacheKey)) feed = shared.get(cacheKey);
          else {
            feed = buildFeed(model, key, mode, change);
            shared.set(cacheKey, feed);
          }
        } else {
          feed = buildFeed(model, key, mode, change);
        }
        if (feed) {
          feeds[key] = feed;
          n++;
        }
      }
      if (n === 0) continue;
      const response: WireFeedResponse = { type: FRAME_TYPE.live_feed, feeds, currentTs: now() };
      const bytes = codec.encode(response);
      for (const conn of group) sendBytes(conn, bytes, response, true);
    }
    return due;
  }

  function signatureOf(conn: Connection): string {
    const parts: string[] = [];
    for (const [key, mode] of conn.subscriptions) parts.push(`${key}\u0000${mode}`);
    return parts.sort().join('\u0001');
  }

  // ---- Replay ----------------------------------------------------------------------------------------------------

  async function replay(conn: Connection, file: string): Promise<void> {
    let frames = 0;
    const signal = conn.abort.signal;
    try {
      const startedAt = performance.now();
      let firstTs: number | undefined;
      for await (const frame of readRecording(file)) {
        if (signal.aborted) break;
        firstTs ??= frame.receivedAt;
        const due = startedAt + (frame.receivedAt - firstTs) / replaySpeed;
        const wait = due - performance.now();
        if (wait > 1) await sleep(wait, undefined, { signal });
        if (faultState.stalled) continue;
        // Raw bytes as recorded: currentTs is the original one (not restamped). Decoding only feeds the event.
        let response: WireFeedResponse = { currentTs: 0 };
        if (hasListeners('frame')) {
          try {
            response = codec.decodeWire(frame.bytes);
          } catch {
            // A recorded frame that does not decode (e.g. captured garbage) is still replayed byte for byte.
          }
        }
        if (sendBytes(conn, frame.bytes, response, false, true)) frames++;
      }
      emit('replay-end', { connectionId: conn.id, frames });
    } catch (error) {
      if (signal.aborted) return;
      log.error({ err: error, connectionId: conn.id }, 'replay failed');
      emit('replay-end', { connectionId: conn.id, frames, error: error as Error });
    }
  }

  // ---- Faults ------------------------------------------------------------------------------------------------------

  const faults: SimulatorFaults = {
    drop() {
      log.info({ connections: connections.size }, 'fault: dropping all feeder sockets');
      for (const conn of connections.values()) conn.ws.terminate();
    },
    stall(on) {
      faultState.stalled = on;
    },
    garbage(count = 1) {
      for (let i = 0; i < count; i++) {
        // 0x0f = field 1 with wire type 7, which does not exist: no protobuf decoder accepts this frame.
        const bytes = Buffer.alloc(16 + Math.floor(random() * 48));
        for (let b = 1; b < bytes.length; b++) bytes[b] = Math.floor(random() * 256);
        bytes[0] = 0x0f;
        for (const conn of connections.values()) {
          if (conn.ws.readyState !== WebSocket.OPEN) continue;
          conn.ws.send(bytes, { binary: true });
          conn.lastSentAt = now();
        }
      }
    },
    refuseAuthorize(statusCode, times = Number.POSITIVE_INFINITY) {
      faultState.refuse = { status: statusCode, remaining: times };
    },
    redirectLoop(on) {
      faultState.redirectLoop = on;
    },
    slowReader(delayMs) {
      faultState.slowReaderMs = Math.max(0, delayMs);
    },
    reset() {
      faultState.stalled = false;
      faultState.refuse = null;
      faultState.redirectLoop = false;
      faultState.slowReaderMs = 0;
    },
    state: () => ({
      stalled: faultState.stalled,
      refuse: faultState.refuse ? { ...faultState.refuse } : null,
      redirectLoop: faultState.redirectLoop,
      slowReaderMs: faultState.slowReaderMs,
    }),
  };

  // ---- Lifecycle -------------------------------------------------------------------------------------------------

  async function doStart(): Promise<void> {
    if (replayFile) {
      await assertRecording(replayFile).catch((error: Error) => {
        throw new SimulatorError(`replay file unusable: ${error.message}`, { cause: error });
      });
    }
    wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 4 * 1024 * 1024 });
    server = createServer(handleHttp);
    server.on('upgrade', handleUpgrade);
    await new Promise<void>((resolve, reject) => {
      server!.once('error', reject);
      server!.listen(port, host, () => {
        server!.off('error', reject);
        resolve();
      });
    });
    const address = server.address() as AddressInfo;
    const advertised = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
    baseUrl = `http://${advertised}:${address.port}`;
    lastLoopAt = now();
    loopTimer = setInterval(loop, frameIntervalMs);
    log.info({ url: baseUrl, replay: Boolean(replayFile) }, 'simulator listening');
  }

  async function doStop(): Promise<void> {
    if (starting) await starting.catch(() => undefined);
    if (loopTimer) clearInterval(loopTimer);
    for (const conn of connections.values()) {
      conn.abort.abort();
      conn.ws.close(1001, 'simulator stopping');
    }
    // Give close frames a moment, then cut whatever is left.
    const closing = [...connections.values()].map(
      (c) =>
        new Promise<void>((resolve) =>
          c.ws.readyState === WebSocket.CLOSED ? resolve() : c.ws.once('close', () => resolve()),
        ),
    );
    await Promise.race([Promise.all(closing), sleep(500)]);
    for (const conn of connections.values()) conn.ws.terminate();
    wss?.close();
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server!.close(() => resolve()));
    }
    listeners.clear();
  }

  return {
    start() {
      if (stopping) return Promise.reject(new SimulatorError('simulator was stopped; create a new one'));
      starting ??= doStart();
      return starting;
    },
    stop() {
      stopping ??= doStop();
      return stopping;
    },
    get url() {
      return requireUrl();
    },
    get feedUrl() {
      return `${requireUrl().replace(/^http/, 'ws')}${DIRECT_FEED_PATH}`;
    },
    connections: () =>
      [...connections.values()].map((c) => ({
        id: c.id,
        subscriptions: new Map(c.subscriptions),
        requestsReceived: c.requestsReceived,
        requestsInvalid: c.requestsInvalid,
        textFramesIgnored: c.textFramesIgnored,
        keysIgnored: c.keysIgnored,
        framesSent: c.framesSent,
        framesDropped: c.framesDropped,
      })),
    on(event, listener) {
      let set = listeners.get(event);
      if (!set) {
        set = new Set();
        listeners.set(event, set);
      }
      set.add(listener as (payload: never) => void);
      return () => {
        set.delete(listener as (payload: never) => void);
      };
    },
    faults,
    setAccessTokens(next) {
      tokens = new Set(next);
    },
    setMarketStatus(statuses) {
      Object.assign(marketStatus, statuses);
      if (replayFile || faultState.stalled) return;
      const t = now();
      const frame = buildMarketInfo(t, istDayStart(t), { segmentStatus: marketStatus });
      for (const conn of connections.values()) sendResponse(conn, frame, false);
    },
    setTicksPerSecond(n) {
      if (!(n >= 0)) throw new SimulatorError(`ticksPerSecond must be ≥ 0, got ${n}`);
      rate = n;
    },
    instruments: () => model.instruments(),
    model,
  };
}
