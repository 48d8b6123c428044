import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor } from '../../src/graphql/schema/history.js';

describe('history cursors', () => {
  it('round-trip the keyset position, ids beyond 2^53 included', () => {
    const position = { exchangeTs: 1_760_000_000_123, id: '9223372036854775807' };
    const cursor = encodeCursor(position);
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(cursor)).toEqual(position);
  });

  it.each([
    ['not base64 JSON', 'bm90LWEtY3Vyc29y'],
    ['a wrong shape', Buffer.from(JSON.stringify({ exchangeTs: 1, id: '1' })).toString('base64url')],
    ['a non-numeric id', Buffer.from(JSON.stringify([1, 'abc'])).toString('base64url')],
    ['a fractional timestamp', Buffer.from(JSON.stringify([1.5, '1'])).toString('base64url')],
    ['an empty string', ''],
  ])('refuse %s with INVALID_CURSOR', (_what, cursor) => {
    expect(() => decodeCursor(cursor)).toThrow(
      expect.objectContaining({ extensions: expect.objectContaining({ code: 'INVALID_CURSOR' }) }),
    );
  });
});
