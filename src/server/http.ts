/**
 * One node:http server for everything: graphql-yoga at /graphql (POST, GET, SSE subscriptions, GraphiQL),
 * graphql-ws on the same path (upgrade), /health, /ready and the REST compatibility endpoints of the
 * original service under /api/v1/websocket/*, which run GraphQL operations through yoga (same auth, limits
 * and masking as any client).
 */
import {
  createServer as createHttpServer,
  type Server as HttpServer,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { useCSRFPrevention } from '@graphql-yoga/plugin-csrf-prevention';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import type { GraphQLSchema } from 'graphql';
import { createYoga, maskError, type YogaLogger } from 'graphql-yoga';
import type { AppServices, GraphQLContext } from '../graphql/context.js';
import type { Logger } from '../logger.js';
import { type AuthOptions, createAuthenticator, keyFromHeaders, useAuthorization } from './auth.js';
import { GRAPHIQL_TABS } from './graphiql.js';
import { resolveLimits, type ServerLimits, useDocumentLimits } from './limits.js';
import { useSecretScrubbing, withoutSecrets } from './secrets.js';
import { createGraphQLWebSocketServer } from './ws.js';

export interface ReadyState {
  readonly ready: boolean;
  /** Why not ready (empty when ready), e.g. `database unreachable`, `shutting down`. */
  readonly reasons: readonly string[];
}

export interface ServerOptions {
  /** The executable schema (graphql/schema buildSchema()). */
  readonly schema: GraphQLSchema;
  /** What resolvers use: feed, cache, bus, store, instrument service, counters. */
  readonly services: AppServices;
  /** API keys; with none configured the API is open. @default {} */
  readonly auth?: AuthOptions;
  /** Document-shape and per-request limits; every refusal is a coded error. @default see ServerLimits */
  readonly limits?: ServerLimits;
  /** Component logger; unexpected (masked) errors are logged here with their cause. */
  readonly logger: Logger;
  /** Readiness for /ready (DB reachable, migrations applied, not shutting down). @default always ready */
  readonly isReady?: () => ReadyState | Promise<ReadyState>;
  /** Serve GraphiQL on GET /graphql from a browser. @default true */
  readonly graphiql?: boolean;
  /** graphql-ws keep-alive ping interval, ms (0 disables). @default 12_000 */
  readonly wsKeepAliveMs?: number;
  /**
   * How long close() waits for WebSocket closing handshakes before terminating the sockets (a client that
   * stopped reading never answers), ms. @default 2_000
   */
  readonly wsCloseTimeoutMs?: number;
  /**
   * Largest accepted request body by its Content-Length, bytes; larger requests get 413 before any parsing
   * (5,000 instrument keys as variables are about 120 kB). Also the graphql-ws message limit. @default 1_048_576
   */
  readonly maxBodyBytes?: number;
  /**
   * Values never to return (Upstox token, API keys, DB passwords): scrubbed from every error message and
   * extension on every transport, even when a client sends one back as an argument. @default []
   */
  readonly secrets?: readonly string[];
}

export interface Server {
  /** Listens; port 0 picks a free port. Resolves with the bound port. */
  listen(port: number, host?: string): Promise<{ port: number }>;
  /** Closes every graphql-ws socket with `code` (1001 Going Away by default) and waits, bounded. */
  closeWebSockets(code?: number): Promise<void>;
  /** WebSockets closed with 1001, then SSE streams and HTTP connections closed. Idempotent. */
  close(): Promise<void>;
  readonly httpServer: HttpServer;
}

const GRAPHQL_PATH = '/graphql';

function yogaLogger(logger: Logger): YogaLogger {
  const text = (args: unknown[]) => args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ');
  return {
    debug: (...args) => logger.debug(text(args)),
    info: (...args) => logger.info(text(args)),
    warn: (...args) => logger.warn(text(args)),
    error: (...args) => logger.error(text(args)),
  };
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(payload);
}

export function createServer({
  schema,
  services,
  auth = {},
  limits: limitOptions,
  logger,
  isReady = () => ({ ready: true, reasons: [] }),
  graphiql = true,
  wsKeepAliveMs = 12_000,
  wsCloseTimeoutMs = 2_000,
  maxBodyBytes = 1_048_576,
  secrets = [],
}: ServerOptions): Server {
  const limits = resolveLimits(limitOptions);
  const authenticator = createAuthenticator(auth);
  let closing: Promise<void> | undefined;

  const yoga = createYoga<{ req?: IncomingMessage; auth?: GraphQLContext['auth'] }, GraphQLContext>({
    schema,
    graphqlEndpoint: GRAPHQL_PATH,
    logging: yogaLogger(logger),
    landingPage: false,
    // Self-contained GraphiQL (assets inlined): works offline and behind firewalls that block CDNs.
    renderGraphiQL,
    graphiql: graphiql && {
      title: 'tickgraph',
      subscriptionsProtocol: 'WS',
      defaultTabs: GRAPHIQL_TABS,
    },
    maskedErrors: {
      maskError: (error, message) => {
        const masked = maskError(error, message, false);
        if (masked !== error)
          logger.error(
            { err: (error as { originalError?: unknown }).originalError ?? error },
            'unexpected error (masked for the client)',
          );
        return withoutSecrets(masked, secrets);
      },
    },
    context: (initial) => ({
      services,
      auth: initial.auth ?? authenticator.resolve(keyFromHeaders((name) => initial.request?.headers.get(name))),
      limits,
      logger,
    }),
    plugins: [
      useCSRFPrevention({
        requestHeaders: ['x-graphql-yoga-csrf', 'x-apollo-operation-name', 'apollo-require-preflight'],
      }),
      useDocumentLimits(limits),
      useAuthorization(),
      useSecretScrubbing(secrets),
    ],
  });

  const ws = createGraphQLWebSocketServer({
    yoga,
    authenticator,
    limits,
    logger,
    keepAliveMs: wsKeepAliveMs,
    closeTimeoutMs: wsCloseTimeoutMs,
    maxPayloadBytes: maxBodyBytes,
  });

  /** Runs one GraphQL operation through yoga with the caller's credentials; returns status and body. */
  async function runOperation(req: IncomingMessage, query: string, variables: Record<string, unknown> = {}) {
    const headers = new Headers({ 'content-type': 'application/json', accept: 'application/json' });
    for (const name of ['authorization', 'x-api-key']) {
      const value = req.headers[name];
      if (typeof value === 'string') headers.set(name, value);
    }
    const response = await yoga.fetch(`http://localhost${GRAPHQL_PATH}`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ query, variables }),
    });
    return {
      status: response.status,
      body: (await response.json()) as { data?: Record<string, unknown> | null; errors?: unknown[] },
    };
  }

  async function rest(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const path = url.pathname.replace(/\/+$/, '');
    let query: string;
    let variables: Record<string, unknown> = {};
    let field: string;
    if (path === '/api/v1/websocket/status') {
      field = 'feedStatus';
      query = `{ feedStatus { state source connectedSince reconnects lastFrameAt lastError framesDecoded ticksDecoded decodeErrors framesPerSecond ticksPerSecond keysByMode { mode count } activeKeysByMode { mode count } segments { segment status casStatus preOpenStatus } droppedTicks { reason count } conflatedUpdates liveSubscribers } }`;
    } else if (path === '/api/v1/websocket/subscriptions') {
      field = 'instrumentSubscriptions';
      query = '{ instrumentSubscriptions { instrumentKey mode active activeMode createdAt updatedAt } }';
    } else if (path === '/api/v1/websocket/latest-ticks') {
      field = 'latestTicks';
      const keys = url.searchParams
        .getAll('instrumentKeys')
        .concat(url.searchParams.getAll('instrument_key'))
        .flatMap((value) => value.split(','))
        .map((key) => key.trim())
        .filter((key) => key.length > 0);
      query = `query ($keys: [String!]!) { latestTicks(instrumentKeys: $keys) { instrumentKey mode isIndex exchangeTs receivedAt ltp lastTradeTime ltq closePrice iep depth { bidQty bidPrice askQty askPrice } candles { interval open high low close volume ts } greeks { delta theta gamma vega rho } averagePrice volume openInterest impliedVolatility totalBuyQty totalSellQty auction { iep rp ieq iiqTotal iiqM casEligible } } }`;
      if (keys.length === 0) {
        // No keys named: the latest ticks of the whole desired set (within the per-request key limit).
        const listed = await runOperation(req, '{ instrumentSubscriptions { instrumentKey } }');
        const rows = listed.body.data?.['instrumentSubscriptions'] as { instrumentKey: string }[] | undefined;
        if (!rows) return sendJson(res, listed.status === 200 ? 500 : listed.status, { errors: listed.body.errors });
        keys.push(...rows.slice(0, limits.maxKeysPerRead).map((row) => row.instrumentKey));
      }
      variables = { keys };
    } else {
      return sendJson(res, 404, { errors: [{ message: `No such endpoint: ${path}` }] });
    }
    const { status, body } = await runOperation(req, query, variables);
    if (body.errors?.length || !body.data) return sendJson(res, status === 200 ? 400 : status, { errors: body.errors });
    sendJson(res, 200, { status: 'success', data: body.data[field] });
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/health') return sendJson(res, 200, { status: 'ok' });
    if (url.pathname === '/ready') {
      const state = closing ? { ready: false, reasons: ['shutting down'] } : await isReady();
      return sendJson(res, state.ready ? 200 : 503, {
        status: state.ready ? 'ready' : 'not ready',
        reasons: state.reasons,
      });
    }
    if (url.pathname.startsWith('/api/v1/websocket/')) {
      if (req.method !== 'GET') return sendJson(res, 405, { errors: [{ message: 'Use GET' }] });
      return rest(req, res, url);
    }
    if (url.pathname === GRAPHQL_PATH) {
      if (Number(req.headers['content-length'] ?? 0) > maxBodyBytes) {
        res.setHeader('connection', 'close');
        return sendJson(res, 413, {
          errors: [
            {
              message: `Request body over ${maxBodyBytes} bytes`,
              extensions: { code: 'PAYLOAD_TOO_LARGE', limit: maxBodyBytes },
            },
          ],
        });
      }
      return yoga(req, res, { req });
    }
    sendJson(res, 404, { errors: [{ message: `Not found: ${url.pathname}; GraphQL is at ${GRAPHQL_PATH}` }] });
  }

  const httpServer = createHttpServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      logger.error({ err: error, path: req.url?.split('?')[0] }, 'request failed');
      if (!res.headersSent) sendJson(res, 500, { errors: [{ message: 'Unexpected error.' }] });
      else res.destroy();
    });
  });
  httpServer.on('upgrade', (req: IncomingMessage, socket, head) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (path !== GRAPHQL_PATH || closing) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
      return;
    }
    ws.handleUpgrade(req, socket, head);
  });

  return {
    httpServer,
    listen(port, host) {
      return new Promise((resolve, reject) => {
        const onError = (error: Error) => reject(error);
        httpServer.once('error', onError);
        httpServer.listen(port, host, () => {
          httpServer.off('error', onError);
          resolve({ port: (httpServer.address() as AddressInfo).port });
        });
      });
    },
    closeWebSockets(code = 1001) {
      return ws.closeAll(code);
    },
    close() {
      closing ??= (async () => {
        await ws.dispose();
        await new Promise<void>((resolve) => {
          if (!httpServer.listening) return resolve();
          httpServer.close(() => resolve());
          // Idle keep-alive sockets and open SSE streams would hold close() open: end them now.
          httpServer.closeIdleConnections();
          httpServer.closeAllConnections();
        });
      })();
      return closing;
    },
  };
}
