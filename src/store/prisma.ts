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
import { dirname } from 'node:path';
import { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3';
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient as PostgresPrismaClient } from '../generated/prisma/postgresql/client.js';
import { PrismaClient as SqlitePrismaClient } from '../generated/prisma/sqlite/client.js';
import type { Logger } from '../logger.js';
import { redactUrl } from '../logger.js';
import { type ConnectionInfo, type DatabaseProvider, parseDatabaseUrl, pgConfig } from './connection.js';

export {
  type ConnectionInfo,
  type DatabaseProvider,
  DatabaseUrlError,
  parseDatabaseUrl,
  pgConfig,
} from './connection.js';

/** The Prisma client of either provider, typed with the SQLite client (same models, same API). */
export type PrismaDb = InstanceType<typeof SqlitePrismaClient>;

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
