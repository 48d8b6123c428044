import { describe, expect, it } from 'vitest';
import { buildFeed } from '../../src/simulator/frames.js';
import {
  CHANGE,
  createMarketModel,
  defaultUniverse,
  generateUniverse,
  type InstrumentState,
  isinCheckDigit,
  istDayStart,
} from '../../src/simulator/market-model.js';

const T0 = Date.UTC(2026, 10, 24, 5, 0, 0); // 10:30 IST
const fixedClock = (start = T0) => {
  const clock = { t: start, now: () => clock.t };
  return clock;
};

function onTick(price: number, tickSize: number): boolean {
  const paise = Math.round(price * 100);
  return Math.abs(price * 100 - paise) < 1e-6 && paise % Math.round(tickSize * 100) === 0 && price === paise / 100;
}

function run(seed: number, steps = 200) {
  const clock = fixedClock();
  const model = createMarketModel({ universe: defaultUniverse(T0), seed, now: clock.now });
  const keys = model.instruments().map((i) => i.key);
  const changes: number[] = [];
  for (let i = 0; i < steps; i++) {
    clock.t += 37;
    changes.push(model.step(keys[i % keys.length]!));
  }
  return { model, keys, changes, clock };
}

const snapshotOf = (s: InstrumentState) => JSON.parse(JSON.stringify({ ...s, spec: s.spec.key }));

