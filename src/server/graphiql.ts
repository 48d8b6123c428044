/** GraphiQL tabs preloaded on first visit: one example operation per tab (documents stay small). */
const tab = (query: string, variables?: Record<string, unknown>) => ({
  query,
  variables: variables ? JSON.stringify(variables, null, 2) : null,
});

const EXAMPLE_KEYS = ['NSE_INDEX|Nifty 50', 'NSE_EQ|INE002A01018'];

export const GRAPHIQL_TABS = [
  tab(
    `# Live ticks over WebSocket: first the cached snapshot, then one event per upstream frame.
subscription LiveTicks($keys: [String!]!) {
  ticks(instrumentKeys: $keys, throttleMs: 250) {
    updates {
      instrumentKey
      changed
      tick { ltp lastTradeTime volume depth { bidPrice bidQty askPrice askQty } }
    }
  }
}`,
    { keys: EXAMPLE_KEYS },
  ),
  tab(`query FeedStatus {
  feedStatus {
    state source connectedSince reconnects lastError ticksPerSecond
    keysByMode { mode count }
    activeKeysByMode { mode count }
    droppedTicks { reason count }
    conflatedUpdates
    segments { segment status }
  }
}`),
  tab(`query Subscriptions {
  instrumentSubscriptions { instrumentKey mode active activeMode updatedAt }
}`),
  tab(
    `query Latest($keys: [String!]!) {
  latestTicks(instrumentKeys: $keys) {
    instrumentKey mode exchangeTs ltp closePrice volume openInterest impliedVolatility
    greeks { delta theta gamma vega rho }
    candles { interval open high low close volume ts }
  }
}`,
    { keys: EXAMPLE_KEYS },
  ),
  tab(
    `query History($key: String!, $after: String) {
  ticks(instrumentKey: $key, first: 50, after: $after, order: NEWEST_FIRST) {
    edges { cursor node { exchangeTs ltp volume bestBidPrice bestAskPrice } }
    pageInfo { hasNextPage endCursor }
  }
}`,
    { key: EXAMPLE_KEYS[1] },
  ),
  tab(
    `# Needs an admin API key when keys are configured (Headers: {"Authorization": "Bearer <key>"}).
mutation Subscribe($keys: [String!]!) {
  subscribeInstruments(instrumentKeys: $keys, mode: FULL) { instrumentKey outcome mode }
}`,
    { keys: EXAMPLE_KEYS },
  ),
];
