/**
 * Decode throughput: frames/s and ticks/s of our decoder (decode + merge into the latest cache) on identical
 * recorded frames, beside the official upstox-js-sdk path and bare protobufjs decode.
 * Goals (issue "Benchmarks"): ours ≥ 3× the SDK and ≥ 70 % of bare protobufjs.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createBareDecoder, createSdkDecoder, type FrameDecoder, sdkInfo } from './lib/baselines.js';
import { type FrameMode, type RecordedFrames, recordFrames } from './lib/frames.js';
import type { Benchmark, Goal, Profile, Row } from './lib/harness.js';
import { ratio } from './lib/harness.js';
import { median, timeLoop } from './lib/stats.js';

interface Case {
  readonly mode: FrameMode;
  readonly keyCount: number;
  readonly keysPerLiveFrame: number;
}

const CASES: readonly Case[] = [
  { mode: 'ltpc', keyCount: 5_000, keysPerLiveFrame: 100 },
  { mode: 'full', keyCount: 2_000, keysPerLiveFrame: 50 },
  { mode: 'option_greeks', keyCount: 2_000, keysPerLiveFrame: 100 },
];

const SIZES: Record<Profile, { liveFrames: number; maxMs: number; rounds: number; keyScale: number }> = {
  smoke: { liveFrames: 20, maxMs: 30, rounds: 1, keyScale: 0.02 },
  // Many short interleaved rounds and a median: on a shared machine the background load changes by the second.
  quick: { liveFrames: 200, maxMs: 200, rounds: 5, keyScale: 1 },
  full: { liveFrames: 1_000, maxMs: 400, rounds: 11, keyScale: 1 },
};

/** The shape of src/upstox/decoder.ts + src/ticks/latest-cache.ts that this benchmark relies on. */
interface OurDecoderModule {
  createDecoder(options: { cache: unknown }): { decode(bytes: Uint8Array, receivedAt: number): unknown };
}
interface OurCacheModule {
  createLatestCache(options?: unknown): unknown;
}

interface OurProtoModule {
  decodeFeedResponse(bytes: Uint8Array): unknown;
}

const PROTO_FILE = fileURLToPath(new URL('../src/upstox/proto.ts', import.meta.url));
const DECODER_FILE = fileURLToPath(new URL('../src/upstox/decoder.ts', import.meta.url));
const CACHE_FILE = fileURLToPath(new URL('../src/ticks/latest-cache.ts', import.meta.url));

/** Our decoder with a fresh latest cache, or null (with the reason) while it does not exist yet. */
async function createOurDecoder(): Promise<FrameDecoder | string> {
  if (!existsSync(DECODER_FILE)) return 'src/upstox/decoder.ts does not exist yet';
  if (!existsSync(CACHE_FILE)) return 'src/ticks/latest-cache.ts does not exist yet';
  try {
    const decoderModule = (await import(pathToFileURL(DECODER_FILE).href)) as OurDecoderModule;
    const cacheModule = (await import(pathToFileURL(CACHE_FILE).href)) as OurCacheModule;
    const cache = cacheModule.createLatestCache();
    const decoder = decoderModule.createDecoder({ cache });
    return {
      name: 'tickgraph',
      decode(bytes) {
        return decoder.decode(bytes, Date.now());
      },
    };
  } catch (error) {
    return `our decoder failed to load: ${(error as Error).message}`;
  }
}

/** Our protobuf step alone (proto.ts, int64 read as numbers), no merge: shows what the merge costs. */
async function createOurDecodeOnly(): Promise<FrameDecoder | null> {
  if (!existsSync(PROTO_FILE)) return null;
  try {
    const proto = (await import(pathToFileURL(PROTO_FILE).href)) as Partial<OurProtoModule>;
    const decode = proto.decodeFeedResponse;
    if (typeof decode !== 'function') return null;
    return { name: 'tickgraph decode-only', decode: (bytes) => decode(bytes) };
  } catch {
    return null;
  }
}

// A full GC between measurements without needing `node --expose-gc` on the command line.
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

interface Measured {
  framesPerSecond: number;
  ticksPerSecond: number;
}

/** Decodes `frames` round-robin within the bounds; the caller interleaves decoders and takes medians. */
function measure(decoder: FrameDecoder, frames: readonly Uint8Array[], ticks: readonly number[], maxMs: number) {
  let sink = 0;
  const bounds = { maxIterations: 10_000_000, maxMs, warmupIterations: Math.min(frames.length, 200) };
  const result = timeLoop(bounds, (i) => {
    if (decoder.decode(frames[i % frames.length]!)) sink++;
  });
  // Keeps `sink` observable so the decode results are not dead code.
  if (sink === -1) throw new Error('unreachable');
  return { framesPerSecond: result.perSecond, ticksPerSecond: result.perSecond * average(ticks) };
}

