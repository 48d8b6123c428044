/**
 * Applies prisma/migrations/<provider> at start-up, without the Prisma CLI or its (downloaded) schema engine,
 * keeping the same bookkeeping Prisma Migrate keeps, so `prisma migrate status` / `migrate deploy` on a
 * networked machine see the database exactly as if they had migrated it:
 *
 * - the `_prisma_migrations` table with Prisma's DDL for the provider;
 * - one row per applied migration: id (uuid v4), checksum (sha256 hex of the migration.sql bytes),
 *   started_at / finished_at, migration_name (the folder name), logs NULL, rolled_back_at NULL,
 *   applied_steps_count 1. SQLite timestamps are epoch milliseconds, as Prisma's engine writes them.
 *
 * All pending migrations are applied in ONE transaction: a failure rolls every statement back (PostgreSQL and
 * SQLite both have transactional DDL), nothing is recorded, and a {@link MigrationError} names the migration.
 * On PostgreSQL a transaction-scoped advisory lock serialises instances starting at once: the second waits,
 * then sees the migrations already recorded and applies nothing.
 */
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../logger.js';
import type { Database, DatabaseProvider, PrismaDb } from './prisma.js';

/** Prisma's `_prisma_migrations` DDL per provider (as the schema engine creates it). */
export const MIGRATIONS_TABLE_DDL: Readonly<Record<DatabaseProvider, string>> = {
  sqlite: `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    TEXT PRIMARY KEY NOT NULL,
    "checksum"              TEXT NOT NULL,
    "finished_at"           DATETIME,
    "migration_name"        TEXT NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        DATETIME,
    "started_at"            DATETIME NOT NULL DEFAULT current_timestamp,
    "applied_steps_count"   INTEGER UNSIGNED NOT NULL DEFAULT 0
)`,
  postgresql: `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`,
};

/** Key of the PostgreSQL advisory lock held while migrating (any constant; this one spells "tickgrph"). */
const ADVISORY_LOCK_KEY = 0x7469636b67727068n;

export interface LocalMigration {
  /** Folder name, e.g. `20261124000000_init`. */
  readonly name: string;
  readonly sql: string;
  /** sha256 hex of the migration.sql bytes, as Prisma computes it. */
  readonly checksum: string;
}

export interface MigrationStatus {
  readonly applied: readonly string[];
  readonly pending: readonly string[];
  /** Applied migrations whose migration.sql changed since (Prisma warns about these too). */
  readonly checksumMismatches: readonly string[];
  /** Rows Prisma left unfinished (a failed `migrate deploy`); start-up refuses to continue over them. */
  readonly failed: readonly string[];
}

export interface MigrateOptions {
  database: Database;
  /** Folder holding `<timestamp>_<name>/migration.sql` for this provider. @default prisma/migrations/<provider> of this repo */
  migrationsDir?: string;
  logger?: Logger;
  /** How long to wait for another instance's migration lock and run the migrations, ms. @default 60_000 */
  timeoutMs?: number;
}

export class MigrationError extends Error {
  override name = 'MigrationError';
  constructor(
    message: string,
    readonly migration: string | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The repo's migrations folder for `provider`, found by walking up from this module (src/ or dist/src/). */
export function defaultMigrationsDir(provider: DatabaseProvider): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'prisma', 'migrations', provider);
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  throw new MigrationError(`no prisma/migrations/${provider} folder found above ${import.meta.url}`, undefined);
}

export function checksumOf(bytes: Buffer | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The migrations on disk, in name (= timestamp) order. */
export function readMigrations(migrationsDir: string): LocalMigration[] {
  if (!existsSync(migrationsDir))
    throw new MigrationError(`migrations folder ${migrationsDir} does not exist`, undefined);
  return readdirSync(migrationsDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(migrationsDir, entry.name, 'migration.sql')))
    .map((entry) => entry.name)
    .sort()
    .map((name) => {
      const bytes = readFileSync(join(migrationsDir, name, 'migration.sql'));
      return { name, sql: bytes.toString('utf8'), checksum: checksumOf(bytes) };
    });
}

/**
 * Splits a migration script into statements. Our scripts are Prisma-style DDL: `--` comments and statements
 * ending with `;` at the end of a line (no procedural bodies), which is all this handles.
 */
export function splitStatements(sql: string): string[] {
  const withoutComments = sql
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('--'))
    .join('\n');
  return withoutComments
    .split(/;\s*(?:\n|$)/)
    .map((statement) => statement.trim())
    .filter((statement) => statement.length > 0);
}

interface AppliedRow {
  migration_name: string;
  checksum: string;
  finished_at: unknown;
  rolled_back_at: unknown;
}

type Executor = Pick<PrismaDb, '$executeRawUnsafe' | '$queryRawUnsafe'>;

async function readApplied(db: Executor): Promise<AppliedRow[]> {
  return db.$queryRawUnsafe<AppliedRow[]>(
    'SELECT "migration_name", "checksum", "finished_at", "rolled_back_at" FROM "_prisma_migrations" ORDER BY "started_at" ASC',
  );
}

