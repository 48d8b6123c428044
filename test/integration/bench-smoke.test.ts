/**
 * The benchmarks still run: each of bench/decode, fanout, subscribe and memory at the tiny `smoke` size,
 * through the same runner `npm run bench` uses, writing JSON to a temp dir. No timing assertions — only that
 * each produced rows, the figures it promises, and a well-formed result file.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatTable, type SavedResult } from '../../bench/lib/harness.js';
import { runBenchmarks } from '../../bench/lib/runner.js';

let outDir: string;
const printed: string[] = [];

beforeAll(async () => {
  outDir = await mkdtemp(join(tmpdir(), 'bench-smoke-'));
});

afterAll(async () => {
  await rm(outDir, { recursive: true, force: true });
});

async function runOne(name: string): Promise<SavedResult> {
  const [outcome] = await runBenchmarks({ names: [name], profile: 'smoke', outDir, print: (t) => printed.push(t) });
  if (!outcome?.ok) throw new Error(`${name} failed: ${outcome?.error}\n${printed.slice(-20).join('\n')}`);
  const saved = JSON.parse(await readFile(join(outDir, `${name}.json`), 'utf8')) as SavedResult;
  expect(saved.name).toBe(name);
  expect(saved.profile).toBe('smoke');
  expect(saved.machine.cores).toBeGreaterThan(0);
  expect(saved.machine.node).toMatch(/^v\d+/);
  expect(Number.isNaN(Date.parse(saved.date))).toBe(false);
  expect(saved.rows.length).toBeGreaterThan(0);
  expect(formatTable(saved)).toContain(Object.keys(saved.rows[0]!)[0]!);
  return saved;
}

// Each benchmark starts several processes; on 2 shared cores that can take a while (never a timing assertion).
const TIMEOUT_MS = 180_000;

describe('benchmarks at smoke size', () => {
  it(
    'decode compares our decoder with the SDK path and bare protobufjs on every recorded case',
    async () => {
      const saved = await runOne('decode');
      expect(saved.rows.map((r) => r['case'])).toEqual([
        'ltpc snapshot',
        'ltpc live',
        'full snapshot',
        'full live',
        'option_greeks snapshot',
        'option_greeks live',
      ]);
      for (const row of saved.rows) {
        expect(row['sdk frames/s']).toBeGreaterThan(0);
        expect(row['bare frames/s']).toBeGreaterThan(0);
        expect(row['ours frames/s']).toBeGreaterThan(0);
      }
      expect(saved.goals?.map((g) => g.met)).not.toContain(null);
    },
    TIMEOUT_MS,
  );

  it(
    'fanout delivers ticks end to end through tickgraph and through the plain-ws limit',
    async () => {
      const saved = await runOne('fanout');
      const systems = saved.rows.map((r) => `${r['scenario']}/${r['system']}`);
      expect(systems).toEqual(['realistic/tickgraph', 'realistic/plain-ws', 'stress/tickgraph', 'stress/plain-ws']);
      for (const row of saved.rows) {
        expect(row['delivered/s']).toBeGreaterThan(0);
        expect(row['p99 ms']).not.toBeNull();
      }
    },
    TIMEOUT_MS,
  );

  it(
    'subscribe reports the time until every subscribed key was snapshotted',
    async () => {
      const saved = await runOne('subscribe');
      expect(saved.rows[0]!['keys snapshotted']).toBe(saved.rows[0]!['keys']);
      expect(saved.rows[0]!['all snapshots ms']).toBeGreaterThan(0);
    },
    TIMEOUT_MS,
  );

  it(
    'memory reports idle, per-instrument and idle-client rows',
    async () => {
      const saved = await runOne('memory');
      const states = saved.rows.map((r) => String(r['state']));
      expect(states[0]).toMatch(/^idle/);
      expect(states.some((s) => s.includes('instruments subscribed'))).toBe(true);
      expect(states.some((s) => s.includes('idle graphql-ws clients'))).toBe(true);
      for (const row of saved.rows) expect(row['RSS MiB']).toBeGreaterThan(0);
    },
    TIMEOUT_MS,
  );
});
