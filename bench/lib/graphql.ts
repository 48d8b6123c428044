/** GraphQL over HTTP for benchmark setup (mutations), with errors surfaced, never swallowed. */

export class GraphQLRequestError extends Error {
  override name = 'GraphQLRequestError';
  constructor(
    message: string,
    readonly errors: readonly unknown[],
  ) {
    super(message);
  }
}

export async function graphqlRequest<T>(
  httpUrl: string,
  query: string,
  variables: Record<string, unknown> = {},
  { timeoutMs = 60_000 }: { timeoutMs?: number } = {},
): Promise<T> {
  const response = await fetch(httpUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const body = (await response.json()) as { data?: T; errors?: { message: string }[] };
  if (body.errors?.length) {
    throw new GraphQLRequestError(`GraphQL error: ${body.errors.map((e) => e.message).join('; ')}`, body.errors);
  }
  if (!response.ok || body.data === undefined) throw new GraphQLRequestError(`HTTP ${response.status}`, []);
  return body.data;
}

export const SUBSCRIBE_INSTRUMENTS = `mutation Subscribe($keys: [String!]!, $mode: FeedMode) {
  subscribeInstruments(instrumentKeys: $keys, mode: $mode) { instrumentKey outcome }
}`;

/** Upper-case GraphQL enum value of a feed mode (`option_greeks` → `OPTION_GREEKS`). */
export function gqlMode(mode: string): string {
  return mode.toUpperCase();
}
