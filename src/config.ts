/**
 * Configuration: environment variables (and a `.env` file, loaded by main.ts) validated with zod.
 * `loadConfig(env)` is pure: it never reads `process`, never exits; every problem is reported at once in
 * one ConfigError. `.env.example` documents every variable; test/unit/config.test.ts keeps the two in sync.
 */
import { z } from 'zod';

/** Thrown by loadConfig with every problem found, one per line. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(readonly problems: readonly string[]) {
    super(
      `Invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n  - ${problems.join('\n  - ')}`,
    );
  }
}

const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max);
const bool = z.stringbool({ truthy: ['true', '1', 'yes', 'on'], falsy: ['false', '0', 'no', 'off', ''] });
const keyList = z
  .string()
  .transform((s) =>
    s
      .split(',')
      .map((k) => k.trim())
      .filter(Boolean),
  )
  .refine((keys) => keys.every((k) => k.length >= 16), { message: 'every API key must be at least 16 characters' });

const DURATION = /^(\d+)(ms|s|m|h|d)?$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
/** "250ms", "30s", "15m", "12h", "7d" or a bare number of milliseconds. */
const duration = z.string().transform((value, ctx) => {
  const match = DURATION.exec(value.trim());
  if (!match) {
    ctx.addIssue({ code: 'custom', message: `expected a duration like 500ms, 30s, 15m, 12h or 7d, got "${value}"` });
    return z.NEVER;
  }
  return Number(match[1]) * UNIT_MS[match[2] ?? 'ms']!;
});

const databaseUrl = z.string().refine((url) => /^(file:|postgres(ql)?:\/\/)/.test(url), {
  message: 'expected file:<path> (SQLite) or postgres://user@host:port/db (PostgreSQL)',
});

/** The variables, their defaults and meaning. Keep .env.example in step (a test checks). */
const schema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  HOST: z.string().min(1).default('0.0.0.0'),
  PORT: int(0, 65_535).default(4000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOG_FORMAT: z.enum(['auto', 'json', 'pretty']).default('auto'),

  DATABASE_URL: databaseUrl.default('file:./data/tickgraph.db'),
  DATABASE_POOL_SIZE: int(1, 100).default(10),
  DATABASE_CONNECT_TIMEOUT_MS: int(100).default(5_000),

  UPSTOX_ACCESS_TOKEN: z.string().default(''),
  UPSTOX_API_BASE: z.url({ protocol: /^https?$/ }).default('https://api.upstox.com'),
  UPSTOX_PLUS: bool.default(false),
  FEED_RECORD_FILE: z.string().default(''),
  FEED_REPLAY_FILE: z.string().default(''),
  FEED_REPLAY_SPEED: z.coerce.number().positive().max(1_000).default(1),
  FEED_LIVENESS_TIMEOUT: duration.default(30_000),
  FEED_DATA_TIMEOUT: duration.default(120_000),

  SIMULATOR_TICKS_PER_SECOND: int(1, 1_000_000).default(50),
  SIMULATOR_PORT: int(0, 65_535).default(0),
  DEFAULT_SUBSCRIPTION_MODE: z.enum(['ltpc', 'full', 'option_greeks']).default('full'),

  API_KEYS_READ: keyList.default([]),
  API_KEYS_ADMIN: keyList.default([]),
  MAX_KEYS_PER_REQUEST: int(1, 5_000).default(500),
  MAX_SUBSCRIPTIONS_PER_CONNECTION: int(1, 1_000).default(20),
  SUBSCRIBER_BUFFER_LIMIT: int(10, 1_000_000).default(1_000),

  RECORDER_ENABLED: bool.default(true),
  RECORDER_BATCH_SIZE: int(1, 100_000).default(2_000),
  RECORDER_FLUSH_INTERVAL: duration.default(250),
  RECORDER_MAX_BUFFERED_TICKS: int(1_000, 50_000_000).default(200_000),
  RETENTION_MAX_AGE: duration.default(0),

  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'expected redis://host:port')
    .or(z.literal(''))
    .default(''),
  REDIS_NAMESPACE: z
    .string()
    .regex(/^[\w.-]{1,64}$/, 'expected letters, digits, _ . - (at most 64)')
    .default('tickgraph'),
  SHUTDOWN_TIMEOUT: duration.default(10_000),
});

type Env = z.output<typeof schema>;

