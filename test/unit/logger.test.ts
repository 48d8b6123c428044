import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, redactUrl, scrubSecrets } from '../../src/logger.js';

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { lines, destination: destination as unknown as NodeJS.WritableStream & { write(s: string): boolean } };
}

describe('logger', () => {
  const token = 'eyJhbGciOiJIUzI1NiJ9.super-secret-token';

  it('scrubs a configured secret wherever it appears: message, fields, errors, child bindings', () => {
    const { lines, destination } = capture();
    const logger = createLogger({ level: 'debug', secrets: [token], destination });
    const child = logger.child({ component: 'feed', url: `wss://x/feed?code=1&token=${token}` });
    child.info(`authorizing with ${token}`);
    child.warn({ headers: { Authorization: `Bearer ${token}` } }, 'request');
    child.error({ err: new Error(`401 for Bearer ${token}`) }, 'failed');
    child.debug({ nested: { deep: [token] } }, 'deep');
    expect(lines).toHaveLength(4);
    for (const line of lines) expect(line).not.toContain(token);
    expect(lines.join('')).toContain('[REDACTED]');
  });

  it('redacts known secret fields by path even when their value is not configured', () => {
    const { lines, destination } = capture();
    createLogger({ destination }).info({ accessToken: 'unconfigured-value', apiKey: 'k-unconfigured' }, 'x');
    expect(lines[0]).not.toContain('unconfigured-value');
    expect(lines[0]).not.toContain('k-unconfigured');
  });

  it('masks passwords in connection URLs', () => {
    expect(redactUrl('postgres://app:pw%40x@db:5432/t')).toBe('postgres://app:[REDACTED]@db:5432/t');
    expect(redactUrl('file:./data/x.db')).toBe('file:./data/x.db');
    expect(scrubSecrets('a secret here', ['secret'])).toBe('a [REDACTED] here');
  });
});
