import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.js';
import {
  applyMigrations,
  checksumOf,
  defaultMigrationsDir,
  MigrationError,
  migrationStatus,
  readMigrations,
} from '../../src/store/migrate.js';
import { createDatabase, type Database, type DatabaseProvider, parseDatabaseUrl } from '../../src/store/prisma.js';
import {
  backends,
  createTestDatabase,
  type DmmfField,
  type DmmfModel,
  loadDmmf,
  type TestDatabase,
} from '../support/db.js';

/** A column as the database reports it, normalised across providers. */
interface Column {
  name: string;
  type: string;
  notNull: boolean;
  default: string | null;
}
interface Index {
  name: string;
  columns: string[];
  unique: boolean;
}
interface Table {
  columns: Column[];
  primaryKey: string[];
  indexes: Index[];
  autoincrement: boolean;
}

async function inspect(database: Database, table: string): Promise<Table> {
  const db = database.prisma;
  if (database.provider === 'sqlite') {
    const info = await db.$queryRawUnsafe<
      { name: string; type: string; notnull: bigint; dflt_value: string | null; pk: bigint }[]
    >(`PRAGMA table_info("${table}")`);
    const list = await db.$queryRawUnsafe<{ name: string; unique: bigint; origin: string }[]>(
      `PRAGMA index_list("${table}")`,
    );
    const indexes: Index[] = [];
    for (const index of list.filter((i) => i.origin === 'c')) {
      const cols = await db.$queryRawUnsafe<{ seqno: bigint; name: string }[]>(`PRAGMA index_info("${index.name}")`);
      indexes.push({
        name: index.name,
        unique: Number(index.unique) === 1,
        columns: cols.sort((a, b) => Number(a.seqno) - Number(b.seqno)).map((c) => c.name),
      });
    }
    const [master] = await db.$queryRawUnsafe<{ sql: string }[]>(
      `SELECT sql FROM sqlite_master WHERE type = 'table' AND name = '${table}'`,
    );
    return {
      columns: info.map((c) => ({
        name: c.name,
        type: c.type,
        notNull: Number(c.notnull) === 1,
        default: c.dflt_value,
      })),
      primaryKey: info
        .filter((c) => Number(c.pk) > 0)
        .sort((a, b) => Number(a.pk) - Number(b.pk))
        .map((c) => c.name),
      indexes,
      autoincrement: /AUTOINCREMENT/i.test(master?.sql ?? ''),
    };
  }
  const columns = await db.$queryRawUnsafe<
    {
      column_name: string;
      data_type: string;
      is_nullable: string;
      column_default: string | null;
      dt_precision: number | null;
    }[]
  >(
    `SELECT column_name, data_type, is_nullable, column_default, datetime_precision AS dt_precision
       FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`,
    table,
  );
  const indexRows = await db.$queryRawUnsafe<{ name: string; unique: boolean; primary: boolean; columns: string[] }[]>(
    `SELECT ic.relname AS name, ix.indisunique AS unique, ix.indisprimary AS primary,
            array(SELECT a.attname FROM unnest(ix.indkey) WITH ORDINALITY AS k(attnum, ord)
                    JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum ORDER BY k.ord)::text[] AS columns
       FROM pg_index ix JOIN pg_class t ON t.oid = ix.indrelid JOIN pg_class ic ON ic.oid = ix.indexrelid
       JOIN pg_namespace n ON n.oid = t.relnamespace
      WHERE n.nspname = current_schema() AND t.relname = $1`,
    table,
  );
  const primary = indexRows.find((i) => i.primary);
  return {
    columns: columns.map((c) => ({
      name: c.column_name,
      type: c.data_type === 'timestamp without time zone' ? `timestamp(${c.dt_precision})` : c.data_type,
      notNull: c.is_nullable === 'NO',
      default: c.column_default,
    })),
    primaryKey: primary?.columns ?? [],
    indexes: indexRows.filter((i) => !i.primary).map((i) => ({ name: i.name, unique: i.unique, columns: i.columns })),
    autoincrement: columns.some((c) => c.column_default?.startsWith('nextval(') ?? false),
  };
}

/** The column type Prisma Migrate creates for a scalar field on each provider. */
function expectedType(provider: DatabaseProvider, field: DmmfField): string {
  const autoincrement = (field.default as { name?: string } | undefined)?.name === 'autoincrement';
  const sqlite: Record<string, string> = {
    String: 'TEXT',
    BigInt: 'BIGINT',
    Int: 'INTEGER',
    Float: 'REAL',
    DateTime: 'DATETIME',
    Boolean: 'BOOLEAN',
  };
  const postgresql: Record<string, string> = {
    String: 'text',
    BigInt: 'bigint',
    Int: 'integer',
    Float: 'double precision',
    DateTime: 'timestamp(3)',
    Boolean: 'boolean',
  };
  if (provider === 'sqlite' && autoincrement) return 'INTEGER';
  const type = (provider === 'sqlite' ? sqlite : postgresql)[field.type];
  if (!type) throw new Error(`no expected type for ${field.type}`);
  return type;
}

