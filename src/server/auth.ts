/**
 * Optional API keys. With none configured the API is open (the composition root warns). With keys:
 * mutations need an admin key; queries and subscriptions need a read or an admin key.
 *
 * The role is resolved once per request (HTTP) or per connection (graphql-ws, from connection_init), and
 * enforced in one envelop plugin both transports share. Keys are compared by SHA-256 digest in constant
 * time and never appear in errors or logs.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { type DocumentNode, type GraphQLError, getOperationAST } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { AuthState, GraphQLContext } from '../graphql/context.js';
import { ERROR_CODES, userError } from '../graphql/errors.js';

export interface AuthOptions {
  /** Keys that may do everything, mutations included. @default [] */
  readonly adminKeys?: readonly string[];
  /** Keys that may query and subscribe. @default [] */
  readonly readKeys?: readonly string[];
}

export interface Authenticator {
  /** True when no key is configured (everyone is admin). */
  readonly open: boolean;
  /** The role `key` grants (null/empty: no key presented). */
  resolve(key: string | null | undefined): AuthState;
}

const digest = (key: string) => createHash('sha256').update(key).digest();

export function createAuthenticator({ adminKeys = [], readKeys = [] }: AuthOptions = {}): Authenticator {
  const admin = adminKeys.filter((k) => k.length > 0).map(digest);
  const read = readKeys.filter((k) => k.length > 0).map(digest);
  const open = admin.length === 0 && read.length === 0;
  // Check every configured key (no early exit), so timing does not tell which list matched.
  const matches = (list: Buffer[], presented: Buffer) =>
    list.reduce((found, candidate) => timingSafeEqual(candidate, presented) || found, false);
  return {
    open,
    resolve(key) {
      if (open) return { role: 'ADMIN', invalidKey: false };
      if (!key) return { role: 'NONE', invalidKey: false };
      const presented = digest(key);
      if (matches(admin, presented)) return { role: 'ADMIN', invalidKey: false };
      if (matches(read, presented)) return { role: 'READ', invalidKey: false };
      return { role: 'NONE', invalidKey: true };
    },
  };
}

/** The key of an HTTP request: `Authorization: Bearer <key>`, else `x-api-key`. */
export function keyFromHeaders(get: (name: string) => string | null | undefined): string | null {
  const authorization = get('authorization');
  if (authorization) {
    const match = /^Bearer\s+(.+)$/i.exec(authorization.trim());
    return match ? match[1]!.trim() : null;
  }
  return get('x-api-key')?.trim() || null;
}

/** The key of a graphql-ws connection_init payload: `{ authorization: 'Bearer <key>' }` or `{ apiKey }`. */
export function keyFromConnectionParams(params: Readonly<Record<string, unknown>> | undefined): string | null {
  if (!params) return null;
  const authorization = params['authorization'] ?? params['Authorization'];
  if (typeof authorization === 'string')
    return keyFromHeaders((name) => (name === 'authorization' ? authorization : null));
  const apiKey = params['apiKey'];
  return typeof apiKey === 'string' && apiKey.length > 0 ? apiKey : null;
}

/** Why `auth` may not run an operation of `operation` type, or null when it may. */
export function authProblem(auth: AuthState, operation: 'query' | 'mutation' | 'subscription'): GraphQLError | null {
  if (auth.invalidKey) {
    return userError('The API key is not valid', ERROR_CODES.UNAUTHENTICATED, { http: { status: 401 } });
  }
  if (auth.role === 'NONE') {
    return userError(
      'An API key is required: send `Authorization: Bearer <key>` (or `x-api-key`), or over WebSocket the connection_init payload { authorization: "Bearer <key>" }',
      ERROR_CODES.UNAUTHENTICATED,
      { http: { status: 401 } },
    );
  }
  if (operation === 'mutation' && auth.role !== 'ADMIN') {
    return userError('Mutations need an admin API key', ERROR_CODES.FORBIDDEN, { http: { status: 403 } });
  }
  return null;
}

/** Enforces roles on execute and subscribe, for HTTP, SSE and graphql-ws alike. */
export function useAuthorization(): Plugin<GraphQLContext> {
  const check = (args: { document: DocumentNode; operationName?: string | null; contextValue: unknown }) => {
    const operation = getOperationAST(args.document, args.operationName ?? undefined)?.operation ?? 'query';
    const { auth } = args.contextValue as GraphQLContext;
    return authProblem(auth, operation as 'query' | 'mutation' | 'subscription');
  };
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const problem = check(args);
      if (problem) setResultAndStopExecution({ errors: [problem] });
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const problem = check(args);
      if (problem) setResultAndStopExecution({ errors: [problem] });
    },
  };
}
