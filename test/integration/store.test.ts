import SqliteDatabase from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logger.js';
import { createDatabase, type Database } from '../../src/store/prisma.js';
import {
  createTickStore,
  type HistoryOrder,
  type HistoryQuery,
  HistoryQueryError,
  type StoredTick,
  type TickStore,
} from '../../src/store/tick-store.js';
import { backends, createTestDatabase, type TestDatabase } from '../support/db.js';

const KEY_A = 'NSE_EQ|INE002A01018';
const KEY_B = 'NSE_FO|45450';

/** 3 ticks per exchangeTs (ties broken by id) for two keys, interleaved as a feed would write them. */
async function seed(database: Database): Promise<void> {
  const data = [];
  for (let t = 0; t < 40; t++) {
    for (let k = 0; k < 3; k++) {
      for (const key of [KEY_A, KEY_B]) {
        data.push({
          instrumentKey: key,
          exchangeTs: BigInt(1_000 + t * 10),
          receivedAt: BigInt(1_000 + t * 10 + k),
          mode: 'ltpc',
          ltp: t + k / 10,
        });
      }
    }
  }
  await database.prisma.tick.createMany({ data });
}

/** Walks every page of a query and returns the rows in page order. */
async function walk(store: TickStore, query: Omit<HistoryQuery, 'after'>): Promise<StoredTick[][]> {
  const pages: StoredTick[][] = [];
  let after: HistoryQuery['after'];
  for (let guard = 0; guard < 1_000; guard++) {
    const page = await store.history({ ...query, ...(after ? { after } : {}) });
    if (page.length === 0) break;
    pages.push(page);
    const last = page[page.length - 1]!;
    after = { exchangeTs: last.exchangeTs, id: last.id };
  }
  return pages;
}

function byKeyset(order: HistoryOrder) {
  const sign = order === 'ASC' ? 1 : -1;
  return (a: StoredTick, b: StoredTick) =>
    sign * (a.exchangeTs - b.exchangeTs || (BigInt(a.id) < BigInt(b.id) ? -1 : BigInt(a.id) > BigInt(b.id) ? 1 : 0));
}