const dmmf = loadDmmf();

describe.each(backends())('migrations on $provider', ({ provider }) => {
  const opened: TestDatabase[] = [];
  const open = async (label: string, migrate = true) => {
    const db = await createTestDatabase(provider, label, { migrate });
    opened.push(db);
    return db;
  };
  afterAll(async () => {
    await Promise.all(opened.map((db) => db.cleanup()));
  });

  it('creates exactly the tables, columns, types, nullability, keys and indexes of schema.prisma', async () => {
    const { database } = await open('shape');
    const tables = await (provider === 'sqlite'
      ? database.prisma.$queryRawUnsafe<{ name: string }[]>(
          `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`,
        )
      : database.prisma.$queryRawUnsafe<{ name: string }[]>(
          `SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema()`,
        ));
    const models: DmmfModel[] = dmmf.datamodel.models;
    expect(tables.map((t) => t.name).sort()).toEqual(
      [...models.map((m) => m.dbName ?? m.name), '_prisma_migrations'].sort(),
    );

    for (const model of models) {
      const table = await inspect(database, model.dbName ?? model.name);
      const scalars = model.fields.filter((f) => f.kind === 'scalar');
      expect(
        table.columns.map((c) => c.name),
        model.name,
      ).toEqual(scalars.map((f) => f.dbName ?? f.name));
      for (const field of scalars) {
        const column = table.columns.find((c) => c.name === (field.dbName ?? field.name))!;
        expect({ column: column.name, type: column.type, notNull: column.notNull }, model.name).toEqual({
          column: field.name,
          type: expectedType(provider, field),
          notNull: field.isRequired,
        });
        const defaultName = (field.default as { name?: string } | undefined)?.name;
        if (defaultName === 'now') expect(column.default).toMatch(/^CURRENT_TIMESTAMP$/i);
        else if (defaultName === 'autoincrement') expect(table.autoincrement).toBe(true);
        else if (
          provider === 'sqlite' ||
          !table.columns.find((c) => c.name === field.name)?.default?.startsWith('nextval')
        )
          expect(column.default, `${model.name}.${field.name} default`).toBeNull();
      }
      const idIndex = dmmf.datamodel.indexes.find((i) => i.model === model.name && i.type === 'id');
      expect(table.primaryKey).toEqual(idIndex?.fields.map((f) => f.name) ?? []);

      const expectedIndexes = dmmf.datamodel.indexes
        .filter((i) => i.model === model.name && (i.type === 'normal' || i.type === 'unique'))
        .map((i) => ({
          name:
            i.dbName ??
            `${model.dbName ?? model.name}_${i.fields.map((f) => f.name).join('_')}_${i.type === 'unique' ? 'key' : 'idx'}`,
          columns: i.fields.map((f) => f.name),
          unique: i.type === 'unique',
        }));
      expect(
        table.indexes.sort((a, b) => a.name.localeCompare(b.name)),
        `${model.name} indexes`,
      ).toEqual(expectedIndexes.sort((a, b) => a.name.localeCompare(b.name)));
    }
  });

  it('records each migration in _prisma_migrations the way Prisma Migrate does', async () => {
    const { database } = await open('bookkeeping');
    const local = readMigrations(defaultMigrationsDir(provider));
    const rows = await database.prisma.$queryRawUnsafe<
      {
        id: string;
        checksum: string;
        migration_name: string;
        logs: string | null;
        rolled_back_at: unknown;
        started_at: unknown;
        finished_at: unknown;
        applied_steps_count: number | bigint;
      }[]
    >('SELECT * FROM "_prisma_migrations" ORDER BY "migration_name"');
    expect(rows.map((r) => r.migration_name)).toEqual(local.map((m) => m.name));
    for (const row of rows) {
      const file = readFileSync(join(defaultMigrationsDir(provider), row.migration_name, 'migration.sql'));
      expect(row.checksum).toBe(checksumOf(file));
      expect(row.checksum).toMatch(/^[0-9a-f]{64}$/);
      expect(row.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(row.logs).toBeNull();
      expect(row.rolled_back_at).toBeNull();
      expect(Number(row.applied_steps_count)).toBe(1);
      expect(row.finished_at).not.toBeNull();
      expect(new Date(row.finished_at as string).getTime()).toBeGreaterThanOrEqual(
        new Date(row.started_at as string).getTime(),
      );
    }
    expect(await migrationStatus({ database })).toEqual({
      applied: local.map((m) => m.name),
      pending: [],
      checksumMismatches: [],
      failed: [],
    });
    expect(await applyMigrations({ database })).toEqual([]);
  });

  it('reports every migration as pending on an empty database', async () => {
    const { database } = await open('pending', false);
    const status = await migrationStatus({ database });
    expect(status.pending).toEqual(readMigrations(defaultMigrationsDir(provider)).map((m) => m.name));
    expect(status.applied).toEqual([]);
  });

  it('rolls a failing migration back completely and names it in the error', async () => {
    const { database } = await open('failing', false);
    const dir = mkdtempSync(join(tmpdir(), 'tickgraph-migrations-'));
    try {
      cpSync(defaultMigrationsDir(provider), dir, { recursive: true });
      mkdirSync(join(dir, '29990101000000_broken'));
      writeFileSync(
        join(dir, '29990101000000_broken', 'migration.sql'),
        '-- CreateTable\nCREATE TABLE "Partial" ("id" INTEGER NOT NULL);\n\nALTER TABLE "NoSuchTable" ADD COLUMN "x" INTEGER;\n',
      );
      const failure = await applyMigrations({ database, migrationsDir: dir }).catch((e: unknown) => e);
      expect(failure).toBeInstanceOf(MigrationError);
      expect((failure as MigrationError).migration).toBe('29990101000000_broken');
      expect((failure as MigrationError).message).toMatch(/29990101000000_broken failed and was rolled back/);
      const leftovers = await (provider === 'sqlite'
        ? database.prisma.$queryRawUnsafe<{ name: string }[]>(
            `SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('Tick', 'Partial')`,
          )
        : database.prisma.$queryRawUnsafe<{ name: string }[]>(
            `SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema() AND table_name IN ('Tick', 'Partial')`,
          ));
      expect(leftovers).toEqual([]);
      const status = await migrationStatus({ database, migrationsDir: dir });
      expect(status.applied).toEqual([]);
      expect(status.pending).toEqual(readMigrations(dir).map((m) => m.name));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('warns when an applied migration file was changed afterwards, and does not re-apply it', async () => {
    const { database } = await open('checksum');
    const dir = mkdtempSync(join(tmpdir(), 'tickgraph-migrations-'));
    try {
      cpSync(defaultMigrationsDir(provider), dir, { recursive: true });
      const [first] = readMigrations(dir);
      writeFileSync(join(dir, first!.name, 'migration.sql'), `${first!.sql}\n-- edited after it was applied\n`);
      const lines: string[] = [];
      const logger = createLogger({ level: 'warn', destination: { write: (line: string) => lines.push(line) } });
      expect(await applyMigrations({ database, migrationsDir: dir, logger })).toEqual([]);
      expect(lines.map((l) => JSON.parse(l) as { migration: string; msg: string })).toEqual([
        expect.objectContaining({ migration: first!.name, msg: expect.stringMatching(/checksum mismatch/) }),
      ]);
      expect((await migrationStatus({ database, migrationsDir: dir })).checksumMismatches).toEqual([first!.name]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.runIf(provider === 'postgresql')('applies once when two instances migrate at the same time', async () => {
    const first = await open('concurrent', false);
    const second = createDatabase({ url: first.url, poolSize: 2 });
    try {
      const results = await Promise.all([
        applyMigrations({ database: first.database }),
        applyMigrations({ database: second }),
      ]);
      const names = readMigrations(defaultMigrationsDir(provider)).map((m) => m.name);
      expect(results.map((r) => r.length).sort()).toEqual([0, names.length]);
      const rows = await first.database.prisma.$queryRawUnsafe<unknown[]>('SELECT * FROM "_prisma_migrations"');
      expect(rows).toHaveLength(names.length);
    } finally {
      await second.disconnect();
    }
  });
});

describe('database URLs', () => {
  it('rejects an unsupported scheme with a message naming the accepted ones', () => {
    expect(() => createDatabase({ url: 'mysql://u:secret@h/db' })).toThrow(
      /unsupported database URL scheme "mysql:": expected file:, postgres:\/\/ or postgresql:\/\//,
    );
    expect(() => createDatabase({ url: 'mysql://u:secret@h/db' })).not.toThrow(/secret/);
    expect(() => createDatabase({ url: 'file:' })).toThrow(/names no file/);
  });

  it('reads the schema from a PostgreSQL URL and never shows its password', () => {
    const info = parseDatabaseUrl('postgresql://app:hunter22@db.internal:5433/ticks?schema=tenant_1&sslmode=disable', {
      connectTimeoutMs: 1_500,
    });
    expect(info).toEqual({
      provider: 'postgresql',
      connectionString: 'postgresql://app:hunter22@db.internal:5433/ticks?sslmode=disable',
      schema: 'tenant_1',
      connectTimeoutMs: 1_500,
      statementTimeoutMs: undefined,
    });
    expect(() => parseDatabaseUrl('postgres://u:hunter22@h/db?schema=a;drop')).toThrow(/not a plain SQL identifier/);
    expect(() => parseDatabaseUrl('postgres://u:hunter22@h/db?schema=a;drop')).not.toThrow(/hunter22/);
    const database = createDatabase({ url: 'postgres://u:hunter22@127.0.0.1:1/db' });
    expect(database.displayUrl).not.toContain('hunter22');
    return database.disconnect();
  });

  it('migrates and serves a private in-memory SQLite database', async () => {
    const database = createDatabase({ url: 'file::memory:' });
    try {
      await database.ping();
      expect(await applyMigrations({ database })).toHaveLength(readMigrations(defaultMigrationsDir('sqlite')).length);
      expect(await database.prisma.tick.count()).toBe(0);
    } finally {
      await database.disconnect();
      await database.disconnect();
    }
  });
});