function statusOf(local: readonly LocalMigration[], rows: readonly AppliedRow[]): MigrationStatus {
  const done = rows.filter((row) => row.finished_at !== null && row.rolled_back_at === null);
  const failed = rows.filter((row) => row.finished_at === null && row.rolled_back_at === null);
  const appliedNames = new Set(done.map((row) => row.migration_name));
  const byName = new Map(local.map((m) => [m.name, m]));
  return {
    applied: [...appliedNames],
    pending: local.filter((m) => !appliedNames.has(m.name)).map((m) => m.name),
    checksumMismatches: done
      .filter((row) => byName.has(row.migration_name) && byName.get(row.migration_name)?.checksum !== row.checksum)
      .map((row) => row.migration_name),
    failed: failed.map((row) => row.migration_name),
  };
}

/** Status for readiness checks; does not change the database (except creating nothing: read-only). */
export async function migrationStatus({
  database,
  migrationsDir = defaultMigrationsDir(database.provider),
}: Pick<MigrateOptions, 'database' | 'migrationsDir'>): Promise<MigrationStatus> {
  const local = readMigrations(migrationsDir);
  let rows: AppliedRow[] = [];
  try {
    rows = await readApplied(database.prisma);
  } catch (error) {
    // No bookkeeping table yet: everything is pending. Anything else (database down) is the caller's problem.
    if (!/_prisma_migrations|no such table|does not exist/i.test(String((error as Error).message))) throw error;
  }
  return statusOf(local, rows);
}

/** Names of migrations not yet applied (for /ready). */
export async function pendingMigrations(
  options: Pick<MigrateOptions, 'database' | 'migrationsDir'>,
): Promise<string[]> {
  return [...(await migrationStatus(options)).pending];
}

/**
 * Applies every pending migration in one transaction. Resolves with the names applied (empty when up to date).
 * Rejects with {@link MigrationError} (nothing applied) on any failure; the caller should abort start-up.
 */
export async function applyMigrations({
  database,
  migrationsDir = defaultMigrationsDir(database.provider),
  logger,
  timeoutMs = 60_000,
}: MigrateOptions): Promise<string[]> {
  const local = readMigrations(migrationsDir);
  const { provider, prisma } = database;
  let current: string | undefined;
  try {
    return await prisma.$transaction(
      async (tx) => {
        if (provider === 'postgresql') {
          await tx.$executeRawUnsafe(`SELECT pg_advisory_xact_lock(${ADVISORY_LOCK_KEY})`);
        }
        // Inside the lock: two instances racing on CREATE TABLE IF NOT EXISTS can still collide on PostgreSQL.
        await tx.$executeRawUnsafe(MIGRATIONS_TABLE_DDL[provider]);
        const status = statusOf(local, await readApplied(tx));
        for (const name of status.checksumMismatches) {
          logger?.warn(
            { migration: name },
            'applied migration was modified after it was applied (checksum mismatch); not re-applying it',
          );
        }
        if (status.failed.length > 0) {
          throw new MigrationError(
            `migration ${status.failed[0]} failed earlier and was never rolled back; resolve it (prisma migrate resolve) before starting`,
            status.failed[0],
          );
        }
        const pending = local.filter((m) => status.pending.includes(m.name));
        for (const migration of pending) {
          current = migration.name;
          const id = randomUUID();
          const now = provider === 'sqlite' ? Date.now() : new Date();
          await tx.$executeRawUnsafe(
            provider === 'sqlite'
              ? 'INSERT INTO "_prisma_migrations" ("id", "checksum", "migration_name", "started_at", "applied_steps_count") VALUES (?, ?, ?, ?, 0)'
              : 'INSERT INTO "_prisma_migrations" ("id", "checksum", "migration_name", "started_at", "applied_steps_count") VALUES ($1, $2, $3, $4, 0)',
            id,
            migration.checksum,
            migration.name,
            now,
          );
          for (const statement of splitStatements(migration.sql)) await tx.$executeRawUnsafe(statement);
          const finished = provider === 'sqlite' ? Date.now() : new Date();
          await tx.$executeRawUnsafe(
            provider === 'sqlite'
              ? 'UPDATE "_prisma_migrations" SET "finished_at" = ?, "applied_steps_count" = 1 WHERE "id" = ?'
              : 'UPDATE "_prisma_migrations" SET "finished_at" = $1, "applied_steps_count" = 1 WHERE "id" = $2',
            finished,
            id,
          );
          logger?.info({ migration: migration.name }, 'migration applied');
        }
        current = undefined;
        return pending.map((m) => m.name);
      },
      { maxWait: timeoutMs, timeout: timeoutMs },
    );
  } catch (error) {
    if (error instanceof MigrationError) throw error;
    const message = (error as Error).message;
    throw new MigrationError(
      current
        ? `migration ${current} failed and was rolled back (nothing applied): ${message}`
        : `migrations could not be applied: ${message}`,
      current,
      { cause: error },
    );
  }
}
