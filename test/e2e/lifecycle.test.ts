import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startTestApp, type TestApp } from '../support/app.js';

const started: TestApp[] = [];
afterAll(async () => {
  for (const t of started) await t.stop();
});

async function gql(url: string, query: string, headers: Record<string, string> = {}) {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query }),
  });
  return { status: response.status, body: (await response.json()) as { data?: any; errors?: any[] } };
}

describe('server lifecycle', () => {
  it('serves GraphQL, GraphiQL, /health and /ready on one port, with the simulated feed subscribed', async () => {
    const t = await startTestApp();
    started.push(t);
    expect((await fetch(`${t.url}/health`)).status).toBe(200);
    const ready = await fetch(`${t.url}/ready`);
    expect(ready.status).toBe(200);

    const graphiql = await fetch(`${t.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(graphiql.status).toBe(200);
    expect(await graphiql.text()).toMatch(/graphiql/i);

    const { body } = await gql(t.url, '{ feedStatus { source } instrumentSubscriptions { instrumentKey } }');
    expect(body.errors).toBeUndefined();
    expect(body.data.feedStatus.source).toBe('SIMULATOR');
    expect(body.data.instrumentSubscriptions.length).toBeGreaterThan(0);
    expect(t.logs.join('')).toMatch(/SIMULATED/);

    // Ticks flow: the default universe is live on the bus, with prices.
    const live = t.app.parts.services!.bus.subscribe({ instrumentKeys: ['NSE_EQ|INE002A01018'] });
    const { value } = await live.next();
    await live.return();
    expect(value![0]!.tick.ltp).toBeGreaterThan(0);
  });

  it('stops in order: WebSocket clients closed with 1001, HTTP closed, feed stopped, recorder flushed, database last; stop is idempotent', async () => {
    const t = await startTestApp();
    const { server, feed, recorder, database } = t.app.parts;
    const order: string[] = [];
    const spy = <T extends object>(name: string, target: T, method: keyof T) => {
      const original = (target[method] as () => Promise<void>).bind(target);
      (target as Record<keyof T, unknown>)[method] = async () => {
        order.push(`${name}:start`);
        await original();
        order.push(`${name}:end`);
      };
    };
    spy('server', server!, 'close');
    spy('feed', feed!, 'stop');
    spy('recorder', recorder!, 'stop');
    spy('database', database!, 'disconnect');

    const ws = new WebSocket(`ws://127.0.0.1:${t.port}/graphql`, 'graphql-transport-ws');
    await once(ws, 'open');
    ws.send(JSON.stringify({ type: 'connection_init' }));
    const [ack] = await once(ws, 'message');
    expect(JSON.parse(String(ack)).type).toBe('connection_ack');

    const closed = once(ws, 'close').then(([code]) => {
      order.push(`ws-closed:${code}`);
    });
    const first = t.app.stop();
    expect(t.app.stop()).toBe(first);
    await first;
    await closed;

    expect(order.indexOf('ws-closed:1001')).toBeGreaterThan(order.indexOf('server:start'));
    expect(order.indexOf('ws-closed:1001')).toBeLessThan(order.indexOf('server:end'));
    expect(order.filter((e) => e.endsWith(':end'))).toEqual(['server:end', 'feed:end', 'recorder:end', 'database:end']);
    await expect(fetch(`${t.url}/health`)).rejects.toThrow();
    const lines = t.logs.map((l) => JSON.parse(l) as { msg: string });
    expect(lines.at(-1)!.msg).toBe('stopped');
    await t.stop();
  });

  it('reports not ready on /ready while shutting down', async () => {
    const t = await startTestApp();
    const { server } = t.app.parts;
    const original = server!.close.bind(server);
    let readyDuringStop: number | undefined;
    server!.close = async () => {
      readyDuringStop = (await fetch(`${t.url}/ready`)).status;
      await original();
    };
    await t.stop();
    expect(readyDuringStop).toBe(503);
  });
});

describe('process entry (npm start)', () => {
  function startMain(env: Record<string, string>) {
    return spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: new URL('../..', import.meta.url).pathname,
      env: { ...process.env, LOG_FORMAT: 'json', PORT: '0', HOST: '127.0.0.1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  }

  it('refuses an invalid configuration with every problem listed, exit code 2, nothing started', async () => {
    const child = startMain({ PORT: 'eighty', DATABASE_URL: 'mysql://nope', UPSTOX_PLUS: 'perhaps' });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const [code] = await once(child, 'exit');
    expect(code).toBe(2);
    expect(stderr).toMatch(/3 problems/);
    for (const name of ['PORT', 'DATABASE_URL', 'UPSTOX_PLUS']) expect(stderr).toContain(name);
  });

  it('starts with no configuration beyond a port, then exits 0 on SIGTERM after an ordered stop', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(`${tmpdir()}/tickgraph-main-`);
    const child = startMain({ DATABASE_URL: `file:${dir}/t.db` });
    const lines = createInterface({ input: child.stdout });
    const seen: string[] = [];
    const readyUrl = await new Promise<string>((resolve, reject) => {
      lines.on('line', (line) => {
        seen.push(line);
        const url = /ready at (http:\/\/[^\s"]+)/.exec(line)?.[1];
        if (url) resolve(url.replace('localhost', '127.0.0.1'));
      });
      child.once('exit', (code) => reject(new Error(`exited ${code}: ${seen.join('\n')}`)));
    });
    expect((await fetch(readyUrl.replace('/graphql', '/health'))).status).toBe(200);
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
    expect(seen.some((l) => l.includes('"stopped"'))).toBe(true);
    rmSync(dir, { recursive: true, force: true });
  });

  it('exits at once with code 130 when a second signal arrives during the ordered stop', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(`${tmpdir()}/tickgraph-main-`);
    const child = startMain({ DATABASE_URL: `file:${dir}/t.db` });
    const lines = createInterface({ input: child.stdout });
    const url = await new Promise<string>((resolve, reject) => {
      lines.on('line', (line) => {
        const match = /ready at (http:\/\/[^\s"]+)/.exec(line)?.[1];
        if (match) resolve(match.replace('localhost', '127.0.0.1'));
      });
      child.once('exit', (code) => reject(new Error(`exited ${code}`)));
    });
    // A graphql-ws client that stops reading holds the stop open (the server waits for its close handshake).
    const ws = new WebSocket(url.replace('http', 'ws'), 'graphql-transport-ws');
    await once(ws, 'open');
    ws.send(JSON.stringify({ type: 'connection_init' }));
    await once(ws, 'message');
    (ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const stopping = new Promise<void>((resolve) => {
      lines.on('line', (line) => {
        if (line.includes('stopping')) resolve();
      });
    });
    child.kill('SIGTERM');
    await stopping;
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    expect(code).toBe(130);
    ws.terminate();
    rmSync(dir, { recursive: true, force: true });
  });
});
