/**
 * The simulator's market: a configurable universe of instruments with real-format Upstox keys and a seeded
 * random walk per instrument. Prices are kept as integer paise so they always land on the instrument's tick
 * (₹0.05 for equities and F&O, ₹0.01 for indices) without float drift; volumes only grow; depth sits around
 * the last price; day and last-minute candles track every trade. Options are priced off their underlying with
 * Black–Scholes, so their greeks are consistent with their premium.
 *
 * Deterministic: the same universe, seed, clock readings and call sequence give the same numbers.
 */

/** What kind of instrument a key names; decides tick size, which feed branch it uses and its fields. */
export type InstrumentKind = 'equity' | 'index' | 'future' | 'option';

export interface InstrumentSpec {
  /** Upstox instrument key, e.g. `NSE_EQ|INE002A01018`, `NSE_INDEX|Nifty 50`, `NSE_FO|52910`. */
  readonly key: string;
  readonly kind: InstrumentKind;
  /** Trading symbol, e.g. `RELIANCE`, `NIFTY 24500 CE 27 NOV 26`. */
  readonly symbol: string;
  readonly name: string;
  /** Price tick in rupees: 0.05 for equities and F&O, 0.01 for indices. */
  readonly tickSize: number;
  /** Previous day close in rupees (the walk starts near it and is kept within ±20% of it). */
  readonly previousClose: number;
  /** Contract lot size (1 for equities and indices). */
  readonly lotSize: number;
  /** For F&O: the underlying's key (options are priced off it when it is in the universe). */
  readonly underlyingKey?: string;
  readonly optionType?: 'CE' | 'PE';
  readonly strike?: number;
  /** For F&O: expiry, epoch ms. */
  readonly expiry?: number;
}

/** One level of the book, in Upstox's field names. */
export interface BookLevel {
  readonly bidQ: number;
  readonly bidP: number;
  readonly askQ: number;
  readonly askP: number;
}

export interface Candle {
  readonly open: number;
  readonly high: number;
  readonly low: number;
  readonly close: number;
  readonly vol: number;
  /** Candle start, epoch ms. */
  readonly ts: number;
}

export interface GreeksValues {
  readonly delta: number;
  readonly theta: number;
  readonly gamma: number;
  readonly vega: number;
  readonly rho: number;
}

/** Read-only view of one instrument's current state (rupees, epoch ms). */
export interface InstrumentState {
  readonly spec: InstrumentSpec;
  readonly ltp: number;
  readonly ltt: number;
  readonly ltq: number;
  readonly cp: number;
  readonly day: Candle;
  /** Last completed one-minute candle (Upstox `I1`). */
  readonly lastMinute: Candle;
  /** Volume traded today (0 for indices). */
  readonly vtt: number;
  /** Average traded price (0 for indices). */
  readonly atp: number;
  /** Open interest (F&O only, else 0). */
  readonly oi: number;
  /** Implied volatility as a fraction (options only, else 0). */
  readonly iv: number;
  /** Greeks (options only, else null). */
  readonly greeks: GreeksValues | null;
  readonly tbq: number;
  readonly tsq: number;
  /** Number of trades the model generated for this instrument. */
  readonly trades: number;
}

/** Bits of a {@link MarketModel.step} result: which parts of the instrument changed. */
export const CHANGE = { TRADE: 1, DEPTH: 2 } as const;

export interface MarketModelOptions {
  /** Instruments to simulate. @default defaultUniverse() */
  universe?: readonly InstrumentSpec[];
  /** PRNG seed; the same seed gives the same walk. @default 1 */
  seed?: number;
  /** Clock (epoch ms) used for trade times and candles; injectable for deterministic tests. @default Date.now */
  now?: () => number;
}

export interface MarketModel {
  instruments(): readonly InstrumentSpec[];
  has(key: string): boolean;
  /** Current state of `key`, or undefined for a key outside the universe. The object is live: copy to keep. */
  state(key: string): InstrumentState | undefined;
  /** Current last price of `key` (rupees), or undefined. */
  ltp(key: string): number | undefined;
  /** The book around the last quote, best level first (empty for indices). Deterministic per quote. */
  depth(key: string, levels: number): BookLevel[];
  /**
   * Advances one instrument by one market event and returns a {@link CHANGE} bitmask: a trade (price, volume,
   * candles, greeks), a quote change (depth, tbq/tsq), or both. Indices always trade. Unknown key → 0.
   */
  step(key: string): number;
}

