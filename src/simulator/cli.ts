/**
 * Command line for the simulator: `npm run simulator -- --port 4100 --rate 1000 --plus --token x`.
 *
 * `parseSimulatorArgs` and `runSimulatorCli` are importable (pure: argv, output and signal hooks are passed in);
 * only the guarded entry block at the bottom touches `process`, as main.ts does for the app.
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { createLogger } from '../logger.js';
import { defaultUniverse, generateUniverse } from './market-model.js';
import { createSimulator, type RefusableStatus, type Simulator, type SimulatorOptions } from './simulator.js';

export class CliUsageError extends Error {
  override name = 'CliUsageError';
}

export const SIMULATOR_USAGE = `Usage: npm run simulator -- [options]

  --host <addr>            listen address (default 127.0.0.1)
  --port <n>               TCP port, 0 = any free port (default 4100)
  --token <t>              accepted bearer token; repeat for several (default simulator-token)
  --rate <n>               total ticks per second over the subscribed keys (default 100)
  --interval <ms>          live frame interval (default 100)
  --ping <ms>              idle ping interval (default 5000)
  --plus                   Upstox Plus entitlement (full_d30)
  --redirect-status <n>    302 or 307 (default 307)
  --max-connections <n>    feeder sockets per token (default 2)
  --seed <n>               market model seed (default 1)
  --equities <n>           use a generated universe with n equities (instead of the sample)
  --options <n>            ... and n options on them
  --replay <file>          replay a recording instead of generating a market
  --speed <x>              replay speed multiplier (default 1)
  --fault <f>              start with a fault: stall | redirect-loop | refuse-authorize:<401|429|500>[:times]
                           | slow-reader:<ms>; repeatable (drop/garbage are runtime-only, see below)
  --log-level <level>      pino level (default info)
  -h, --help               this text

Runtime control: POST /_simulator/faults/{drop,stall?on=1,garbage?count=3,refuse-authorize?status=429&times=2,
redirect-loop?on=1,slow-reader?ms=500,reset}, POST /_simulator/rate?ticksPerSecond=N, GET /_simulator/status.`;

export interface SimulatorCliConfig {
  readonly help: boolean;
  readonly options: SimulatorOptions;
  readonly faults: ReadonlyArray<
    | { readonly kind: 'stall' | 'redirect-loop' }
    | { readonly kind: 'refuse-authorize'; readonly status: RefusableStatus; readonly times: number }
    | { readonly kind: 'slow-reader'; readonly ms: number }
  >;
  readonly logLevel: string;
}

function int(name: string, raw: string | undefined, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new CliUsageError(`--${name} must be an integer between ${min} and ${max}, got ${JSON.stringify(raw)}`);
  }
  return n;
}

function positive(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0)
    throw new CliUsageError(`--${name} must be a number > 0, got ${JSON.stringify(raw)}`);
  return n;
}

function parseFault(raw: string): SimulatorCliConfig['faults'][number] {
  const [kind, a, b] = raw.split(':');
  switch (kind) {
    case 'stall':
    case 'redirect-loop':
      if (a !== undefined) break;
      return { kind };
    case 'refuse-authorize': {
      const status = Number(a);
      if (status !== 401 && status !== 429 && status !== 500) {
        throw new CliUsageError(`--fault refuse-authorize needs a status 401, 429 or 500, e.g. refuse-authorize:429:2`);
      }
      const times = b === undefined ? Number.POSITIVE_INFINITY : int('fault refuse-authorize times', b, 1);
      return { kind, status, times: times! };
    }
    case 'slow-reader':
      return { kind, ms: int('fault slow-reader ms', a ?? '', 0)! };
    case 'drop':
    case 'garbage':
      throw new CliUsageError(`--fault ${kind} is a one-shot fault: use POST /_simulator/faults/${kind} while running`);
  }
  throw new CliUsageError(
    `unknown --fault ${JSON.stringify(raw)} (stall, redirect-loop, refuse-authorize:<status>[:times], slow-reader:<ms>)`,
  );
}

/** Parses CLI arguments (without node and script). Throws CliUsageError with a readable message. */
export function parseSimulatorArgs(argv: readonly string[]): SimulatorCliConfig {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; strict: true; allowPositionals: false }>>;
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, strict: true, allowPositionals: false });
  } catch (error) {
    throw new CliUsageError((error as Error).message);
  }
  const v = parsed.values;
  const redirectStatus = int('redirect-status', v['redirect-status'], 302, 307);
  if (redirectStatus !== undefined && redirectStatus !== 302 && redirectStatus !== 307) {
    throw new CliUsageError(`--redirect-status must be 302 or 307, got ${redirectStatus}`);
  }
  const equities = int('equities', v.equities, 1, 100_000);
  const options = int('options', v.options, 0, 100_000);
  if (options !== undefined && equities === undefined) throw new CliUsageError('--options needs --equities');
  if (v.speed !== undefined && v.replay === undefined) throw new CliUsageError('--speed needs --replay');
  const tokens = v.token ?? ['simulator-token'];
  if (tokens.some((t) => t.trim() === '')) throw new CliUsageError('--token must not be empty');
  const simulatorOptions: SimulatorOptions = {
    host: v.host ?? '127.0.0.1',
    port: int('port', v.port, 0, 65_535) ?? 4100,
    accessTokens: tokens,
    ticksPerSecond: int('rate', v.rate, 0) ?? 100,
    frameIntervalMs: int('interval', v.interval, 1, 60_000) ?? 100,
    pingIntervalMs: int('ping', v.ping, 1) ?? 5_000,
    plus: v.plus ?? false,
    redirectStatus: (redirectStatus as 302 | 307 | undefined) ?? 307,
    maxConnectionsPerToken: int('max-connections', v['max-connections'], 1) ?? 2,
    seed: int('seed', v.seed, 0) ?? 1,
    universe: equities === undefined ? defaultUniverse() : generateUniverse({ equities, options: options ?? 0 }),
    replayFile: v.replay,
    replaySpeed: positive('speed', v.speed) ?? 1,
  };
  return {
    help: v.help ?? false,
    options: simulatorOptions,
    faults: (v.fault ?? []).map(parseFault),
    logLevel: v['log-level'] ?? 'info',
  };
}

