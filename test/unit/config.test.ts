import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES, ConfigError, loadConfig } from '../../src/config.js';

function parseEnvExample(): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const line of readFileSync(new URL('../../.env.example', import.meta.url), 'utf8').split('\n')) {
    const match = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (match) vars[match[1]!] = match[2]!;
  }
  return vars;
}

describe('loadConfig', () => {
  it('runs on embedded defaults: port 4000, SQLite under ./data, simulator feed', () => {
    const config = loadConfig({});
    expect(config.http.port).toBe(4000);
    expect(config.database.url).toBe('file:./data/tickgraph.db');
    expect(config.feed.source).toBe('SIMULATOR');
    expect(config.feed.accessToken).toBe('');
    expect(config.secrets).toEqual([]);
  });

  it('reports every problem at once in one message', () => {
    let error: unknown;
    try {
      loadConfig({ PORT: '99999', DATABASE_URL: 'mysql://db', RETENTION_MAX_AGE: '3 weeks', UPSTOX_PLUS: 'maybe' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const { problems, message } = error as ConfigError;
    expect(problems).toHaveLength(4);
    for (const name of ['PORT', 'DATABASE_URL', 'RETENTION_MAX_AGE', 'UPSTOX_PLUS']) expect(message).toContain(name);
  });

  it('parses durations with units and picks the feed source', () => {
    const config = loadConfig({ SHUTDOWN_TIMEOUT: '15s', RETENTION_MAX_AGE: '7d', FEED_REPLAY_FILE: 'day.rec' });
    expect(config.shutdownTimeoutMs).toBe(15_000);
    expect(config.recorder.retentionMaxAgeMs).toBe(7 * 86_400_000);
    expect(config.feed.source).toBe('REPLAY');
    expect(loadConfig({ UPSTOX_ACCESS_TOKEN: 'eyJ-real-token-value' }).feed.source).toBe('UPSTOX');
  });

  it('collects secrets (token, API keys, URL passwords) without echoing them in errors', () => {
    const config = loadConfig({
      UPSTOX_ACCESS_TOKEN: 'tok-abcdef-123456',
      API_KEYS_READ: 'read-key-0123456789',
      API_KEYS_ADMIN: 'admin-key-0123456789',
      DATABASE_URL: 'postgres://app:s3cret-pw@db:5432/ticks',
    });
    expect(config.secrets).toEqual(['tok-abcdef-123456', 'read-key-0123456789', 'admin-key-0123456789', 's3cret-pw']);
    try {
      loadConfig({ API_KEYS_READ: 'short-secret', UPSTOX_ACCESS_TOKEN: 'tok-abcdef-123456', FEED_REPLAY_FILE: 'x' });
      expect.unreachable();
    } catch (e) {
      expect((e as Error).message).not.toContain('short-secret');
      expect((e as Error).message).not.toContain('tok-abcdef-123456');
    }
  });

  it('treats empty values as unset', () => {
    expect(loadConfig({ PORT: '', UPSTOX_ACCESS_TOKEN: '' }).http.port).toBe(4000);
  });

  it('.env.example lists every variable with its default', () => {
    const example = parseEnvExample();
    expect(Object.keys(example).sort()).toEqual([...CONFIG_VARIABLES].sort());
    expect(loadConfig(example)).toEqual(loadConfig({}));
  });
});