// ---------------------------------------------------------------------------------------------------------------
// PRNG (mulberry32): small, fast, good enough for a simulator, and reproducible from one 32-bit seed.

export function createPrng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Time helpers (IST = UTC+05:30, no DST).

const IST_OFFSET_MS = 19_800_000;
const DAY_MS = 86_400_000;
const MINUTE_MS = 60_000;

/** 00:00 IST of the trading day containing `ts` (the `1d` candle's ts, §3.4). */
export function istDayStart(ts: number): number {
  return Math.floor((ts + IST_OFFSET_MS) / DAY_MS) * DAY_MS - IST_OFFSET_MS;
}

function minuteStart(ts: number): number {
  return Math.floor(ts / MINUTE_MS) * MINUTE_MS;
}

// ---------------------------------------------------------------------------------------------------------------
// Prices in integer paise.

function tickPaiseOf(spec: InstrumentSpec): number {
  return Math.max(1, Math.round(spec.tickSize * 100));
}

function roundToTick(paise: number, tickPaise: number): number {
  return Math.round(paise / tickPaise) * tickPaise;
}

function rupees(paise: number): number {
  return paise / 100;
}

// ---------------------------------------------------------------------------------------------------------------
// Black–Scholes (r = 6.5%), enough for plausible greeks.

const RISK_FREE = 0.065;
const YEAR_MS = 365 * DAY_MS;

function normCdf(x: number): number {
  // Abramowitz–Stegun 7.1.26 via erf; error < 1.5e-7.
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * z);
  const erf =
    1 -
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-z * z);
  return x >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
}

function normPdf(x: number): number {
  return Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);
}

function blackScholes(
  spot: number,
  strike: number,
  years: number,
  vol: number,
  type: 'CE' | 'PE',
): { price: number; greeks: GreeksValues } {
  const t = Math.max(years, 1 / 365);
  const sqrtT = Math.sqrt(t);
  const d1 = (Math.log(spot / strike) + (RISK_FREE + (vol * vol) / 2) * t) / (vol * sqrtT);
  const d2 = d1 - vol * sqrtT;
  const discount = Math.exp(-RISK_FREE * t);
  const gamma = normPdf(d1) / (spot * vol * sqrtT);
  const vega = (spot * normPdf(d1) * sqrtT) / 100;
  if (type === 'CE') {
    const price = spot * normCdf(d1) - strike * discount * normCdf(d2);
    const theta = (-(spot * normPdf(d1) * vol) / (2 * sqrtT) - RISK_FREE * strike * discount * normCdf(d2)) / 365;
    const rho = (strike * t * discount * normCdf(d2)) / 100;
    return { price, greeks: { delta: normCdf(d1), theta, gamma, vega, rho } };
  }
  const price = strike * discount * normCdf(-d2) - spot * normCdf(-d1);
  const theta = (-(spot * normPdf(d1) * vol) / (2 * sqrtT) + RISK_FREE * strike * discount * normCdf(-d2)) / 365;
  const rho = -(strike * t * discount * normCdf(-d2)) / 100;
  return { price, greeks: { delta: normCdf(d1) - 1, theta, gamma, vega, rho } };
}

function round4(x: number): number {
  return Math.round(x * 10_000) / 10_000;
}

// ---------------------------------------------------------------------------------------------------------------
// Universe: a default sample with real ISINs, and a generator for large benchmark universes.