function average(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

export const decodeBenchmark: Benchmark = {
  name: 'decode',
  description:
    'Frames/s and ticks/s decoding identical recorded frames: ours (decode + merge) vs upstox-js-sdk vs bare protobufjs',
  async run({ profile, log }) {
    const size = SIZES[profile];
    const bare = createBareDecoder();
    const sdk = await createSdkDecoder();
    const sdkVersions = sdkInfo();
    const decodeOnly = await createOurDecodeOnly();
    const rows: Row[] = [];
    const notes: string[] = [
      `SDK path: upstox-js-sdk ${sdkVersions.version} with its own protobufjs ${sdkVersions.protobufjsVersion} and its own .proto; per frame lookupType + decode + JSON.stringify + Buffer (what its 'message' event emits).`,
      'Bare: repo protobufjs decode only (no conversion to plain objects, no merge) — the limit named in the issue. protobufjs builds a Long object per int64 field (the `long` package is installed), which our proto.ts avoids by reading int64 varints straight into numbers; that is why ours can beat bare on int64-heavy full frames.',
      'Ours decode-only: src/upstox/proto.ts decodeFeedResponse without the merge — the gap to "ours" is the merge + cache cost.',
      'Ours: createDecoder({ cache: createLatestCache() }).decode(bytes, receivedAt) — decode + merge into the per-instrument state; the cache is primed with the snapshot first.',
      `Rates are the median of ${size.rounds} interleaved round(s) of ≤ ${size.maxMs} ms each (decoder order rotated per round, full GC before each measurement).`,
    ];
    let ourMissing: string | null = null;
    const ratiosSdk: number[] = [];
    const ratiosBare: number[] = [];

    for (const c of CASES) {
      const keyCount = Math.max(10, Math.round(c.keyCount * size.keyScale));
      const recorded: RecordedFrames = recordFrames({
        mode: c.mode,
        keyCount,
        liveFrames: size.liveFrames,
        keysPerLiveFrame: Math.min(c.keysPerLiveFrame, keyCount),
      });
      const snapshot = recorded.frames.slice(0, 1);
      const live = recorded.frames.slice(1);
      const kinds = [
        { label: 'snapshot', frames: snapshot, ticks: recorded.ticksPerFrame.slice(0, 1) },
        { label: 'live', frames: live, ticks: recorded.ticksPerFrame.slice(1) },
      ];
      for (const kind of kinds) {
        const ours = await createOurDecoder();
        if (typeof ours === 'string') ourMissing = ours;
        else ours.decode(recorded.frames[0]!); // prime the cache: live frames merge into known instruments
        const decoders: FrameDecoder[] = [sdk, bare];
        if (typeof ours !== 'string') decoders.push(ours);
        if (decodeOnly) decoders.push(decodeOnly);
        const rounds = new Map<string, Measured[]>(decoders.map((d) => [d.name, []]));
        for (let round = 0; round < size.rounds; round++) {
          // Rotate the order each round, and start every measurement from a collected heap, so no decoder
          // pays for the garbage of the one before it.
          for (let i = 0; i < decoders.length; i++) {
            const decoder = decoders[(round + i) % decoders.length]!;
            collectGarbage();
            rounds.get(decoder.name)!.push(measure(decoder, kind.frames, kind.ticks, size.maxMs));
          }
        }
        const pick = (name: string) => {
          const list = rounds.get(name);
          if (!list || list.length === 0) return null;
          return {
            framesPerSecond: median(list.map((m) => m.framesPerSecond)),
            ticksPerSecond: median(list.map((m) => m.ticksPerSecond)),
          };
        };
        const o = pick('tickgraph');
        const s = pick(sdk.name)!;
        const b = pick(bare.name)!;
        const d = pick('tickgraph decode-only');
        const vsSdk = ratio(o?.framesPerSecond, s.framesPerSecond);
        const vsBare = ratio(o?.framesPerSecond, b.framesPerSecond);
        if (vsSdk !== null) ratiosSdk.push(vsSdk);
        if (vsBare !== null) ratiosBare.push(vsBare);
        const bytes = average(kind.frames.map((f) => f.byteLength));
        rows.push({
          case: `${c.mode} ${kind.label}`,
          keys: keyCount,
          'ticks/frame': average(kind.ticks),
          'frame bytes': bytes,
          'ours frames/s': o?.framesPerSecond ?? null,
          'ours ticks/s': o?.ticksPerSecond ?? null,
          'sdk frames/s': s.framesPerSecond,
          'ours/sdk': vsSdk,
          'bare frames/s': b.framesPerSecond,
          'ours/bare': vsBare,
          'ours decode-only frames/s': d?.framesPerSecond ?? null,
        });
        log(
          `${c.mode} ${kind.label}: ours ${o ? Math.round(o.framesPerSecond) : '—'} f/s, sdk ${Math.round(s.framesPerSecond)} f/s, bare ${Math.round(b.framesPerSecond)} f/s`,
        );
      }
    }
    if (ourMissing) notes.push(`Ours not measured: ${ourMissing}.`);
    const minSdk = ratiosSdk.length ? Math.min(...ratiosSdk) : null;
    const minBare = ratiosBare.length ? Math.min(...ratiosBare) : null;
    const goals: Goal[] = [
      {
        description: 'ours ≥ 3× upstox-js-sdk (frames/s, every case)',
        met: minSdk === null ? null : minSdk >= 3,
        detail: minSdk === null ? 'decoder not available' : `worst case ${minSdk.toFixed(2)}×`,
      },
      {
        description: 'ours ≥ 70 % of bare protobufjs decode (frames/s, every case)',
        met: minBare === null ? null : minBare >= 0.7,
        detail: minBare === null ? 'decoder not available' : `worst case ${(minBare * 100).toFixed(0)} %`,
      },
    ];
    return { rows, goals, notes };
  },
};

export default decodeBenchmark;
