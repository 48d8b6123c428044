/**
 * graphql-ws over `ws` on the GraphQL path, sharing yoga's envelop pipeline (`yoga.getEnveloped`), so
 * context, authorization, limits and error masking are the same as over HTTP and SSE.
 *
 * Authentication happens once, at connection_init: a bad or missing key (when keys are configured)
 * closes the socket with graphql-ws's 4403 Forbidden. Each operation then counts against
 * `maxSubscriptionsPerConnection`.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ExecutionArgs, GraphQLError } from 'graphql';
import type { Context } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import type { YogaServerInstance } from 'graphql-yoga';
import { WebSocketServer } from 'ws';
import type { AuthState, GraphQLContext } from '../graphql/context.js';
import { ERROR_CODES, userError } from '../graphql/errors.js';
import type { Logger } from '../logger.js';
import { type Authenticator, keyFromConnectionParams, keyFromHeaders } from './auth.js';
import type { ResolvedLimits } from './limits.js';

export interface GraphQLWebSocketOptions {
  /** The yoga instance whose envelop pipeline (parse, validate, context, execute, plugins) is reused. */
  // biome-ignore lint/suspicious/noExplicitAny: yoga's server and user context types are not needed here
  readonly yoga: YogaServerInstance<any, any>;
  /** Resolves the connection_init key to a role; a missing or bad key closes with 4403. */
  readonly authenticator: Authenticator;
  /** maxSubscriptionsPerConnection is enforced here; the rest by the shared pipeline. */
  readonly limits: ResolvedLimits;
  /** Refused connections are logged (reason only, never the key). */
  readonly logger: Logger;
  /** Largest accepted client message, bytes. @default 1_048_576 */
  readonly maxPayloadBytes?: number;
  /** Interval of ws-level pings; a client that misses one is terminated. 0 disables. @default 12_000 */
  readonly keepAliveMs?: number;
  /** How long closeAll() waits for close handshakes before terminating sockets, ms. @default 2_000 */
  readonly closeTimeoutMs?: number;
}

export interface GraphQLWebSocketServer {
  /** Hands an HTTP upgrade request to the WebSocket server. */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Open sockets. */
  readonly clients: number;
  /** Closes every socket with `code` and waits (bounded) until they are gone. */
  closeAll(code?: number, reason?: string): Promise<void>;
  /** closeAll(1001) and stops accepting. Idempotent. */
  dispose(): Promise<void>;
}

interface RootValue {
  execute: (args: ExecutionArgs) => unknown;
  subscribe: (args: ExecutionArgs) => unknown;
}

export function createGraphQLWebSocketServer({
  yoga,
  authenticator,
  limits,
  logger,
  maxPayloadBytes = 1_048_576,
  keepAliveMs = 12_000,
  closeTimeoutMs = 2_000,
}: GraphQLWebSocketOptions): GraphQLWebSocketServer {
  const wss = new WebSocketServer({ noServer: true, maxPayload: maxPayloadBytes });
  const authByConnection = new WeakMap<object, AuthState>();
  let disposing: Promise<void> | undefined;

  const graphqlWs = useServer<Record<string, unknown> | undefined>(
    {
      isProd: true,
      onConnect: (ctx) => {
        const key =
          keyFromConnectionParams(ctx.connectionParams) ??
          keyFromHeaders((name) => {
            const value = ctx.extra.request.headers[name];
            return Array.isArray(value) ? value[0] : value;
          });
        const auth = authenticator.resolve(key);
        if (auth.invalidKey || auth.role === 'NONE') {
          logger.info({ reason: auth.invalidKey ? 'invalid key' : 'no key' }, 'graphql-ws connection refused');
          return false; // graphql-ws closes with 4403 Forbidden
        }
        authByConnection.set(ctx, auth);
        return true;
      },
      onSubscribe: async (
        ctx: Context<Record<string, unknown> | undefined, { request: IncomingMessage }>,
        _id,
        payload,
      ) => {
        const inFlight = Object.keys(ctx.subscriptions).length; // includes this one (reserved before the hook)
        if (inFlight > limits.maxSubscriptionsPerConnection) {
          return [
            userError(
              `Too many operations on this connection: the limit is ${limits.maxSubscriptionsPerConnection}; complete some or open another connection`,
              ERROR_CODES.TOO_MANY_SUBSCRIPTIONS,
              { limit: limits.maxSubscriptionsPerConnection },
            ),
          ];
        }
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          req: ctx.extra.request,
          params: payload,
          auth: authByConnection.get(ctx),
        });
        let document: ReturnType<typeof parse>;
        try {
          document = parse(payload.query);
        } catch (error) {
          // Duck-typed: under vitest our `graphql` import and yoga's may be different copies of the module.
          if (error instanceof Error && error.name === 'GraphQLError') return [error as GraphQLError];
          throw error;
        }
        const errors = validate(schema, document);
        if (errors.length > 0) return errors;
        const contextValue = (await contextFactory()) as unknown as GraphQLContext;
        const rootValue: RootValue = { execute, subscribe };
        return {
          schema,
          document,
          operationName: payload.operationName ?? null,
          variableValues: payload.variables ?? null,
          contextValue,
          rootValue,
        };
      },
      execute: (args) => (args.rootValue as RootValue).execute(args) as never,
      subscribe: (args) => (args.rootValue as RootValue).subscribe(args) as never,
    },
    wss,
    keepAliveMs,
  );

  async function closeAll(code = 1001, reason = 'Server shutting down'): Promise<void> {
    const sockets = [...wss.clients];
    if (sockets.length === 0) return;
    const closed = Promise.all(
      sockets.map(
        (socket) =>
          new Promise<void>((resolve) =>
            socket.readyState === socket.CLOSED ? resolve() : socket.once('close', () => resolve()),
          ),
      ),
    );
    for (const socket of sockets) socket.close(code, reason);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), closeTimeoutMs);
    });
    const outcome = await Promise.race([closed, timedOut]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      // A client that stopped reading never completes the closing handshake: cut it off.
      for (const socket of sockets) if (socket.readyState !== socket.CLOSED) socket.terminate();
      await closed;
    }
  }

  return {
    handleUpgrade(request, socket, head) {
      if (disposing) {
        socket.destroy();
        return;
      }
      wss.handleUpgrade(request, socket, head, (ws) => wss.emit('connection', ws, request));
    },
    get clients() {
      return wss.clients.size;
    },
    closeAll,
    dispose() {
      disposing ??= (async () => {
        await closeAll(1001);
        await graphqlWs.dispose();
      })();
      return disposing;
    },
  };
}
