/** Keeps configured secrets (Upstox token, API keys, DB passwords) out of GraphQL errors on every transport. */
import { createGraphQLError, type Plugin } from 'graphql-yoga';
import { scrubSecrets } from '../logger.js';

/** The error itself when it mentions no secret; otherwise a copy with every secret replaced. */
export function withoutSecrets<E extends Error>(error: E, secrets: readonly string[]): E {
  if (secrets.length === 0) return error;
  const extensions = (error as { extensions?: Record<string, unknown> }).extensions;
  const text = error.message + (extensions ? JSON.stringify(extensions) : '');
  if (!secrets.some((secret) => secret.length >= 4 && text.includes(secret))) return error;
  const gql = error as { path?: readonly (string | number)[] };
  return createGraphQLError(scrubSecrets(error.message, secrets), {
    path: gql.path,
    extensions:
      extensions && (JSON.parse(scrubSecrets(JSON.stringify(extensions), secrets)) as Record<string, unknown>),
  }) as unknown as E;
}

/**
 * Scrubs parse and validation errors, which skip yoga's error masking (a document can name a secret, e.g.
 * as a field: "Cannot query field \"<key>\""). Part of the envelop pipeline, so graphql-ws gets it too.
 */
export function useSecretScrubbing(secrets: readonly string[]): Plugin {
  if (secrets.length === 0) return {};
  return {
    onParse:
      () =>
      ({ result, replaceParseResult }) => {
        if (result instanceof Error) replaceParseResult(withoutSecrets(result, secrets));
      },
    onValidate:
      () =>
      ({ result, setResult }) => {
        if (result.length > 0) setResult(result.map((error) => withoutSecrets(error, secrets)));
      },
  };
}
