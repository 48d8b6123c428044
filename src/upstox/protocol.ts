/**
 * Vocabulary of the Upstox Market Data Feed V3: modes, methods, caps, segments, request shape, endpoints.
 * No I/O here: the client (feed-client.ts) and the simulator both speak in these terms.
 * Spec: shared/upstox-feed-v3.md (section numbers below refer to it).
 */

/** Subscription modes as requested by a client (§2.3). */
export const FEED_MODES = ['ltpc', 'option_greeks', 'full', 'full_d30'] as const;
export type FeedMode = (typeof FEED_MODES)[number];

export function isFeedMode(value: unknown): value is FeedMode {
  return typeof value === 'string' && (FEED_MODES as readonly string[]).includes(value);
}

/** Request methods (§2.2). */
export const FEED_METHODS = ['sub', 'unsub', 'change_mode'] as const;
export type FeedMethod = (typeof FEED_METHODS)[number];

/**
 * A client request. Sent as a **binary** WebSocket frame of UTF-8 JSON (§2.1); the same JSON as a text frame
 * is silently ignored by Upstox.
 */
export interface FeedRequest {
  readonly guid: string;
  readonly method: FeedMethod;
  readonly data: {
    /** Required for `sub` (defaults to ltpc upstream) and `change_mode`; omitted for `unsub`. */
    readonly mode?: FeedMode;
    readonly instrumentKeys: readonly string[];
  };
}

/** `Feed.requestMode` on the wire (§3.1): `full` comes back as `full_d5`. */
export const WIRE_REQUEST_MODE = { ltpc: 0, full_d5: 1, option_greeks: 2, full_d30: 3 } as const;
export const WIRE_MODE_TO_FEED_MODE: Readonly<Record<number, FeedMode>> = {
  0: 'ltpc',
  1: 'full',
  2: 'option_greeks',
  3: 'full_d30',
};
export const FEED_MODE_TO_WIRE: Readonly<Record<FeedMode, number>> = {
  ltpc: 0,
  full: 1,
  option_greeks: 2,
  full_d30: 3,
};

/** `FeedResponse.type` (§3.1). `initial_feed` (0) is absent on the wire. */
export const FRAME_TYPE = { initial_feed: 0, live_feed: 1, market_info: 2 } as const;

/** Segment market statuses (§3.1, `MarketStatus`). */
export const MARKET_STATUSES = [
  'PRE_OPEN_START',
  'PRE_OPEN_END',
  'NORMAL_OPEN',
  'NORMAL_CLOSE',
  'CLOSING_START',
  'CLOSING_END',
] as const;
export type MarketStatus = (typeof MARKET_STATUSES)[number];

/** Segments that can appear in instrument keys and in `market_info` (§5, §3.4). */
export const SEGMENTS = [
  'NSE_EQ',
  'NSE_INDEX',
  'NSE_FO',
  'NSE_COM',
  'NCD_FO',
  'BSE_EQ',
  'BSE_INDEX',
  'BSE_FO',
  'BCD_FO',
  'MCX_FO',
  'MCX_INDEX',
  'GLOBAL_INDEX',
  'GLOBAL_INDICATOR',
] as const;
export type Segment = (typeof SEGMENTS)[number];

/**
 * Per-connection key caps (§2.5). "Individual" applies when the connection uses one category only;
 * "combined" applies to every category when more than one is in use. full_d30 needs Upstox Plus and is
 * capped at 50 keys whatever else is subscribed (the doc's "1500 combined" for it would exceed its own
 * individual cap, so the tighter number wins).
 */
export const KEY_CAPS: Readonly<Record<FeedMode, { readonly individual: number; readonly combined: number }>> = {
  ltpc: { individual: 5000, combined: 2000 },
  option_greeks: { individual: 3000, combined: 2000 },
  full: { individual: 2000, combined: 1500 },
  full_d30: { individual: 50, combined: 50 },
};

export type InstrumentKeyProblem = 'FORMAT' | 'UNKNOWN_SEGMENT';

// SEGMENT|ID, where ID is an ISIN, exchange token, or an index name (spaces allowed, e.g. `Nifty 50`;
// `^HSI` for global indices). No control characters, no second `|`.
const KEY_PATTERN = /^([A-Z_]+)\|([A-Za-z0-9 ^&._:-]{1,64})$/;

/** Why `key` is not a valid instrument key, or null when it is. */
export function instrumentKeyProblem(key: string): InstrumentKeyProblem | null {
  const match = KEY_PATTERN.exec(key);
  if (!match || match[2]!.trim() !== match[2]) return 'FORMAT';
  return (SEGMENTS as readonly string[]).includes(match[1]!) ? null : 'UNKNOWN_SEGMENT';
}

export function segmentOf(key: string): string {
  const bar = key.indexOf('|');
  return bar === -1 ? key : key.slice(0, bar);
}

/** Default endpoints (§0, §1). Configurable so the simulator and tests plug in. */
export const UPSTOX_API_BASE = 'https://api.upstox.com';
export const AUTHORIZE_PATH = '/v3/feed/market-data-feed/authorize';
export const DIRECT_FEED_PATH = '/v3/feed/market-data-feed';
export const FEEDER_PATH = '/market-data-feeder/v3/upstox-developer-api/feeds';

/** REST error envelope (§1.1), e.g. UDAPI100050 = invalid token, UDAPI10005 = too many requests. */
export interface UpstoxErrorBody {
  readonly status: 'error';
  readonly errors: ReadonlyArray<{
    readonly error_code: string;
    readonly message: string;
    readonly property_path: string | null;
    readonly invalid_value: unknown;
    readonly errorCode: string;
    readonly propertyPath: string | null;
    readonly invalidValue: unknown;
  }>;
}
export const UPSTOX_ERROR = {
  INVALID_TOKEN: 'UDAPI100050',
  TOO_MANY_REQUESTS: 'UDAPI10005',
} as const;