describe('market model', () => {
  it('puts every price on the instrument tick: ₹0.05 for equities and F&O, ₹0.01 for indices', () => {
    const { model, keys } = run(3, 5_000);
    for (const key of keys) {
      const s = model.state(key)!;
      const tick = s.spec.kind === 'index' ? 0.01 : 0.05;
      expect(s.spec.tickSize).toBe(tick);
      for (const price of [s.ltp, s.cp, s.day.open, s.day.high, s.day.low, s.day.close, s.lastMinute.close]) {
        expect(onTick(price, tick), `${key} ${price}`).toBe(true);
      }
      for (const level of model.depth(key, 30)) {
        expect(onTick(level.bidP, tick), `${key} bid ${level.bidP}`).toBe(true);
        expect(onTick(level.askP, tick), `${key} ask ${level.askP}`).toBe(true);
      }
    }
  });

  it('is deterministic for a seed and differs across seeds', () => {
    const a = run(42);
    const b = run(42);
    const c = run(43);
    expect(a.changes).toEqual(b.changes);
    const states = (r: ReturnType<typeof run>) => r.keys.map((k) => snapshotOf(r.model.state(k)!));
    expect(states(a)).toEqual(states(b));
    expect(a.keys.map((k) => a.model.depth(k, 5))).toEqual(b.keys.map((k) => b.model.depth(k, 5)));
    expect(states(a)).not.toEqual(states(c));
  });

  it('only grows volume, prints lot multiples and keeps the day candle around every price', () => {
    const clock = fixedClock();
    const model = createMarketModel({ universe: defaultUniverse(T0), seed: 5, now: clock.now });
    const key = 'NSE_FO|52910'; // Nifty future, lot 75
    let vtt = model.state(key)!.vtt;
    for (let i = 0; i < 2_000; i++) {
      clock.t += 50;
      const change = model.step(key);
      const s = model.state(key)!;
      expect(s.vtt).toBeGreaterThanOrEqual(vtt);
      if (change & CHANGE.TRADE) {
        expect(s.ltq % s.spec.lotSize).toBe(0);
        expect(s.vtt - vtt).toBe(s.ltq);
        expect(s.ltt).toBe(clock.t);
      }
      vtt = s.vtt;
      expect(s.day.low).toBeLessThanOrEqual(s.ltp);
      expect(s.day.high).toBeGreaterThanOrEqual(s.ltp);
      expect(s.day.close).toBe(s.ltp);
      expect(s.day.vol).toBe(s.vtt);
      expect(s.day.ts).toBe(istDayStart(clock.t));
    }
  });

  it('reports the last completed minute as I1 and leaves it unchanged within the minute', () => {
    const clock = fixedClock(T0 + 5_000);
    const model = createMarketModel({ universe: defaultUniverse(T0), seed: 9, now: clock.now });
    const key = 'NSE_INDEX|Nifty 50';
    expect(model.state(key)!.lastMinute.ts).toBe(T0 - 60_000);
    const prices: number[] = [];
    for (let i = 0; i < 10; i++) {
      clock.t += 1_000;
      model.step(key);
      prices.push(model.ltp(key)!);
    }
    expect(model.state(key)!.lastMinute.ts).toBe(T0 - 60_000);
    clock.t = T0 + 61_000;
    model.step(key);
    const minute = model.state(key)!.lastMinute;
    expect(minute.ts).toBe(T0);
    expect(minute.open).toBe(prices[0]);
    expect(minute.close).toBe(prices[9]);
    expect(minute.high).toBe(Math.max(...prices));
    expect(minute.low).toBe(Math.min(...prices));
  });

  it('builds depth around the last price: bids descending below asks ascending', () => {
    const { model } = run(11, 500);
    for (const spec of model.instruments().filter((i) => i.kind !== 'index')) {
      const book = model.depth(spec.key, 30);
      expect(book).toHaveLength(30);
      expect(book[0]!.bidP).toBeLessThan(book[0]!.askP);
      for (let i = 1; i < book.length; i++) {
        expect(book[i]!.bidP).toBeLessThanOrEqual(book[i - 1]!.bidP);
        expect(book[i]!.askP).toBeGreaterThan(book[i - 1]!.askP);
      }
      for (const level of book) expect(level.bidQ % spec.lotSize).toBe(0);
    }
  });

  it('re-centres the book on the last price at every book update', () => {
    const { model } = run(12, 10);
    for (const spec of model.instruments().filter((i) => i.kind !== 'index')) {
      while ((model.step(spec.key) & CHANGE.DEPTH) === 0) {}
      const [best] = model.depth(spec.key, 1);
      const ltp = model.ltp(spec.key)!;
      expect(best!.bidP).toBeLessThanOrEqual(ltp);
      expect(ltp - best!.bidP).toBeLessThanOrEqual(0.05 + 1e-9);
      expect(best!.askP - ltp).toBeLessThanOrEqual(0.1 + 1e-9);
    }
  });

  it('gives options greeks that match their type and keeps indices without depth or volume', () => {
    const { model } = run(13, 1_000);
    for (const spec of model.instruments()) {
      const s = model.state(spec.key)!;
      if (spec.kind === 'option') {
        const g = s.greeks!;
        if (spec.optionType === 'CE') expect(g.delta).toBeGreaterThan(0);
        else expect(g.delta).toBeLessThan(0);
        expect(Math.abs(g.delta)).toBeLessThanOrEqual(1);
        expect(g.gamma).toBeGreaterThan(0);
        expect(g.theta).toBeLessThan(0);
        expect(s.iv).toBeGreaterThan(0);
        expect(s.oi).toBeGreaterThan(0);
      } else {
        expect(s.greeks).toBeNull();
      }
      if (spec.kind === 'index') {
        expect(model.depth(spec.key, 5)).toEqual([]);
        expect(s.vtt).toBe(0);
      }
    }
  });

  it('keeps non-option prices within ±20% of the previous close', () => {
    const { model } = run(17, 20_000);
    for (const spec of model.instruments().filter((i) => i.kind !== 'option')) {
      const s = model.state(spec.key)!;
      expect(s.ltp).toBeGreaterThanOrEqual(s.cp * 0.8 - 0.05);
      expect(s.ltp).toBeLessThanOrEqual(s.cp * 1.2 + 0.05);
    }
  });

  it('returns 0 and changes nothing for a key outside the universe', () => {
    const model = createMarketModel({ universe: defaultUniverse(T0), now: () => T0 });
    expect(model.step('NSE_EQ|INE000000000')).toBe(0);
    expect(model.state('NSE_EQ|INE000000000')).toBeUndefined();
    expect(model.depth('NSE_EQ|INE000000000', 5)).toEqual([]);
  });

  it('rejects a universe with duplicate keys', () => {
    const [first] = defaultUniverse(T0);
    expect(() => createMarketModel({ universe: [first!, first!] })).toThrow('duplicate');
  });
});