export interface Config {
  readonly env: Env['NODE_ENV'];
  readonly http: { readonly host: string; readonly port: number };
  readonly log: { readonly level: Env['LOG_LEVEL']; readonly format: Env['LOG_FORMAT'] };
  readonly database: { readonly url: string; readonly poolSize: number; readonly connectTimeoutMs: number };
  readonly feed: {
    /** Empty: run against the embedded simulator. */
    readonly accessToken: string;
    readonly apiBase: string;
    readonly plus: boolean;
    readonly recordFile: string;
    readonly replayFile: string;
    readonly replaySpeed: number;
    readonly livenessTimeoutMs: number;
    /** Reconnect when neither a frame nor a server ping arrived for this long (a hung feed on a live socket); 0 = off. */
    readonly dataTimeoutMs: number;
    readonly source: 'UPSTOX' | 'SIMULATOR' | 'REPLAY';
  };
  readonly simulator: {
    readonly ticksPerSecond: number;
    readonly port: number;
    readonly defaultMode: Env['DEFAULT_SUBSCRIPTION_MODE'];
  };
  readonly api: {
    readonly readKeys: readonly string[];
    readonly adminKeys: readonly string[];
    readonly maxKeysPerRequest: number;
    readonly maxSubscriptionsPerConnection: number;
    readonly subscriberBufferLimit: number;
  };
  readonly recorder: {
    readonly enabled: boolean;
    readonly batchSize: number;
    readonly flushIntervalMs: number;
    readonly maxBufferedTicks: number;
    /** 0 keeps ticks forever. */
    readonly retentionMaxAgeMs: number;
  };
  readonly redisUrl: string;
  /** Prefix of Redis keys and channels: instances with the same namespace share one feed. */
  readonly redisNamespace: string;
  readonly shutdownTimeoutMs: number;
  /** Values that must never be logged or returned: scrubbed from every log line. */
  readonly secrets: readonly string[];
}

/** Every variable loadConfig reads, for documentation checks. */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(schema.shape);

export function loadConfig(env: Readonly<Record<string, string | undefined>>): Config {
  // Empty strings mean "unset" for optional values, like most twelve-factor apps.
  const input: Record<string, string> = {};
  for (const name of CONFIG_VARIABLES) {
    const value = env[name];
    if (value !== undefined && value !== '') input[name] = value;
  }
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => {
        const name = issue.path.join('.');
        // Never echo a secret back: these variables' values are not repeated in messages.
        return `${name}: ${issue.message}`;
      }),
    );
  }
  const e = parsed.data;
  const problems: string[] = [];
  if (e.FEED_REPLAY_FILE && e.UPSTOX_ACCESS_TOKEN) {
    problems.push('FEED_REPLAY_FILE and UPSTOX_ACCESS_TOKEN are exclusive: replay runs against the simulator');
  }
  const overlap = e.API_KEYS_READ.filter((k) => e.API_KEYS_ADMIN.includes(k));
  if (overlap.length > 0) problems.push('API_KEYS_READ and API_KEYS_ADMIN share a key; admin keys can already read');
  if (problems.length > 0) throw new ConfigError(problems);

  const passwordOf = (url: string) => /^[a-z][a-z0-9+.-]*:\/\/[^:/@]*:([^@]+)@/i.exec(url)?.[1];
  const secrets = [
    e.UPSTOX_ACCESS_TOKEN,
    ...e.API_KEYS_READ,
    ...e.API_KEYS_ADMIN,
    passwordOf(e.DATABASE_URL) ?? '',
    passwordOf(e.REDIS_URL) ?? '',
  ].filter((s) => s.length > 0);

  return {
    env: e.NODE_ENV,
    http: { host: e.HOST, port: e.PORT },
    log: { level: e.LOG_LEVEL, format: e.LOG_FORMAT },
    database: { url: e.DATABASE_URL, poolSize: e.DATABASE_POOL_SIZE, connectTimeoutMs: e.DATABASE_CONNECT_TIMEOUT_MS },
    feed: {
      accessToken: e.UPSTOX_ACCESS_TOKEN,
      apiBase: e.UPSTOX_API_BASE,
      plus: e.UPSTOX_PLUS,
      recordFile: e.FEED_RECORD_FILE,
      replayFile: e.FEED_REPLAY_FILE,
      replaySpeed: e.FEED_REPLAY_SPEED,
      livenessTimeoutMs: e.FEED_LIVENESS_TIMEOUT,
      dataTimeoutMs: e.FEED_DATA_TIMEOUT,
      source: e.UPSTOX_ACCESS_TOKEN ? 'UPSTOX' : e.FEED_REPLAY_FILE ? 'REPLAY' : 'SIMULATOR',
    },
    simulator: {
      ticksPerSecond: e.SIMULATOR_TICKS_PER_SECOND,
      port: e.SIMULATOR_PORT,
      defaultMode: e.DEFAULT_SUBSCRIPTION_MODE,
    },
    api: {
      readKeys: e.API_KEYS_READ,
      adminKeys: e.API_KEYS_ADMIN,
      maxKeysPerRequest: e.MAX_KEYS_PER_REQUEST,
      maxSubscriptionsPerConnection: e.MAX_SUBSCRIPTIONS_PER_CONNECTION,
      subscriberBufferLimit: e.SUBSCRIBER_BUFFER_LIMIT,
    },
    recorder: {
      enabled: e.RECORDER_ENABLED,
      batchSize: e.RECORDER_BATCH_SIZE,
      flushIntervalMs: e.RECORDER_FLUSH_INTERVAL,
      maxBufferedTicks: e.RECORDER_MAX_BUFFERED_TICKS,
      retentionMaxAgeMs: e.RETENTION_MAX_AGE,
    },
    redisUrl: e.REDIS_URL,
    redisNamespace: e.REDIS_NAMESPACE,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT,
    secrets,
  };
}