describe.each(backends())('tick store on $provider', ({ provider }) => {
  let db: TestDatabase;
  let store: TickStore;
  let all: StoredTick[];
  beforeAll(async () => {
    db = await createTestDatabase(provider, 'store');
    await seed(db.database);
    store = createTickStore({ database: db.database });
    all = (await store.history({ instrumentKey: KEY_A, order: 'ASC', limit: 10_000 })).concat(
      await store.history({ instrumentKey: KEY_B, order: 'ASC', limit: 10_000 }),
    );
  });
  afterAll(async () => {
    await db?.cleanup();
  });

  it.each([
    ['ASC', undefined, undefined, 7],
    ['DESC', undefined, undefined, 7],
    ['ASC', 1_050, 1_200, 4],
    ['DESC', 1_050, 1_200, 4],
    ['DESC', undefined, 1_105, 10],
    ['ASC', 1_375, undefined, 1],
  ] as const)(
    'pages %s from %s to %s by %i through every tick exactly once, ties in id order',
    async (order, from, to, limit) => {
      const pages = await walk(store, {
        instrumentKey: KEY_A,
        order,
        limit,
        ...(from === undefined ? {} : { from }),
        ...(to === undefined ? {} : { to }),
      });
      const expected = all
        .filter((t) => t.instrumentKey === KEY_A)
        .filter((t) => (from === undefined || t.exchangeTs >= from) && (to === undefined || t.exchangeTs < to))
        .sort(byKeyset(order));
      expect(expected.length).toBeGreaterThan(0);
      expect(pages.flat().map((t) => t.id)).toEqual(expected.map((t) => t.id));
      for (const page of pages.slice(0, -1)) expect(page).toHaveLength(limit);
      expect(pages.at(-1)!.length).toBeLessThanOrEqual(limit);
    },
  );

  it('returns an empty page for an unknown instrument or past the last row', async () => {
    expect(await store.history({ instrumentKey: 'NSE_EQ|NOPE', order: 'ASC', limit: 5 })).toEqual([]);
    const last = all
      .filter((t) => t.instrumentKey === KEY_B)
      .sort(byKeyset('ASC'))
      .at(-1)!;
    expect(
      await store.history({
        instrumentKey: KEY_B,
        order: 'ASC',
        limit: 5,
        after: { exchangeTs: last.exchangeTs, id: last.id },
      }),
    ).toEqual([]);
  });

  it('rejects a non-positive limit and a malformed cursor id with a clear error', async () => {
    await expect(store.history({ instrumentKey: KEY_A, order: 'ASC', limit: 0 })).rejects.toThrow(HistoryQueryError);
    await expect(
      store.history({ instrumentKey: KEY_A, order: 'ASC', limit: 5, after: { exchangeTs: 1, id: 'x1' } }),
    ).rejects.toThrow(/cursor id must be a decimal row id, got "x1"/);
  });

  it('reads a page with one index range scan on (instrumentKey, exchangeTs, id), in both directions and read paths, without sorting', async () => {
    const captured: { sql: string; params: string }[] = [];
    const spy = createDatabase({
      url: db.url,
      logger: silentLogger(),
      onQuery: (q) => {
        if (q.sql.includes('ORDER BY')) captured.push(q);
      },
    });
    try {
      for (const [readPath, order] of [
        ['queryRaw', 'ASC'],
        ['queryRaw', 'DESC'],
        ['findMany', 'ASC'],
        ['findMany', 'DESC'],
      ] as const) {
        const spyStore = createTickStore({ database: spy, readPath });
        captured.length = 0;
        await spyStore.history({
          instrumentKey: KEY_A,
          order,
          limit: 5,
          from: 1_000,
          to: 1_300,
          after: { exchangeTs: 1_100, id: '9' },
        });
        const [query] = captured;
        expect(query).toBeDefined();
        const params = JSON.parse(query!.params) as unknown[];
        if (provider === 'sqlite') {
          const raw = new SqliteDatabase(db.where, { readonly: true });
          try {
            const plan = raw
              .prepare(`EXPLAIN QUERY PLAN ${query!.sql}`)
              .all(...(params as (string | number)[]))
              .map((row) => (row as { detail: string }).detail);
            expect(plan.join('\n')).toMatch(
              /SEARCH (main\.)?Tick USING INDEX Tick_instrumentKey_exchangeTs_id_idx \(instrumentKey=\? AND exchangeTs>\? AND exchangeTs<\?\)/,
            );
            expect(plan.join('\n')).not.toMatch(/TEMP B-TREE/);
          } finally {
            raw.close();
          }
        } else {
          const client = await db.rawPg();
          // The seeded table is tiny, so the planner would rightly seq-scan it; forbid that to see the index plan.
          await client.query('SET enable_seqscan = off');
          const { rows } = await client.query(`EXPLAIN ${query!.sql}`, params);
          const plan = rows.map((r: { 'QUERY PLAN': string }) => r['QUERY PLAN']).join('\n');
          expect(plan).toMatch(/Index Scan( Backward)? using "Tick_instrumentKey_exchangeTs_id_idx"/);
          expect(plan).toMatch(
            /Index Cond: \(\("instrumentKey" = .*\) AND \("exchangeTs" >= .*\) AND \("exchangeTs" < .*\)/,
          );
          expect(plan).not.toMatch(/Sort/);
        }
      }
    } finally {
      await spy.disconnect();
    }
  });

  it('keeps the desired subscription set: upsert changes the mode, remove deletes, list is ordered by key', async () => {
    expect(await store.listSubscriptions()).toEqual([]);
    await store.upsertSubscriptions([
      { instrumentKey: KEY_B, mode: 'full' },
      { instrumentKey: KEY_A, mode: 'ltpc' },
    ]);
    const first = await store.listSubscriptions();
    expect(first.map(({ instrumentKey, mode }) => ({ instrumentKey, mode }))).toEqual([
      { instrumentKey: KEY_A, mode: 'ltpc' },
      { instrumentKey: KEY_B, mode: 'full' },
    ]);
    expect(first[0]!.createdAt).toBeInstanceOf(Date);
    // Written through raw SQL, read through Prisma: the timestamps must come back as the moment of the write.
    expect(Math.abs(first[0]!.createdAt.getTime() - Date.now())).toBeLessThan(60_000);
    expect(first[0]!.updatedAt.getTime()).toBe(first[0]!.createdAt.getTime());

    await store.upsertSubscriptions([{ instrumentKey: KEY_A, mode: 'option_greeks' }]);
    const second = await store.listSubscriptions();
    expect(second[0]).toMatchObject({ instrumentKey: KEY_A, mode: 'option_greeks', createdAt: first[0]!.createdAt });
    expect(second[0]!.updatedAt.getTime()).toBeGreaterThanOrEqual(first[0]!.updatedAt.getTime());

    await store.removeSubscriptions([KEY_A, 'NSE_EQ|NOT_THERE']);
    expect((await store.listSubscriptions()).map((s) => s.instrumentKey)).toEqual([KEY_B]);
    await store.upsertSubscriptions([]);
    await store.removeSubscriptions([]);
  });

  it('upserts 5,000 keys in one call (chunked multi-row statements) and changes their mode in another', async () => {
    const keys = Array.from({ length: 5_000 }, (_, i) => `MCX_FO|${100_000 + i}`);
    await store.upsertSubscriptions(keys.map((instrumentKey) => ({ instrumentKey, mode: 'ltpc' as const })));
    await store.upsertSubscriptions(
      keys.slice(0, 2_500).map((instrumentKey) => ({ instrumentKey, mode: 'full' as const })),
    );
    const rows = (await store.listSubscriptions()).filter((row) => row.instrumentKey.startsWith('MCX_FO|'));
    expect(rows).toHaveLength(5_000);
    expect(rows.filter((row) => row.mode === 'full')).toHaveLength(2_500);
    await store.removeSubscriptions(keys);
  });
});