describe('universes', () => {
  it('the default sample uses real-format keys: ~50 ISIN equities, the 4 indices and NSE_FO futures and options', () => {
    const universe = defaultUniverse(T0);
    const equities = universe.filter((i) => i.kind === 'equity');
    expect(equities.length).toBeGreaterThanOrEqual(50);
    for (const e of equities) {
      const isin = e.key.slice('NSE_EQ|'.length);
      expect(isin).toMatch(/^INE[A-Z0-9]{8}\d$/);
      expect(isinCheckDigit(isin.slice(0, 11))).toBe(Number(isin[11]));
    }
    expect(universe.filter((i) => i.kind === 'index').map((i) => i.key)).toEqual([
      'NSE_INDEX|Nifty 50',
      'NSE_INDEX|Nifty Bank',
      'NSE_INDEX|India VIX',
      'BSE_INDEX|SENSEX',
    ]);
    const fo = universe.filter((i) => i.kind === 'future' || i.kind === 'option');
    expect(fo.every((i) => /^NSE_FO\|\d+$/.test(i.key) && i.expiry! > T0)).toBe(true);
    expect(new Set(fo.filter((i) => i.kind === 'option').map((i) => i.optionType))).toEqual(new Set(['CE', 'PE']));
    expect(new Set(universe.map((i) => i.key)).size).toBe(universe.length);
    expect(universe.find((i) => i.key === 'NSE_EQ|INE002A01018')!.symbol).toBe('RELIANCE');
  });

  it('generateUniverse builds large universes with unique keys and valid ISINs', () => {
    const universe = generateUniverse({ equities: 2_000, options: 3_000, futures: 10, at: T0 });
    expect(universe.filter((i) => i.kind === 'equity')).toHaveLength(2_000);
    expect(universe.filter((i) => i.kind === 'option')).toHaveLength(3_000);
    expect(universe.filter((i) => i.kind === 'future')).toHaveLength(10);
    expect(new Set(universe.map((i) => i.key)).size).toBe(universe.length);
    for (const e of universe.filter((i) => i.kind === 'equity')) {
      const isin = e.key.slice('NSE_EQ|'.length);
      expect(isin).toHaveLength(12);
      expect(isinCheckDigit(isin.slice(0, 11))).toBe(Number(isin[11]));
    }
    const model = createMarketModel({ universe, now: () => T0 });
    for (const spec of universe.filter((i) => i.kind === 'option').slice(0, 50)) {
      expect(model.state(spec.key)!.ltp).toBeGreaterThan(0);
    }
  });
});

describe('feed entries', () => {
  const clock = fixedClock();
  const model = createMarketModel({ universe: defaultUniverse(T0), seed: 21, now: clock.now });
  const key = 'NSE_EQ|INE002A01018';

  it('builds partial live entries: a trade without depth, a book update without ltpc, nothing for ltpc on a book update', () => {
    const tradeOnly = buildFeed(model, key, 'full', CHANGE.TRADE)!.fullFeed!.marketFF!;
    expect(tradeOnly.ltpc).toBeDefined();
    expect(tradeOnly.marketLevel).toBeUndefined();
    expect(tradeOnly.optionGreeks).toEqual({});
    const bookOnly = buildFeed(model, key, 'full', CHANGE.DEPTH)!.fullFeed!.marketFF!;
    expect(bookOnly.ltpc).toBeUndefined();
    expect(bookOnly.marketOHLC).toBeUndefined();
    expect(bookOnly.marketLevel!.bidAskQuote).toHaveLength(5);
    expect(buildFeed(model, key, 'ltpc', CHANGE.DEPTH)).toBeUndefined();
    expect(buildFeed(model, key, 'ltpc', CHANGE.TRADE)).toEqual({ ltpc: expect.any(Object) });
  });

  it('writes request modes as the wire does: none for ltpc, full_d5 (1) for full, 3 with 30 levels for full_d30', () => {
    expect(buildFeed(model, key, 'ltpc', -1)!.requestMode).toBeUndefined();
    expect(buildFeed(model, key, 'full', -1)!.requestMode).toBe(1);
    expect(buildFeed(model, key, 'option_greeks', -1)!.requestMode).toBe(2);
    const d30 = buildFeed(model, key, 'full_d30', -1)!;
    expect(d30.requestMode).toBe(3);
    expect(d30.fullFeed!.marketFF!.marketLevel!.bidAskQuote).toHaveLength(30);
  });
});
