/**
 * The database handle: picks the generated Prisma client and driver adapter for the URL's provider.
 *
 * - `file:<path>` (default `file:./data/tickgraph.db`) → SQLite through `@prisma/adapter-better-sqlite3`; the
 *   parent folder is created. `file::memory:` gives a private in-memory database (tests; one connection only).
 * - `postgres://` / `postgresql://` → PostgreSQL through `@prisma/adapter-pg` with an explicit pool size and
 *   timeouts. A `?schema=name` parameter (Prisma's convention) selects the schema: it is removed from the URL
 *   handed to `pg`, given to the adapter and set as the connection's `search_path`, so raw SQL and Prisma
 *   queries agree on it.
 *
 * Both generated clients expose the same model API; we type the handle with the SQLite client's types.
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3';
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient as PostgresPrismaClient } from '../generated/prisma/postgresql/client.js';
import { PrismaClient as SqlitePrismaClient } from '../generated/prisma/sqlite/client.js';
import type { Logger } from '../logger.js';
import { redactUrl } from '../logger.js';

export type DatabaseProvider = 'sqlite' | 'postgresql';

/** The Prisma client of either provider, typed with the SQLite client (same models, same API). */
export type PrismaDb = InstanceType<typeof SqlitePrismaClient>;

/** Where the database lives, in a form a worker thread or a raw driver can connect with. */
export type ConnectionInfo =
  | {
      readonly provider: 'sqlite';
      /** Absolute file path, or `:memory:`. */
      readonly filename: string;
      /** Busy timeout of each connection, ms. */
      readonly busyTimeoutMs: number;
    }
  | {
      readonly provider: 'postgresql';
      /** Connection string without Prisma's `schema` parameter (may contain a password: never log it). */
      readonly connectionString: string;
      /** Schema named by `?schema=`, or undefined for the server's default search_path. */
      readonly schema: string | undefined;
      readonly connectTimeoutMs: number;
      readonly statementTimeoutMs: number | undefined;
    };

export interface Database {
  readonly provider: DatabaseProvider;
  readonly prisma: PrismaDb;
  /** How raw drivers (the recorder's worker, migrations, benchmarks) reach the same database. */
  readonly connection: ConnectionInfo;
  /** The URL with any password masked, for logs. */
  readonly displayUrl: string;
  /** Runs `SELECT 1`; rejects when the database is unreachable. */
  ping(): Promise<void>;
  /** Closes the client and its pool. Idempotent. */
  disconnect(): Promise<void>;
}

export interface DatabaseOptions {
  /** `file:./path.db`, `file::memory:`, `postgres://…` or `postgresql://…`. @default 'file:./data/tickgraph.db' */
  url?: string;
  /** PostgreSQL pool size (connections). Ignored for SQLite (one connection). @default 10 */
  poolSize?: number;
  /** PostgreSQL connect timeout; SQLite busy timeout (how long a statement waits for a lock), ms. @default 5_000 */
  connectTimeoutMs?: number;
  /** PostgreSQL `statement_timeout` for every pooled connection, ms. Unset: the server's default. */
  statementTimeoutMs?: number;
  logger?: Logger;
  /** Called with the SQL and parameters of every query Prisma runs (debugging, EXPLAIN in benchmarks). */
  onQuery?: (query: { sql: string; params: string; durationMs: number }) => void;
}

export class DatabaseUrlError extends Error {
  override name = 'DatabaseUrlError';
  constructor(
    message: string,
    readonly displayUrl: string,
  ) {
    super(message);
  }
}

