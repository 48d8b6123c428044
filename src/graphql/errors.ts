/**
 * Expected client errors: a GraphQLError with `extensions.code` (and the details a client needs to fix
 * the request). Yoga's masking lets GraphQLErrors through and masks everything else as "Unexpected error.".
 */
import { createGraphQLError } from 'graphql-yoga';
import { InstrumentRequestError } from '../instruments/instrument-service.js';

/** Error codes this API returns in `extensions.code`, besides those of InstrumentRequestError. */
export const ERROR_CODES = {
  INVALID_CURSOR: 'INVALID_CURSOR',
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
  TOO_MANY_INSTRUMENT_KEYS: 'TOO_MANY_INSTRUMENT_KEYS',
  NOT_SUBSCRIBED: 'NOT_SUBSCRIBED',
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  TOO_MANY_SUBSCRIPTIONS: 'TOO_MANY_SUBSCRIPTIONS',
  QUERY_TOO_DEEP: 'QUERY_TOO_DEEP',
  TOO_MANY_ALIASES: 'TOO_MANY_ALIASES',
  TOO_MANY_TOKENS: 'TOO_MANY_TOKENS',
  QUERY_TOO_COSTLY: 'QUERY_TOO_COSTLY',
  TOO_MANY_DIRECTIVES: 'TOO_MANY_DIRECTIVES',
} as const;

export function userError(message: string, code: string, extensions: Record<string, unknown> = {}) {
  return createGraphQLError(message, { extensions: { ...extensions, code } });
}

/** Our coded GraphQLError for a refused instrument request; other errors are rethrown for masking. */
export function toGraphQLError(error: unknown): Error {
  if (error instanceof InstrumentRequestError) return userError(error.message, error.code, { ...error.details });
  return error instanceof Error ? error : new Error(String(error));
}

/** Throws TOO_MANY_INSTRUMENT_KEYS when `keys` names more than `limit` keys. */
export function checkKeyCount(keys: readonly string[], limit: number): void {
  if (keys.length > limit) {
    throw userError(
      `Too many instrument keys in one request: ${keys.length}, the limit is ${limit}; split the request`,
      ERROR_CODES.TOO_MANY_INSTRUMENT_KEYS,
      { limit, requested: keys.length },
    );
  }
}
