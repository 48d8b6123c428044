/**
 * GraphiQL tabs preloaded on first visit: one example operation per tab. The example keys are written into the
 * operations rather than passed as variables: GraphiQL does not apply a preset tab's variables, and an example
 * that fails with "Variable $keys was not provided" is a poor first impression (test/e2e/graphiql-browser.test.ts).
 */
const tab = (query: string) => ({ query, variables: null });

const KEYS = '["NSE_INDEX|Nifty 50", "NSE_EQ|INE002A01018"]';

export const GRAPHIQL_TABS = [
  tab(
    `# Live ticks over WebSocket: first the cached snapshot, then one event per upstream frame.
subscription LiveTicks {
  ticks(instrumentKeys: ${KEYS}, throttleMs: 250) {
    updates {
      instrumentKey
      changed
      tick { ltp lastTradeTime volume depth { bidPrice bidQty askPrice askQty } }
    }
  }
}`,
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
    `query Latest {
  latestTicks(instrumentKeys: ${KEYS}) {
    instrumentKey mode exchangeTs ltp closePrice volume openInterest impliedVolatility
    greeks { delta theta gamma vega rho }
    candles { interval open high low close volume ts }
  }
}`,
  ),
  tab(
    `# Pass pageInfo.endCursor as \`after\` to read the next page.
query History {
  ticks(instrumentKey: "NSE_EQ|INE002A01018", first: 50, order: NEWEST_FIRST) {
    edges { cursor node { exchangeTs ltp volume bestBidPrice bestAskPrice } }
    pageInfo { hasNextPage endCursor }
  }
}`,
  ),
  tab(
    `# Needs an admin API key when keys are configured (Headers: {"Authorization": "Bearer <key>"}).
mutation Subscribe {
  subscribeInstruments(instrumentKeys: ${KEYS}, mode: FULL) { instrumentKey outcome mode }
}`,
  ),
];
