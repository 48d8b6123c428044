/**
 * Feed client vs simulator harness: one "something happened" signal fed by every event both sides emit
 * (batches, status, simulator frames/requests/connections/authorize/loop), and `until(predicate)` that
 * re-checks on each of them. Tests wait on events, never on sleeps; the timeout only turns a hang into a
 * readable failure.
 */
import { EventEmitter } from 'node:events';
import {
  createSimulator,
  type Simulator,
  type SimulatorEvents,
  type SimulatorOptions,
} from '../../src/simulator/simulator.js';
import { createLatestCache, type LatestCache } from '../../src/ticks/latest-cache.js';
import type { TickBatch } from '../../src/ticks/tick.js';
import { createFeedClient, type FeedClient, type FeedClientOptions } from '../../src/upstox/feed-client.js';

export interface FeedHarness {
  readonly sim: Simulator;
  readonly client: FeedClient;
  readonly cache: LatestCache;
  readonly batches: TickBatch[];
  /** Simulator events, in order. */
  readonly events: { [E in keyof SimulatorEvents]: SimulatorEvents[E][] };
  until<T>(predicate: () => T | false | undefined | null, what: string, timeoutMs?: number): Promise<T>;
  stop(): Promise<void>;
}

const SIM_EVENTS = ['connection', 'disconnect', 'request', 'frame', 'authorize', 'loop'] as const;

export async function startFeedHarness(
  simOptions: SimulatorOptions,
  clientOptions: Partial<FeedClientOptions> = {},
): Promise<FeedHarness> {
  const signal = new EventEmitter();
  signal.setMaxListeners(0);
  const poke = () => signal.emit('poke');
  const sim = createSimulator({ port: 0, accessTokens: ['t'], ...simOptions });
  await sim.start();
  const events = Object.fromEntries(SIM_EVENTS.map((e) => [e, []])) as unknown as FeedHarness['events'];
  const offs = SIM_EVENTS.map((event) =>
    sim.on(event, (payload) => {
      (events[event] as unknown[]).push(payload);
      poke();
    }),
  );
  const cache = createLatestCache();
  const batches: TickBatch[] = [];
  const client = createFeedClient({
    apiBase: sim.url,
    accessToken: 't',
    source: 'SIMULATOR',
    cache,
    onBatch: (batch) => {
      batches.push(batch);
      poke();
    },
    retryWait: () => 5,
    ...clientOptions,
  });
  client.on('status', poke);

  return {
    sim,
    client,
    cache,
    batches,
    events,
    until(predicate, what, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          let value: ReturnType<typeof predicate>;
          try {
            value = predicate();
          } catch (error) {
            done();
            reject(error);
            return;
          }
          if (value !== false && value !== undefined && value !== null) {
            done();
            resolve(value as never);
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(
            new Error(`timed out after ${timeoutMs} ms waiting for ${what}; status ${JSON.stringify(client.status())}`),
          );
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          signal.off('poke', check);
        };
        signal.on('poke', check);
        check();
      });
    },
    async stop() {
      await client.stop();
      for (const off of offs) off();
      await sim.stop();
    },
  };
}
