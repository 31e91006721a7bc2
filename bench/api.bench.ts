/**
 * Status API latency: GET /status at a steady request rate over real HTTP on
 * loopback, against a baseline of a bare node:http server answering a body
 * of the same size in the same run. Each server runs in its own process so
 * the load generator does not share its event loop.
 *
 * `statusLoad` is the load generator on its own, for benches that measure
 * something else (SSH throughput) while the API is being polled.
 */
import { fork, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import type net from 'node:net';
import { buildApp } from '../src/api/app.js';
import { silentLogger } from '../src/util/logger.js';
import { FakeSource, sampleSnapshot, session } from '../tools/api-fixture.js';
import { summary } from './stats.js';

const RATE = Number(process.env.MPSSH_BENCH_API_RATE ?? 500);
const SECONDS = Number(process.env.MPSSH_BENCH_API_SECONDS ?? 10);

/** Where the load goes. */
export type LoadTarget = { host: string; port: number } | { socketPath: string };

export interface LoadOptions {
  target: LoadTarget;
  path?: string;
  /** Requests per second, sent on a fixed schedule whatever the answers' latency (open loop). */
  rate: number;
  durationMs: number;
  /** Requests before this are sent but not counted. */
  warmupMs?: number;
  /** Stops early when aborted (e.g. when the measured transfer ends). */
  signal?: AbortSignal;
}

export interface LoadResult {
  /** Milliseconds from sending each counted request to the end of its answer. */
  latenciesMs: number[];
  errors: number;
  /** Counted requests per second actually completed. */
  achievedRate: number;
}

/** Polls `path` (default /status) at `rate` per second over keep-alive connections. */
export async function statusLoad(opts: LoadOptions): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
  const latencies: number[] = [];
  let errors = 0;
  const warmup = opts.warmupMs ?? 0;
  const start = performance.now();
  const inflight = new Set<Promise<void>>();
  const one = (counted: boolean): Promise<void> =>
    new Promise<void>((resolve) => {
      const t0 = performance.now();
      const req = http.request({ ...opts.target, agent, path: opts.path ?? '/status', method: 'GET' }, (res) => {
        res.on('data', () => undefined);
        res.on('end', () => {
          if (res.statusCode !== 200) errors++;
          else if (counted) latencies.push(performance.now() - t0);
          resolve();
        });
      });
      req.on('error', () => {
        errors++;
        resolve();
      });
      req.end();
    });
  let sent = 0;
  const total = Math.round((opts.rate * (opts.durationMs + warmup)) / 1000);
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      if (opts.signal?.aborted || sent >= total) {
        resolve();
        return;
      }
      // Catch up on the schedule in a batch when a timer fires late.
      const due = Math.min(total, Math.floor(((performance.now() - start) * opts.rate) / 1000) + 1);
      while (sent < due) {
        const counted = (sent * 1000) / opts.rate >= warmup;
        const p: Promise<void> = one(counted).then(() => void inflight.delete(p));
        inflight.add(p);
        sent++;
      }
      setTimeout(tick, Math.max(0, (sent * 1000) / opts.rate - (performance.now() - start)));
    };
    tick();
  });
  await Promise.all(inflight);
  agent.destroy();
  const measuredMs = Math.max(1, performance.now() - start - warmup);
  return { latenciesMs: latencies, errors, achievedRate: Math.round((latencies.length * 1000) / measuredMs) };
}

/** A daemon-sized snapshot: three interfaces, 20 sessions of two subflows each. */
function benchSource(): FakeSource {
  const snap = sampleSnapshot();
  snap.sessions = Array.from({ length: 20 }, (_, i) => session(`s-${i}`, `user${i}`));
  return new FakeSource(snap);
}

/** Child-process side: serves either the API or the baseline and reports its port. */
async function serve(kind: string): Promise<void> {
  let port: number;
  if (kind === 'api') {
    const app = buildApp({ source: benchSource(), log: silentLogger(), control: false });
    await app.listen({ host: '127.0.0.1', port: 0 });
    port = (app.server.address() as net.AddressInfo).port;
  } else {
    const size = Number(process.argv[4]);
    const body = Buffer.from(JSON.stringify({ pad: 'x'.repeat(Math.max(0, size - 10)) }));
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': body.length });
      res.end(body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as net.AddressInfo).port;
  }
  process.send?.({ port });
}

function start(args: string[]): Promise<{ child: ChildProcess; port: number }> {
  return new Promise((resolve, reject) => {
    const child = fork(__filename, ['serve', ...args], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    child.once('message', (m: { port: number }) => resolve({ child, port: m.port }));
    child.once('exit', (code) => reject(new Error(`bench server exited with ${code}`)));
  });
}

async function measure(args: string[]): Promise<LoadResult> {
  const { child, port } = await start(args);
  try {
    return await statusLoad({ target: { host: '127.0.0.1', port }, rate: RATE, durationMs: SECONDS * 1000, warmupMs: 2000 });
  } finally {
    child.kill();
  }
}

/** The bench: /status against the baseline, at RATE requests per second. */
export async function bench(): Promise<Record<string, unknown>> {
  const statusBytes = Buffer.byteLength(JSON.stringify(await buildStatusBody()));
  const api = await measure(['api']);
  const base = await measure(['baseline', String(statusBytes)]);
  const a = summary(api.latenciesMs);
  const b = summary(base.latenciesMs);
  const r = (x: number) => Math.round(x * 100) / 100;
  return {
    rate: RATE,
    measuredSeconds: SECONDS,
    statusBytes,
    api: { ...a, errors: api.errors, achievedRate: api.achievedRate },
    baseline: { ...b, errors: base.errors, achievedRate: base.achievedRate },
    ratio: { p50: r(a.p50 / b.p50), p99: r(a.p99 / b.p99) },
  };
}

async function buildStatusBody(): Promise<unknown> {
  const app = buildApp({ source: benchSource(), log: silentLogger(), control: false });
  const res = await app.inject('/status');
  await app.close();
  return JSON.parse(res.body);
}

if (require.main === module && process.argv[2] === 'serve') void serve(process.argv[3] as string);