const SAMPLE_EQUITIES: ReadonlyArray<readonly [isin: string, symbol: string, name: string, close: number]> = [
  ['INE002A01018', 'RELIANCE', 'Reliance Industries', 1_285.4],
  ['INE467B01029', 'TCS', 'Tata Consultancy Services', 3_412.6],
  ['INE040A01034', 'HDFCBANK', 'HDFC Bank', 1_742.15],
  ['INE009A01021', 'INFY', 'Infosys', 1_528.3],
  ['INE090A01021', 'ICICIBANK', 'ICICI Bank', 1_312.75],
  ['INE062A01020', 'SBIN', 'State Bank of India', 812.45],
  ['INE397D01024', 'BHARTIARTL', 'Bharti Airtel', 1_635.2],
  ['INE154A01025', 'ITC', 'ITC', 478.9],
  ['INE030A01027', 'HINDUNILVR', 'Hindustan Unilever', 2_398.55],
  ['INE018A01030', 'LT', 'Larsen & Toubro', 3_560.1],
  ['INE237A01028', 'KOTAKBANK', 'Kotak Mahindra Bank', 1_745.0],
  ['INE238A01034', 'AXISBANK', 'Axis Bank', 1_138.65],
  ['INE296A01024', 'BAJFINANCE', 'Bajaj Finance', 6_890.25],
  ['INE021A01026', 'ASIANPAINT', 'Asian Paints', 2_452.8],
  ['INE585B01010', 'MARUTI', 'Maruti Suzuki India', 11_205.5],
  ['INE280A01028', 'TITAN', 'Titan Company', 3_285.35],
  ['INE044A01036', 'SUNPHARMA', 'Sun Pharmaceutical Industries', 1_802.4],
  ['INE481G01011', 'ULTRACEMCO', 'UltraTech Cement', 11_340.0],
  ['INE075A01022', 'WIPRO', 'Wipro', 296.85],
  ['INE860A01027', 'HCLTECH', 'HCL Technologies', 1_845.6],
  ['INE239A01024', 'NESTLEIND', 'Nestle India', 2_212.3],
  ['INE155A01022', 'TATAMOTORS', 'Tata Motors', 782.15],
  ['INE081A01020', 'TATASTEEL', 'Tata Steel', 142.6],
  ['INE101A01026', 'M&M', 'Mahindra & Mahindra', 2_905.7],
  ['INE733E01010', 'NTPC', 'NTPC', 362.45],
  ['INE752E01010', 'POWERGRID', 'Power Grid Corporation of India', 318.2],
  ['INE213A01029', 'ONGC', 'Oil & Natural Gas Corporation', 258.95],
  ['INE522F01014', 'COALINDIA', 'Coal India', 412.3],
  ['INE423A01024', 'ADANIENT', 'Adani Enterprises', 2_486.1],
  ['INE742F01042', 'ADANIPORTS', 'Adani Ports and SEZ', 1_208.45],
  ['INE019A01038', 'JSWSTEEL', 'JSW Steel', 968.2],
  ['INE669C01036', 'TECHM', 'Tech Mahindra', 1_602.9],
  ['INE918I01026', 'BAJAJFINSV', 'Bajaj Finserv', 1_755.35],
  ['INE095A01012', 'INDUSINDBK', 'IndusInd Bank', 985.6],
  ['INE047A01021', 'GRASIM', 'Grasim Industries', 2_612.0],
  ['INE059A01026', 'CIPLA', 'Cipla', 1_498.75],
  ['INE089A01031', 'DRREDDY', "Dr. Reddy's Laboratories", 1_268.4],
  ['INE038A01020', 'HINDALCO', 'Hindalco Industries', 652.3],
  ['INE216A01030', 'BRITANNIA', 'Britannia Industries', 5_120.5],
  ['INE066A01021', 'EICHERMOT', 'Eicher Motors', 4_890.25],
  ['INE158A01026', 'HEROMOTOCO', 'Hero MotoCorp', 4_612.8],
  ['INE361B01024', 'DIVISLAB', "Divi's Laboratories", 5_935.0],
  ['INE437A01024', 'APOLLOHOSP', 'Apollo Hospitals Enterprise', 7_045.6],
  ['INE917I01010', 'BAJAJ-AUTO', 'Bajaj Auto', 8_720.4],
  ['INE123W01016', 'SBILIFE', 'SBI Life Insurance', 1_562.15],
  ['INE795G01014', 'HDFCLIFE', 'HDFC Life Insurance', 702.55],
  ['INE192A01025', 'TATACONSUM', 'Tata Consumer Products', 1_045.3],
  ['INE029A01011', 'BPCL', 'Bharat Petroleum Corporation', 301.4],
  ['INE214T01019', 'LTIM', 'LTIMindtree', 5_402.7],
  ['INE849A01020', 'TRENT', 'Trent', 5_210.0],
  ['INE263A01024', 'BEL', 'Bharat Electronics', 298.35],
  ['INE758T01015', 'ETERNAL', 'Eternal', 242.1],
];

