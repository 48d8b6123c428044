/**
 * Decode baselines for bench/decode.ts:
 * - the official upstox-js-sdk path, reproduced step for step from its MarketDataFeederV3 (its own .proto, its
 *   own nested protobufjs 7): per WebSocket message `root.lookupType(...)`, `FeedResponse.decode(buffer)`,
 *   `JSON.stringify(decoded)` (protobufjs toJSON: int64 → strings, enums → names), then `Readable.push(string)`,
 *   which in byte mode turns the string into a Buffer — that Buffer is what the SDK's `message` event hands out.
 * - bare protobufjs (the repo's protobufjs 8): `FeedResponse.decode` and nothing else — the floor any decoder
 *   built on protobufjs pays.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import protobuf from 'protobufjs';
import { FEED_RESPONSE_TYPE, PROTO_PATH } from './frames.js';

export interface FrameDecoder {
  readonly name: string;
  /** Decodes one frame; returns something derived from it so the work cannot be optimised away. */
  decode(bytes: Uint8Array): unknown;
}

const require = createRequire(import.meta.url);

/** Where the SDK keeps its feeder (dist is what `require('upstox-js-sdk')` runs). */
function sdkFeederDir(): string {
  const packageJson = require.resolve('upstox-js-sdk/package.json');
  return join(dirname(packageJson), 'dist', 'feeder');
}

export function sdkInfo(): { version: string; protobufjsVersion: string; protoPath: string } {
  const feederDir = sdkFeederDir();
  const sdkRequire = createRequire(join(feederDir, 'MarketDataFeederV3.js'));
  const version = (require('upstox-js-sdk/package.json') as { version: string }).version;
  const protobufjsVersion = (sdkRequire('protobufjs/package.json') as { version: string }).version;
  return { version, protobufjsVersion, protoPath: join(feederDir, 'proto', 'MarketDataFeedV3.proto') };
}

/** The SDK's decode path with the SDK's own protobufjs and .proto. */
export async function createSdkDecoder(): Promise<FrameDecoder> {
  const feederDir = sdkFeederDir();
  const protoPath = join(feederDir, 'proto', 'MarketDataFeedV3.proto');
  if (!existsSync(protoPath)) throw new Error(`upstox-js-sdk proto not found at ${protoPath}`);
  // Resolve protobufjs the way the SDK's own `require("protobufjs")` does (its nested copy when present).
  const sdkProtobuf = createRequire(join(feederDir, 'MarketDataFeederV3.js'))('protobufjs') as typeof protobuf;
  const root = await sdkProtobuf.load(protoPath);
  return {
    name: 'upstox-js-sdk',
    decode(bytes) {
      // Same calls, same order as MarketDataFeederV3.decodeProtobuf + onMessage (lookup on every message).
      const FeedResponse = root.lookupType(FEED_RESPONSE_TYPE);
      const decoded = FeedResponse.decode(bytes);
      return Buffer.from(JSON.stringify(decoded));
    },
  };
}

/** protobufjs decode alone (repo's protobufjs, our proto): the limit. */
export function createBareDecoder(): FrameDecoder {
  const FeedResponse = protobuf.loadSync(PROTO_PATH).lookupType(FEED_RESPONSE_TYPE);
  return {
    name: 'bare protobufjs',
    decode(bytes) {
      return FeedResponse.decode(bytes);
    },
  };
}
