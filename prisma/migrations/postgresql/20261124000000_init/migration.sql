-- CreateTable
CREATE TABLE "Tick" (
    "id" BIGSERIAL NOT NULL,
    "instrumentKey" TEXT NOT NULL,
    "exchangeTs" BIGINT NOT NULL,
    "receivedAt" BIGINT NOT NULL,
    "mode" TEXT NOT NULL,
    "ltp" DOUBLE PRECISION,
    "lastTradeTime" BIGINT,
    "ltq" BIGINT,
    "closePrice" DOUBLE PRECISION,
    "volume" BIGINT,
    "openInterest" DOUBLE PRECISION,
    "averagePrice" DOUBLE PRECISION,
    "impliedVolatility" DOUBLE PRECISION,
    "totalBuyQty" DOUBLE PRECISION,
    "totalSellQty" DOUBLE PRECISION,
    "bestBidPrice" DOUBLE PRECISION,
    "bestBidQty" BIGINT,
    "bestAskPrice" DOUBLE PRECISION,
    "bestAskQty" BIGINT,
    "dayOpen" DOUBLE PRECISION,
    "dayHigh" DOUBLE PRECISION,
    "dayLow" DOUBLE PRECISION,
    "delta" DOUBLE PRECISION,
    "theta" DOUBLE PRECISION,
    "gamma" DOUBLE PRECISION,
    "vega" DOUBLE PRECISION,
    "rho" DOUBLE PRECISION,

    CONSTRAINT "Tick_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "InstrumentSubscription" (
    "instrumentKey" TEXT NOT NULL,
    "mode" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "InstrumentSubscription_pkey" PRIMARY KEY ("instrumentKey")
);

-- CreateIndex
CREATE INDEX "Tick_instrumentKey_exchangeTs_id_idx" ON "Tick"("instrumentKey", "exchangeTs", "id");