const SAMPLE_INDICES: ReadonlyArray<readonly [key: string, symbol: string, close: number]> = [
  ['NSE_INDEX|Nifty 50', 'NIFTY', 24_512.35],
  ['NSE_INDEX|Nifty Bank', 'BANKNIFTY', 52_208.6],
  ['NSE_INDEX|India VIX', 'INDIAVIX', 13.42],
  ['BSE_INDEX|SENSEX', 'SENSEX', 80_615.2],
];

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];

function expiryLabel(expiry: number): string {
  const d = new Date(expiry + IST_OFFSET_MS);
  return `${String(d.getUTCDate()).padStart(2, '0')} ${MONTHS[d.getUTCMonth()]} ${String(d.getUTCFullYear()).slice(2)}`;
}

/** Next Thursday 15:30 IST at least 3 days after `from` (weekly-expiry style; a fixed rule, not the NSE calendar). */
function nextExpiry(from: number): number {
  let day = istDayStart(from) + 3 * DAY_MS;
  while (new Date(day + IST_OFFSET_MS).getUTCDay() !== 4) day += DAY_MS;
  return day + 15.5 * 3_600_000;
}

function optionSpecs(
  token: number,
  underlying: { key: string; symbol: string; close: number },
  strike: number,
  type: 'CE' | 'PE',
  expiry: number,
  lotSize: number,
): InstrumentSpec {
  const symbol = `${underlying.symbol} ${strike} ${type} ${expiryLabel(expiry)}`;
  return {
    key: `NSE_FO|${token}`,
    kind: 'option',
    symbol,
    name: underlying.symbol,
    tickSize: 0.05,
    previousClose: 0, // priced off the underlying at model start
    lotSize,
    underlyingKey: underlying.key,
    optionType: type,
    strike,
    expiry,
  };
}

/**
 * The default sample: 52 NSE equities by ISIN, 4 indices (Nifty 50, Nifty Bank, India VIX, SENSEX), index and
 * stock futures, and CE/PE options around the money. Exchange tokens are plausible 5-digit numbers, not the
 * day's real ones. `at` fixes the expiries (epoch ms). @default Date.now()
 */
/** The sample indices (NSE/BSE), priced in 0.01 ticks. */
function sampleIndexSpecs(): InstrumentSpec[] {
  return SAMPLE_INDICES.map(([key, symbol, close]) => ({
    key,
    kind: 'index' as const,
    symbol,
    name: key.slice(key.indexOf('|') + 1),
    tickSize: 0.01,
    previousClose: close,
    lotSize: 1,
  }));
}

export function defaultUniverse(at: number = Date.now()): InstrumentSpec[] {
  const out: InstrumentSpec[] = [];
  for (const [isin, symbol, name, close] of SAMPLE_EQUITIES) {
    out.push({ key: `NSE_EQ|${isin}`, kind: 'equity', symbol, name, tickSize: 0.05, previousClose: close, lotSize: 1 });
  }
  out.push(...sampleIndexSpecs());
  const expiry = nextExpiry(at);
  const label = expiryLabel(expiry);
  const nifty = { key: 'NSE_INDEX|Nifty 50', symbol: 'NIFTY', close: 24_512.35 };
  const bank = { key: 'NSE_INDEX|Nifty Bank', symbol: 'BANKNIFTY', close: 52_208.6 };
  const reliance = { key: 'NSE_EQ|INE002A01018', symbol: 'RELIANCE', close: 1_285.4 };
  const futures: Array<[number, typeof nifty, number]> = [
    [52_910, nifty, 75],
    [52_911, bank, 30],
    [52_912, reliance, 500],
  ];
  for (const [token, u, lot] of futures) {
    out.push({
      key: `NSE_FO|${token}`,
      kind: 'future',
      symbol: `${u.symbol} FUT ${label}`,
      name: u.symbol,
      tickSize: 0.05,
      previousClose: Math.round(u.close * 1.004 * 20) / 20,
      lotSize: lot,
      underlyingKey: u.key,
      expiry,
    });
  }
  let token = 43_100;
  const chains: Array<[typeof nifty, number, number]> = [
    [nifty, 50, 75],
    [bank, 100, 30],
    [reliance, 20, 500],
  ];
  for (const [u, step, lot] of chains) {
    const atm = Math.round(u.close / step) * step;
    for (let i = -2; i <= 2; i++) {
      out.push(optionSpecs(token++, u, atm + i * step, 'CE', expiry, lot));
      out.push(optionSpecs(token++, u, atm + i * step, 'PE', expiry, lot));
    }
  }
  return out;
}

