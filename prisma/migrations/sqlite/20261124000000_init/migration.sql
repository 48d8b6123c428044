-- CreateTable
CREATE TABLE "Tick" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "instrumentKey" TEXT NOT NULL,
    "exchangeTs" BIGINT NOT NULL,
    "receivedAt" BIGINT NOT NULL,
    "mode" TEXT NOT NULL,
    "ltp" REAL,
    "lastTradeTime" BIGINT,
    "ltq" BIGINT,
    "closePrice" REAL,
    "volume" BIGINT,
    "openInterest" REAL,
    "averagePrice" REAL,
    "impliedVolatility" REAL,
    "totalBuyQty" REAL,
    "totalSellQty" REAL,
    "bestBidPrice" REAL,
    "bestBidQty" BIGINT,
    "bestAskPrice" REAL,
    "bestAskQty" BIGINT,
    "dayOpen" REAL,
    "dayHigh" REAL,
    "dayLow" REAL,
    "delta" REAL,
    "theta" REAL,
    "gamma" REAL,
    "vega" REAL,
    "rho" REAL
);

-- CreateTable
CREATE TABLE "InstrumentSubscription" (
    "instrumentKey" TEXT NOT NULL PRIMARY KEY,
    "mode" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL
);

-- CreateIndex
CREATE INDEX "Tick_instrumentKey_exchangeTs_id_idx" ON "Tick"("instrumentKey", "exchangeTs", "id");
