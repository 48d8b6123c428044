/**
 * A raw `ws` client for the simulator's integration tests: no dependency on our feed client, frames decoded
 * with protobufjs reflection of proto/ directly (not through the simulator's own wire.ts).
 */
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { WebSocket } from 'ws';
import type { Simulator, SimulatorEvents } from '../../src/simulator/simulator.js';

const root = protobuf.loadSync(fileURLToPath(new URL('../../proto/MarketDataFeedV3.proto', import.meta.url)));
export const FeedResponseType = root.lookupType('com.upstox.marketdatafeederv3udapi.rpc.proto.FeedResponse');

export type Json = any;

/** Decodes a frame to JSON-like data: int64 as numbers, enums as names (or numbers), defaults left out. */
export function decodeFrame(bytes: Uint8Array, enums: 'names' | 'numbers' = 'names'): Json {
  const message = FeedResponseType.decode(bytes);
  return FeedResponseType.toObject(message, { longs: Number, enums: enums === 'names' ? String : undefined });
}

export function encodeFrame(object: Record<string, unknown>): Uint8Array {
  return FeedResponseType.encode(FeedResponseType.fromObject(object)).finish();
}

export interface ReceivedFrame {
  readonly bytes: Buffer;
  /** null when the bytes are not a FeedResponse (garbage fault). */
  readonly decoded: Json | null;
  readonly error: Error | null;
}

export interface RawFeedClient {
  readonly ws: WebSocket;
  readonly frames: ReceivedFrame[];
  pings: number;
  /** Resolves with the next not-yet-consumed frame matching `predicate` (frames before it are consumed too). */
  next(predicate?: (frame: ReceivedFrame) => boolean, timeoutMs?: number): Promise<ReceivedFrame>;
  /** Sends a request as a binary frame of UTF-8 JSON (what Upstox requires). */
  send(request: unknown): void;
  /** Sends the same JSON as a text frame (what Upstox ignores). */
  sendText(request: unknown): void;
  /** Resolves when the socket is closed, with the close code. */
  readonly closed: Promise<number>;
  close(): Promise<number>;
}

export function request(method: string, instrumentKeys: string[], mode?: string) {
  return {
    guid: `g-${Math.random().toString(36).slice(2)}`,
    method,
    data: mode ? { mode, instrumentKeys } : { instrumentKeys },
  };
}

/** Opens `url` and resolves once the socket is open. Rejects with the handshake error. */
export function openRawFeed(
  url: string,
  options: ConstructorParameters<typeof WebSocket>[2] = {},
): Promise<RawFeedClient> {
  const ws = new WebSocket(url, options);
  const frames: ReceivedFrame[] = [];
  let cursor = 0;
  const waiters = new Set<() => void>();
  let resolveClosed: (code: number) => void = () => undefined;
  const closed = new Promise<number>((resolve) => {
    resolveClosed = resolve;
  });
  const client: RawFeedClient = {
    ws,
    frames,
    pings: 0,
    next(predicate = () => true, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          while (cursor < frames.length) {
            const frame = frames[cursor++]!;
            if (predicate(frame)) {
              waiters.delete(check);
              clearTimeout(timer);
              resolve(frame);
              return;
            }
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no matching frame within ${timeoutMs} ms (${frames.length} frames received)`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    send(req) {
      ws.send(Buffer.from(JSON.stringify(req), 'utf8'), { binary: true });
    },
    sendText(req) {
      ws.send(JSON.stringify(req), { binary: false });
    },
    closed,
    close() {
      if (ws.readyState !== WebSocket.CLOSED) ws.close(1000);
      return closed;
    },
  };
  ws.on('message', (data: Buffer) => {
    let decoded: Json | null = null;
    let error: Error | null = null;
    try {
      decoded = decodeFrame(data);
    } catch (e) {
      error = e as Error;
    }
    frames.push({ bytes: data, decoded, error });
    for (const waiter of [...waiters]) waiter();
  });
  ws.on('ping', () => {
    client.pings++;
  });
  ws.on('close', (code) => resolveClosed(code));
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(client));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => {
      reject(
        Object.assign(new Error(`handshake refused: ${res.statusCode}`), {
          statusCode: res.statusCode,
          headers: res.headers,
        }),
      );
      res.resume();
      ws.terminate();
    });
    ws.on('error', () => undefined); // later errors surface through `closed`
  });
}

/** Resolves with the next `event` payload matching `predicate`. */
export function nextEvent<E extends keyof SimulatorEvents>(
  sim: Simulator,
  event: E,
  predicate: (payload: SimulatorEvents[E]) => boolean = () => true,
  timeoutMs = 15_000,
): Promise<SimulatorEvents[E]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no ${event} event within ${timeoutMs} ms`));
    }, timeoutMs);
    const off = sim.on(event, (payload) => {
      if (!predicate(payload)) return;
      clearTimeout(timer);
      off();
      resolve(payload);
    });
  });
}

/** Collects `count` matching events. */
export function collectEvents<E extends keyof SimulatorEvents>(
  sim: Simulator,
  event: E,
  count: number,
  predicate: (payload: SimulatorEvents[E]) => boolean = () => true,
  timeoutMs = 15_000,
): Promise<SimulatorEvents[E][]> {
  return new Promise((resolve, reject) => {
    const out: SimulatorEvents[E][] = [];
    const timer = setTimeout(() => {
      off();
      reject(new Error(`only ${out.length}/${count} ${event} events within ${timeoutMs} ms`));
    }, timeoutMs);
    const off = sim.on(event, (payload) => {
      if (!predicate(payload)) return;
      out.push(payload);
      if (out.length < count) return;
      clearTimeout(timer);
      off();
      resolve(out);
    });
  });
}

/** Authorizes with `token` and returns the feeder URL (throws on a non-200). */
export async function authorize(sim: Simulator, token = 'simulator-token'): Promise<string> {
  const res = await fetch(`${sim.url}/v3/feed/market-data-feed/authorize`, {
    headers: { Authorization: `Bearer ${token}`, Accept: 'application/json' },
  });
  if (res.status !== 200) throw new Error(`authorize answered ${res.status}`);
  const body = (await res.json()) as { data: { authorized_redirect_uri: string } };
  return body.data.authorized_redirect_uri;
}

/** Authorizes, connects, and waits for market_info. Registers the connection id. */
export async function connectFeed(
  sim: Simulator,
  token = 'simulator-token',
): Promise<{ client: RawFeedClient; id: string }> {
  const opened = nextEvent(sim, 'connection');
  const client = await openRawFeed(await authorize(sim, token));
  const { connectionId } = await opened;
  await client.next((f) => f.decoded?.type === 'market_info');
  return { client, id: connectionId };
}