/** ISIN check digit (Luhn over the letters-as-numbers expansion), so generated ISINs validate like real ones. */
export function isinCheckDigit(first11: string): number {
  let digits = '';
  for (const ch of first11) digits += Number.parseInt(ch, 36).toString();
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return (10 - (sum % 10)) % 10;
}

export interface GenerateUniverseOptions {
  /** Synthetic NSE equities with valid-looking ISINs (`INE` + 4-char issuer + `Z101` + check digit). @default 2000 */
  equities?: number;
  /** Synthetic NSE_FO options (CE/PE pairs on the generated equities). @default 0 */
  options?: number;
  /** Synthetic NSE_FO futures on the generated equities. @default 0 */
  futures?: number;
  /** Also include the 4 sample indices. @default true */
  indices?: boolean;
  /** Seed for prices and ISIN bodies. @default 7 */
  seed?: number;
  /** Fixes the expiries (epoch ms). @default Date.now() */
  at?: number;
}

/** A large synthetic universe for benchmarks, e.g. `generateUniverse({ equities: 5000, options: 3000 })`. */
export function generateUniverse({
  equities = 2000,
  options = 0,
  futures = 0,
  indices = true,
  seed = 7,
  at = Date.now(),
}: GenerateUniverseOptions = {}): InstrumentSpec[] {
  const random = createPrng(seed);
  const out: InstrumentSpec[] = [];
  const stocks: Array<{ key: string; symbol: string; close: number }> = [];
  const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ';
  for (let i = 0; i < equities; i++) {
    // INE + 4-char issuer code derived from i (unique) + 2-char security type + 2-digit serial + check digit.
    let issuer = '';
    let n = i;
    for (let j = 0; j < 4; j++) {
      issuer = alphabet[n % 36] + issuer;
      n = Math.floor(n / 36);
    }
    // Security-type digits "Z1" keep generated ISINs out of the real INE…01 range.
    const body = `INE${issuer}Z101`;
    const isin = `${body}${isinCheckDigit(body)}`;
    const symbol = `SIM${i}`;
    const close = Math.round((20 + random() ** 2 * 4_000) * 20) / 20;
    out.push({
      key: `NSE_EQ|${isin}`,
      kind: 'equity',
      symbol,
      name: `Simulated ${i}`,
      tickSize: 0.05,
      previousClose: close,
      lotSize: 1,
    });
    stocks.push({ key: `NSE_EQ|${isin}`, symbol, close });
  }
  if (indices) out.push(...sampleIndexSpecs());
  const expiry = nextExpiry(at);
  let token = 100_000;
  if (stocks.length > 0) {
    for (let i = 0; i < futures; i++) {
      const u = stocks[i % stocks.length]!;
      out.push({
        key: `NSE_FO|${token++}`,
        kind: 'future',
        symbol: `${u.symbol} FUT ${expiryLabel(expiry)}`,
        name: u.symbol,
        tickSize: 0.05,
        previousClose: Math.round(u.close * 1.004 * 20) / 20,
        lotSize: 250,
        underlyingKey: u.key,
        expiry,
      });
    }
    for (let i = 0; i < options; i++) {
      const u = stocks[Math.floor(i / 10) % stocks.length]!;
      const step = u.close > 1_000 ? 20 : u.close > 200 ? 5 : 1;
      const offset = (Math.floor(i / 2) % 5) - 2;
      const strike = Math.max(step, Math.round(u.close / step) * step + offset * step);
      out.push(optionSpecs(token++, u, strike, i % 2 === 0 ? 'CE' : 'PE', expiry, 250));
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// The model.

interface MutableCandle {
  open: number;
  high: number;
  low: number;
  close: number;
  vol: number;
  ts: number;
}

interface Slot {
  readonly index: number;
  readonly spec: InstrumentSpec;
  readonly tickPaise: number;
  readonly view: MutableState;
  /** Last price in paise (always a multiple of tickPaise). */
  ltpPaise: number;
  cpPaise: number;
  turnover: number;
  minute: MutableCandle;
  /** Trades in the forming minute (indices have no volume, so volume cannot tell). */
  minuteTrades: number;
  /** Depth is regenerated lazily from (slot, version, mid); see depth(). */
  depthVersion: number;
  depthMidPaise: number;
  /** Options: extra premium noise in paise on top of Black–Scholes. */
  basisPaise: number;
}

type MutableState = { -readonly [K in keyof InstrumentState]: InstrumentState[K] } & {
  day: MutableCandle;
  lastMinute: MutableCandle;
};

export function createMarketModel({
  universe = defaultUniverse(),
  seed = 1,
  now = Date.now,
}: MarketModelOptions = {}): MarketModel {
  const random = createPrng(seed);
  const slots = new Map<string, Slot>();
  const specs: InstrumentSpec[] = [];
  const start = now();

  // Sum of three uniforms, centred and scaled: variance 1, cheap, bounded (±3).
  const gauss = () => (random() + random() + random() - 1.5) * 2;

  for (const spec of universe) {
    if (slots.has(spec.key)) throw new Error(`duplicate instrument key in universe: ${spec.key}`);
    specs.push(spec);
    const tickPaise = tickPaiseOf(spec);
    slots.set(spec.key, initSlot(spec, specs.length - 1, tickPaise));
  }

  function initSlot(spec: InstrumentSpec, index: number, tickPaise: number): Slot {
    const isIndex = spec.kind === 'index';
    const isFo = spec.kind === 'future' || spec.kind === 'option';
    const iv = spec.kind === 'option' ? round4(0.12 + random() * 0.15) : 0;
    let cpPaise = roundToTick(spec.previousClose * 100, tickPaise);
    let greeks: GreeksValues | null = null;
    if (spec.kind === 'option') {
      const under = spec.underlyingKey ? slots.get(spec.underlyingKey) : undefined;
      const spot = under ? rupees(under.cpPaise) : (spec.strike ?? 100);
      const bs = blackScholes(
        spot,
        spec.strike ?? spot,
        ((spec.expiry ?? start) - start) / YEAR_MS,
        iv,
        spec.optionType ?? 'CE',
      );
      cpPaise = Math.max(tickPaise, roundToTick(bs.price * 100, tickPaise));
      greeks = roundGreeks(bs.greeks);
    }
    // Start "mid-session": a small move from the close, some volume, a day range around both.
    const ltpPaise = Math.max(tickPaise, roundToTick(cpPaise * (1 + gauss() * 0.004), tickPaise));
    const openPaise = Math.max(tickPaise, roundToTick(cpPaise * (1 + gauss() * 0.002), tickPaise));
    const highPaise = Math.max(ltpPaise, openPaise) + tickPaise * Math.floor(random() * 20);
    const lowPaise = Math.max(tickPaise, Math.min(ltpPaise, openPaise) - tickPaise * Math.floor(random() * 20));
    const vtt = isIndex ? 0 : Math.floor((10_000 + random() * 2_000_000) / spec.lotSize) * spec.lotSize;
    const atpPaise = roundToTick((lowPaise + highPaise) / 2, 1);
    const minuteTs = minuteStart(start);
    const view: MutableState = {
      spec,
      ltp: rupees(ltpPaise),
      ltt: start,
      ltq: isIndex ? 0 : spec.lotSize,
      cp: rupees(cpPaise),
      day: {
        open: rupees(openPaise),
        high: rupees(highPaise),
        low: rupees(lowPaise),
        close: rupees(ltpPaise),
        vol: vtt,
        ts: istDayStart(start),
      },
      lastMinute: {
        open: rupees(ltpPaise),
        high: rupees(ltpPaise),
        low: rupees(ltpPaise),
        close: rupees(ltpPaise),
        vol: isIndex ? 0 : spec.lotSize * 10,
        ts: minuteTs - MINUTE_MS,
      },
      vtt,
      atp: isIndex ? 0 : rupees(atpPaise),
      oi: isFo ? spec.lotSize * Math.floor(1_000 + random() * 50_000) : 0,
      iv,
      greeks,
      tbq: isIndex ? 0 : Math.floor(random() * 500_000),
      tsq: isIndex ? 0 : Math.floor(random() * 500_000),
      trades: 0,
    };
    return {
      index,
      spec,
      tickPaise,
      view,
      ltpPaise,
      cpPaise,
      turnover: rupees(atpPaise) * vtt,
      minute: { open: view.ltp, high: view.ltp, low: view.ltp, close: view.ltp, vol: 0, ts: minuteTs },
      minuteTrades: 0,
      depthVersion: 0,
      depthMidPaise: ltpPaise,
      basisPaise: 0,
    };
  }

  function roundGreeks(g: GreeksValues): GreeksValues {
    return {
      delta: round4(g.delta),
      theta: round4(g.theta),
      gamma: Math.round(g.gamma * 1e6) / 1e6,
      vega: round4(g.vega),
      rho: round4(g.rho),
    };
  }

  function nextPricePaise(slot: Slot): number {
    const { tickPaise, cpPaise } = slot;
    if (slot.spec.kind === 'option') {
      const under = slot.spec.underlyingKey ? slots.get(slot.spec.underlyingKey) : undefined;
      const spot = under ? rupees(under.ltpPaise) : rupees(cpPaise);
      slot.basisPaise = Math.max(
        -20 * tickPaise,
        Math.min(20 * tickPaise, slot.basisPaise + Math.round(gauss() * 2) * tickPaise),
      );
      const t = ((slot.spec.expiry ?? now()) - now()) / YEAR_MS;
      const bs = blackScholes(spot, slot.spec.strike ?? spot, t, slot.view.iv, slot.spec.optionType ?? 'CE');
      slot.view.greeks = roundGreeks(bs.greeks);
      return Math.max(tickPaise, roundToTick(bs.price * 100 + slot.basisPaise, tickPaise));
    }
    // ~3 bp per event (8 bp for VIX-like low-priced indices would be noisy; keep one rule), mean-reverting to
    // the close, clamped to a ±20% band like an exchange price band.
    const sigma = (slot.ltpPaise * 0.0003) / tickPaise;
    const pull = ((cpPaise - slot.ltpPaise) / tickPaise) * 0.002;
    const steps = Math.round(gauss() * Math.max(sigma, 0.6) + pull);
    const lo = roundToTick(cpPaise * 0.8, tickPaise);
    const hi = roundToTick(cpPaise * 1.2, tickPaise);
    return Math.max(Math.max(tickPaise, lo), Math.min(hi, slot.ltpPaise + steps * tickPaise));
  }

  function trade(slot: Slot): void {
    const v = slot.view;
    const t = now();
    slot.ltpPaise = nextPricePaise(slot);
    const ltp = rupees(slot.ltpPaise);
    const isIndex = slot.spec.kind === 'index';
    // Lot multiples, skewed towards small prints.
    const qty = isIndex ? 0 : slot.spec.lotSize * (1 + Math.floor(random() ** 3 * 200));
    v.ltp = ltp;
    v.ltt = t;
    v.ltq = qty;
    v.trades++;
    if (!isIndex) {
      v.vtt += qty;
      slot.turnover += ltp * qty;
      v.atp = Math.round((slot.turnover / v.vtt) * 100) / 100;
      if (v.oi > 0) v.oi = Math.max(slot.spec.lotSize, v.oi + slot.spec.lotSize * Math.round(gauss() * 3));
    }
    if (slot.spec.kind === 'option') v.iv = round4(Math.max(0.05, Math.min(1.5, v.iv + gauss() * 0.0005)));
    const day = v.day;
    const dayStart = istDayStart(t);
    if (day.ts !== dayStart) {
      // A new trading day: roll the close and start a fresh day candle.
      slot.cpPaise = roundToTick(day.close * 100, slot.tickPaise);
      v.cp = rupees(slot.cpPaise);
      Object.assign(day, { open: ltp, high: ltp, low: ltp, close: ltp, vol: 0, ts: dayStart });
      v.vtt = qty;
      slot.turnover = ltp * qty;
    }
    day.high = Math.max(day.high, ltp);
    day.low = Math.min(day.low, ltp);
    day.close = ltp;
    day.vol = v.vtt;
    const m = minuteStart(t);
    if (m !== slot.minute.ts || slot.minuteTrades === 0) {
      // The forming minute completed: it becomes I1 (Upstox shows the last completed minute, §3.4).
      if (m !== slot.minute.ts && slot.minuteTrades > 0) v.lastMinute = slot.minute;
      slot.minute = { open: ltp, high: ltp, low: ltp, close: ltp, vol: qty, ts: m };
      slot.minuteTrades = 1;
    } else {
      slot.minuteTrades++;
      const cur = slot.minute;
      cur.high = Math.max(cur.high, ltp);
      cur.low = Math.min(cur.low, ltp);
      cur.close = ltp;
      cur.vol += qty;
    }
  }

  function quote(slot: Slot): void {
    slot.depthVersion++;
    slot.depthMidPaise = slot.ltpPaise;
    const v = slot.view;
    v.tbq = Math.max(0, Math.round(v.tbq * (1 + gauss() * 0.01) + random() * 1_000));
    v.tsq = Math.max(0, Math.round(v.tsq * (1 + gauss() * 0.01) + random() * 1_000));
  }

  return {
    instruments: () => specs,
    has: (key) => slots.has(key),
    state: (key) => slots.get(key)?.view,
    ltp: (key) => slots.get(key)?.view.ltp,
    depth(key, levels) {
      const slot = slots.get(key);
      if (!slot || slot.spec.kind === 'index') return [];
      // Deterministic per (instrument, quote version): regenerating gives the same book.
      const rnd = createPrng(
        (Math.imul(slot.index + 1, 0x9e3779b1) ^ Math.imul(slot.depthVersion + 1, 0x85ebca6b)) >>> 0,
      );
      const tick = slot.tickPaise;
      const lot = slot.spec.lotSize;
      const mid = slot.depthMidPaise;
      let bid = Math.max(tick, mid - tick * Math.floor(rnd() * 2));
      let ask = bid + tick * (1 + Math.floor(rnd() * 2));
      const out: BookLevel[] = [];
      for (let i = 0; i < levels; i++) {
        out.push({
          bidQ: lot * (1 + Math.floor(rnd() ** 2 * 400)),
          bidP: rupees(bid),
          askQ: lot * (1 + Math.floor(rnd() ** 2 * 400)),
          askP: rupees(ask),
        });
        bid = Math.max(tick, bid - tick * (1 + Math.floor(rnd() * 3)));
        ask += tick * (1 + Math.floor(rnd() * 3));
      }
      return out;
    },
    step(key) {
      const slot = slots.get(key);
      if (!slot) return 0;
      if (slot.spec.kind === 'index') {
        trade(slot);
        return CHANGE.TRADE;
      }
      // Mix of event kinds so live frames are partial (§3.4): trades with and without a book change, and
      // book-only updates.
      const r = random();
      if (r < 0.5) {
        trade(slot);
        quote(slot);
        return CHANGE.TRADE | CHANGE.DEPTH;
      }
      if (r < 0.75) {
        trade(slot);
        return CHANGE.TRADE;
      }
      quote(slot);
      return CHANGE.DEPTH;
    },
  };
}