const OPTIONS = {
  host: { type: 'string' },
  port: { type: 'string' },
  token: { type: 'string', multiple: true },
  rate: { type: 'string' },
  interval: { type: 'string' },
  ping: { type: 'string' },
  plus: { type: 'boolean' },
  'redirect-status': { type: 'string' },
  'max-connections': { type: 'string' },
  seed: { type: 'string' },
  equities: { type: 'string' },
  options: { type: 'string' },
  replay: { type: 'string' },
  speed: { type: 'string' },
  fault: { type: 'string', multiple: true },
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export interface CliIo {
  /** Human output (URL, token, usage). */
  print(line: string): void;
}

/** Builds and starts a simulator from CLI arguments; returns it (caller stops it). Throws CliUsageError. */
export async function runSimulatorCli(argv: readonly string[], io: CliIo): Promise<Simulator | null> {
  const config = parseSimulatorArgs(argv);
  if (config.help) {
    io.print(SIMULATOR_USAGE);
    return null;
  }
  const logger = createLogger({ level: config.logLevel });
  const sim = createSimulator({ ...config.options, logger });
  for (const fault of config.faults) {
    if (fault.kind === 'refuse-authorize') sim.faults.refuseAuthorize(fault.status, fault.times);
    else if (fault.kind === 'slow-reader') sim.faults.slowReader(fault.ms);
    else if (fault.kind === 'stall') sim.faults.stall(true);
    else sim.faults.redirectLoop(true);
  }
  await sim.start();
  // The simulator's tokens are not real credentials: printing them is what makes the CLI usable.
  io.print(`Upstox feed simulator listening on ${sim.url}`);
  io.print(`  authorize:   GET ${sim.url}/v3/feed/market-data-feed/authorize`);
  io.print(`  direct WS:   ${sim.feedUrl}`);
  io.print(`  status:      GET ${sim.url}/_simulator/status`);
  io.print(`  token(s):    ${(config.options.accessTokens ?? []).join(', ')}`);
  io.print(`  set UPSTOX_API_BASE=${sim.url} and UPSTOX_ACCESS_TOKEN=<token> to point tickgraph at it`);
  return sim;
}

// Entry point (tsx src/simulator/cli.ts …): the only place here that touches process.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runSimulatorCli(process.argv.slice(2), { print: (line) => process.stdout.write(`${line}\n`) }).then(
    (sim) => {
      if (!sim) return;
      const shutdown = () => {
        sim.stop().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.once('SIGINT', shutdown);
      process.once('SIGTERM', shutdown);
    },
    (error: unknown) => {
      if (error instanceof CliUsageError) {
        process.stderr.write(`simulator: ${error.message}\n\n${SIMULATOR_USAGE}\n`);
        process.exit(2);
      }
      process.stderr.write(`simulator: ${(error as Error).message}\n`);
      process.exit(1);
    },
  );
}
