/**
 * Document-shape limits (graphql-armor) with our own coded errors, plus the per-request limits resolvers
 * enforce. Armor's rejections carry no `extensions.code`; we report a coded error in their place.
 */
import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import type { GraphQLError, ValidationContext } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { DEFAULT_RESOLVER_LIMITS, type ResolverLimits } from '../graphql/context.js';
import { ERROR_CODES, userError } from '../graphql/errors.js';

export interface ServerLimits {
  /** Instrument keys one query or subscription may name (latestTicks, ticks subscription). @default 500 */
  readonly maxKeysPerRequest?: number;
  /** Instrument keys one mutation may name. @default 5_000 */
  readonly maxKeysPerMutation?: number;
  /** Largest page of the `ticks` history connection. @default 1_000 */
  readonly maxPageSize?: number;
  /** Operations in flight on one graphql-ws connection (subscriptions included). @default 100 */
  readonly maxSubscriptionsPerConnection?: number;
  /** Selection depth of an operation (introspection excluded). @default 10 */
  readonly maxDepth?: number;
  /** Aliases in an operation. @default 15 */
  readonly maxAliases?: number;
  /** Lexical tokens in a document (pass long key lists as variables). @default 2_000 */
  readonly maxTokens?: number;
  /**
   * graphql-armor cost: objects 2, scalars 1, × 1.5 per level, × a literal `first`/`last` argument. One
   * 1,000-row history page with every field costs about 103,000. @default 150_000
   */
  readonly maxCost?: number;
  /** Directives in an operation. @default 50 */
  readonly maxDirectives?: number;
  /** Minimum interval between `feedStatus` subscription events, ms. @default 1_000 */
  readonly feedStatusThrottleMs?: number;
  /** Per-subscriber tick-bus buffer before conflation. @default 1_000 */
  readonly tickBufferLimit?: number;
}

export interface ResolvedLimits extends ResolverLimits {
  readonly maxSubscriptionsPerConnection: number;
  readonly maxDepth: number;
  readonly maxAliases: number;
  readonly maxTokens: number;
  readonly maxCost: number;
  readonly maxDirectives: number;
}

export function resolveLimits({
  maxKeysPerRequest = DEFAULT_RESOLVER_LIMITS.maxKeysPerRead,
  maxKeysPerMutation = DEFAULT_RESOLVER_LIMITS.maxKeysPerMutation,
  maxPageSize = DEFAULT_RESOLVER_LIMITS.maxPageSize,
  maxSubscriptionsPerConnection = 100,
  maxDepth = 10,
  maxAliases = 15,
  maxTokens = 2_000,
  maxCost = 150_000,
  maxDirectives = 50,
  feedStatusThrottleMs = DEFAULT_RESOLVER_LIMITS.feedStatusThrottleMs,
  tickBufferLimit = DEFAULT_RESOLVER_LIMITS.tickBufferLimit,
}: ServerLimits = {}): ResolvedLimits {
  return {
    maxKeysPerRead: maxKeysPerRequest,
    maxKeysPerMutation,
    maxPageSize,
    maxSubscriptionsPerConnection,
    maxDepth,
    maxAliases,
    maxTokens,
    maxCost,
    maxDirectives,
    feedStatusThrottleMs,
    tickBufferLimit,
  };
}

/** Armor's message without its "Syntax Error: " prefix (these are not syntax errors). */
const cleanMessage = (error: GraphQLError) => error.message.replace(/^Syntax Error: /, '');

/** Validation-phase rejection: report our coded error on the validation context instead of armor's. */
const report =
  (code: string, limit: number) =>
  (context: ValidationContext | null, error: GraphQLError): void => {
    const coded = userError(cleanMessage(error), code, { limit });
    if (context) context.reportError(coded);
    else throw coded;
  };

/** graphql-armor's protections with coded errors (depth, aliases, tokens, cost, directives). */
export function useDocumentLimits(limits: ResolvedLimits): Plugin {
  return EnvelopArmorPlugin({
    maxDepth: {
      n: limits.maxDepth,
      onReject: [report(ERROR_CODES.QUERY_TOO_DEEP, limits.maxDepth)],
      propagateOnRejection: false,
    },
    maxAliases: {
      n: limits.maxAliases,
      onReject: [report(ERROR_CODES.TOO_MANY_ALIASES, limits.maxAliases)],
      propagateOnRejection: false,
    },
    maxDirectives: {
      n: limits.maxDirectives,
      onReject: [report(ERROR_CODES.TOO_MANY_DIRECTIVES, limits.maxDirectives)],
      propagateOnRejection: false,
    },
    costLimit: {
      maxCost: limits.maxCost,
      onReject: [report(ERROR_CODES.QUERY_TOO_COSTLY, limits.maxCost)],
      propagateOnRejection: false,
    },
    // Parse phase: no validation context, so `report` throws the coded error out of the parser.
    maxTokens: {
      n: limits.maxTokens,
      onReject: [report(ERROR_CODES.TOO_MANY_TOKENS, limits.maxTokens)],
      propagateOnRejection: false,
    },
    blockFieldSuggestion: { enabled: true },
  }) as Plugin;
}
