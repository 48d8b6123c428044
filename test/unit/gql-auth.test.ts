import { describe, expect, it } from 'vitest';
import { authProblem, createAuthenticator, keyFromConnectionParams, keyFromHeaders } from '../../src/server/auth.js';

const headers = (values: Record<string, string>) => (name: string) => values[name] ?? null;

describe('API key resolution', () => {
  it('treats everyone as admin when no key is configured', () => {
    const auth = createAuthenticator({});
    expect(auth.open).toBe(true);
    expect(auth.resolve(null)).toEqual({ role: 'ADMIN', invalidKey: false });
    expect(auth.resolve('anything')).toEqual({ role: 'ADMIN', invalidKey: false });
  });

  it('maps admin and read keys to their roles, no key to NONE and a wrong key to an invalid NONE', () => {
    const auth = createAuthenticator({ adminKeys: ['admin-1'], readKeys: ['read-1', 'read-2'] });
    expect(auth.resolve('admin-1').role).toBe('ADMIN');
    expect(auth.resolve('read-2').role).toBe('READ');
    expect(auth.resolve(undefined)).toEqual({ role: 'NONE', invalidKey: false });
    expect(auth.resolve('read-')).toEqual({ role: 'NONE', invalidKey: true });
  });

  it('ignores empty configured keys instead of letting an empty key in', () => {
    const auth = createAuthenticator({ adminKeys: [''], readKeys: ['r'] });
    expect(auth.resolve('').role).toBe('NONE');
  });

  it('reads Bearer authorization first, then x-api-key', () => {
    expect(keyFromHeaders(headers({ authorization: 'Bearer  k1 ' }))).toBe('k1');
    expect(keyFromHeaders(headers({ authorization: 'bearer k1', 'x-api-key': 'k2' }))).toBe('k1');
    expect(keyFromHeaders(headers({ 'x-api-key': 'k2' }))).toBe('k2');
    expect(keyFromHeaders(headers({ authorization: 'Basic abc' }))).toBeNull();
    expect(keyFromHeaders(headers({}))).toBeNull();
  });

  it('reads graphql-ws connection_init payloads with authorization or apiKey', () => {
    expect(keyFromConnectionParams({ authorization: 'Bearer k1' })).toBe('k1');
    expect(keyFromConnectionParams({ Authorization: 'Bearer k1' })).toBe('k1');
    expect(keyFromConnectionParams({ apiKey: 'k2' })).toBe('k2');
    expect(keyFromConnectionParams({ apiKey: 3 })).toBeNull();
    expect(keyFromConnectionParams(undefined)).toBeNull();
  });
});

describe('authProblem', () => {
  it('lets admins do everything and readers only read, with coded errors that never name the key', () => {
    expect(authProblem({ role: 'ADMIN', invalidKey: false }, 'mutation')).toBeNull();
    expect(authProblem({ role: 'READ', invalidKey: false }, 'subscription')).toBeNull();
    expect(authProblem({ role: 'READ', invalidKey: false }, 'mutation')?.extensions).toMatchObject({
      code: 'FORBIDDEN',
      http: { status: 403 },
    });
    expect(authProblem({ role: 'NONE', invalidKey: false }, 'query')?.extensions).toMatchObject({
      code: 'UNAUTHENTICATED',
    });
    expect(authProblem({ role: 'NONE', invalidKey: true }, 'query')?.message).toBe('The API key is not valid');
  });
});
