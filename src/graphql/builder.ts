/**
 * The Pothos builder and our scalars. No object types live here: each domain registers its own in
 * `schema/<domain>.ts`, and `schema/index.ts` builds the schema from a fresh builder on every call (no
 * module-level builder, so tests can build as many schemas as they like).
 *
 * Scalars, and why:
 * - `Timestamp`: epoch milliseconds as a JSON number. GraphQL `Int` is 32-bit and cannot hold epoch ms
 *   (1.7e12); a Float would do on the wire but says nothing about the unit. Exact up to 2^53.
 * - `DateTime`: an ISO-8601 string, for bookkeeping times (subscription created/updated) humans read.
 * - `SafeInt`: an integer within ±(2^53 − 1) as a JSON number, for quantities (`vtt`, `ltq`, candle volume
 *   are int64 upstream and routinely exceed 2^31).
 */
import SchemaBuilder from '@pothos/core';
import { Kind } from 'graphql';
import { createGraphQLError } from 'graphql-yoga';
import type { GraphQLContext } from './context.js';

export interface TickgraphSchemaTypes {
  Context: GraphQLContext;
  /** Fields are non-null unless declared `nullable: true` (the schema says what can be missing). */
  DefaultFieldNullability: false;
  Scalars: {
    Timestamp: { Input: number; Output: number };
    DateTime: { Input: Date; Output: Date };
    SafeInt: { Input: number; Output: number };
  };
}

export type Builder = PothosSchemaTypes.SchemaBuilder<PothosSchemaTypes.ExtendDefaultTypes<TickgraphSchemaTypes>>;

function safeInteger(value: unknown, scalar: string): number {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n)) {
    throw createGraphQLError(`${scalar} must be an integer within ±(2^53 − 1); got ${JSON.stringify(value)}`);
  }
  return n;
}

/** A fresh builder with the scalars and the three root types declared. */
export function createBuilder(): Builder {
  const builder = new SchemaBuilder<TickgraphSchemaTypes>({ defaultFieldNullability: false });

  builder.scalarType('Timestamp', {
    description: 'Milliseconds since the Unix epoch (UTC), as a JSON number.',
    serialize: (value) => safeInteger(value, 'Timestamp'),
    parseValue: (value) => safeInteger(value, 'Timestamp'),
    parseLiteral: (node) => {
      if (node.kind !== Kind.INT && node.kind !== Kind.STRING) throw createGraphQLError('Timestamp must be an integer');
      return safeInteger(node.value, 'Timestamp');
    },
  });

  builder.scalarType('SafeInt', {
    description: 'An integer within ±(2^53 − 1), as a JSON number (quantities that exceed 32-bit Int).',
    serialize: (value) => safeInteger(value, 'SafeInt'),
    parseValue: (value) => safeInteger(value, 'SafeInt'),
    parseLiteral: (node) => {
      if (node.kind !== Kind.INT) throw createGraphQLError('SafeInt must be an integer literal');
      return safeInteger(node.value, 'SafeInt');
    },
  });

  const parseDate = (value: unknown): Date => {
    const date = typeof value === 'string' ? new Date(value) : null;
    if (!date || Number.isNaN(date.getTime())) {
      throw createGraphQLError(`DateTime must be an ISO-8601 string; got ${JSON.stringify(value)}`);
    }
    return date;
  };
  builder.scalarType('DateTime', {
    description: 'An ISO-8601 date-time string in UTC, e.g. 2026-01-05T09:15:00.000Z.',
    serialize: (value) => (value instanceof Date ? value : new Date(value as number)).toISOString(),
    parseValue: parseDate,
    parseLiteral: (node) => {
      if (node.kind !== Kind.STRING) throw createGraphQLError('DateTime must be a string');
      return parseDate(node.value);
    },
  });

  builder.queryType({ description: 'Reads: feed status, the desired subscription set, latest ticks and history.' });
  builder.mutationType({ description: 'Changes to the desired subscription set (admin).' });
  builder.subscriptionType({ description: 'Live streams over WebSocket (graphql-ws) or SSE.' });
  return builder;
}
