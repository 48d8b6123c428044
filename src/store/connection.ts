/**
 * Database URLs → connection info, with no Prisma in sight: the recorder's worker thread and the benchmarks
 * import this without loading a generated client.
 */
import { resolve } from 'node:path';
import { redactUrl } from '../logger.js';

export type DatabaseProvider = 'sqlite' | 'postgresql';

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