/** Parses a database URL into connection info without connecting. Throws {@link DatabaseUrlError}. */
export function parseDatabaseUrl(
  url: string,
  { connectTimeoutMs = 5_000, statementTimeoutMs }: { connectTimeoutMs?: number; statementTimeoutMs?: number } = {},
): ConnectionInfo {
  const displayUrl = redactUrl(url);
  if (url.startsWith('file:')) {
    const rest = url.slice('file:'.length).replace(/\?.*$/, '');
    if (rest === '')
      throw new DatabaseUrlError(`SQLite URL ${displayUrl} names no file (expected file:./path.db)`, displayUrl);
    const filename = rest === ':memory:' ? ':memory:' : resolve(rest.replace(/^\/\/(?=\/)/, ''));
    return { provider: 'sqlite', filename, busyTimeoutMs: connectTimeoutMs };
  }
  if (/^postgres(ql)?:\/\//i.test(url)) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new DatabaseUrlError(`PostgreSQL URL ${displayUrl} is not a valid URL`, displayUrl);
    }
    const schema = parsed.searchParams.get('schema') ?? undefined;
    if (schema !== undefined && !/^[A-Za-z_][A-Za-z0-9_$]{0,62}$/.test(schema)) {
      throw new DatabaseUrlError(`schema "${schema}" in ${displayUrl} is not a plain SQL identifier`, displayUrl);
    }
    parsed.searchParams.delete('schema');
    return {
      provider: 'postgresql',
      connectionString: parsed.toString(),
      schema,
      connectTimeoutMs,
      statementTimeoutMs,
    };
  }
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1];
  throw new DatabaseUrlError(
    `unsupported database URL scheme ${scheme ? `"${scheme}:"` : `in "${displayUrl}"`}: expected file:, postgres:// or postgresql://`,
    displayUrl,
  );
}

/** `pg` pool/client settings for a PostgreSQL connection (shared by Prisma's pool and raw clients). */
export function pgConfig(info: Extract<ConnectionInfo, { provider: 'postgresql' }>, applicationName = 'tickgraph') {
  const settings: string[] = [];
  if (info.schema) settings.push(`-c search_path="${info.schema}"`);
  return {
    connectionString: info.connectionString,
    connectionTimeoutMillis: info.connectTimeoutMs,
    ...(info.statementTimeoutMs === undefined ? {} : { statement_timeout: info.statementTimeoutMs }),
    ...(settings.length > 0 ? { options: settings.join(' ') } : {}),
    application_name: applicationName,
  };
}

export function createDatabase({
  url = 'file:./data/tickgraph.db',
  poolSize = 10,
  connectTimeoutMs = 5_000,
  statementTimeoutMs,
  logger,
  onQuery,
}: DatabaseOptions = {}): Database {
  const connection = parseDatabaseUrl(url, { connectTimeoutMs, statementTimeoutMs });
  const displayUrl = redactUrl(url);
  let prisma: PrismaDb;
  if (connection.provider === 'sqlite') {
    if (connection.filename !== ':memory:') mkdirSync(dirname(connection.filename), { recursive: true });
    // `timeout` is better-sqlite3's busy timeout: with the recorder's worker writing to the same file, a
    // read or a subscription upsert waits for the write lock instead of failing at once.
    const adapter = new PrismaBetterSqlite3({ url: connection.filename, timeout: connection.busyTimeoutMs });
    prisma = new SqlitePrismaClient({ adapter, ...(onQuery ? { log: [{ emit: 'event', level: 'query' }] } : {}) });
  } else {
    const adapter = new PrismaPg(
      { ...pgConfig(connection), max: poolSize, idleTimeoutMillis: 30_000 },
      {
        ...(connection.schema ? { schema: connection.schema } : {}),
        onPoolError: (error) => logger?.warn({ err: error.message }, 'database pool error'),
      },
    );
    // Same models and API; only the provider differs (see scripts/prisma-generate.mjs).
    prisma = new PostgresPrismaClient({
      adapter,
      ...(onQuery ? { log: [{ emit: 'event', level: 'query' }] } : {}),
    }) as unknown as PrismaDb;
  }
  if (onQuery) {
    (
      prisma as unknown as {
        $on(event: 'query', cb: (e: { query: string; params: string; duration: number }) => void): void;
      }
    ).$on('query', (e) => onQuery({ sql: e.query, params: e.params, durationMs: e.duration }));
  }

  let disconnecting: Promise<void> | undefined;
  return {
    provider: connection.provider,
    prisma,
    connection,
    displayUrl,
    async ping() {
      await prisma.$queryRawUnsafe('SELECT 1');
    },
    disconnect() {
      disconnecting ??= prisma.$disconnect().then(() => logger?.debug({ url: displayUrl }, 'database disconnected'));
      return disconnecting;
    },
  };
}
