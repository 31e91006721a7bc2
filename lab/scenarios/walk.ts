/**
 * walk: the timeline of lab/walk.yaml (Wi-Fi paths appearing with a new
 * address each time and disappearing, an always-on slower 4G path, rate
 * changes) under a bulk download through mpssh whose every byte is checked
 * against the sequence the server generates, and a line every 100 ms from
 * every client for gaps and liveness.
 */
import crypto from 'node:crypto';
import path from 'node:path';
import { holds, type TargetResult } from '../targets.js';
import { startStream, type Stream } from '../peers.js';
import type { ScenarioResult } from '../lab-run.js';
import { consecutiveFromOne, largestGap } from '../gaps.js';
import { mbit } from '../rate.js';
import { sequence } from '../stream-source.js';
import { loadWalk, type WalkTimeline } from '../walk-timeline.js';
import type { LabTopology } from '../topology.js';
import { r1, sleep, tickerCommand, waitEndpoints, type LabContext } from './common.js';

const SOURCE = path.resolve(__dirname, '../stream-source.js');

/** Adds the timeline's paths to the topology, all down until their first event. */
export function walkTopology(topo: LabTopology, file: string): WalkTimeline {
  const w = loadWalk(file);
  // In file order: the first path has the lowest default-route metric, the one plain TCP takes.
  for (const p of w.paths) topo.addPath({ name: p.name, downRate: p.rate, upRate: p.upRate ?? p.rate, up: false });
  return w;
}

function apply(ctx: LabContext, w: WalkTimeline, e: WalkTimeline['events'][number]): void {
  const k = w.paths.findIndex((p) => p.name === e.path);
  const p = ctx.topo.path(k);
  if (e.do === 'up') {
    const addr = ctx.topo.pathUp(k);
    ctx.run.mark(`${e.path} up ${addr}`);
  } else if (e.do === 'down') {
    ctx.topo.pathDown(k);
    ctx.run.mark(`${e.path} down`);
  } else {
    ctx.topo.setRate(k, e.rate as string, e.upRate ?? p.upRate);
    ctx.run.mark(`${e.path} ${e.rate}`);
  }
}

/** Runs the timeline. */
export async function walk(ctx: LabContext): Promise<ScenarioResult> {
  const { topo, run } = ctx;
  const w = loadWalk(ctx.opts.walkFile);
  const initial = w.events.filter((e) => e.at === 0);
  for (const e of initial) apply(ctx, w, e);
  await waitEndpoints(topo);
  const expected = sequence();
  const gotHash = crypto.createHash('sha256');
  const wantHash = crypto.createHash('sha256');
  const mpssh = ctx.peers.clients.find((c) => c.name === 'mpssh');
  if (!mpssh) throw new Error('no mpssh client');
  const bulk: Stream = startStream(topo.client, mpssh.argv(`${process.execPath} ${SOURCE}`), {
    stdin: 'pipe',
    onData: (b) => {
      gotHash.update(b);
      wantHash.update(expected(b.length));
    },
  });
  const tickers = ctx.peers.clients.map((c) => ({ name: c.name, s: startStream(topo.client, c.argv(tickerCommand()), { lines: true }) }));
  const start = Date.now();
  run.mark('timeline starts');
  for (const e of w.events.filter((x) => x.at > 0)) {
    await sleep(Math.max(0, start + e.at * 1000 - Date.now()));
    apply(ctx, w, e);
  }
  await sleep(Math.max(0, start + w.end * 1000 - Date.now()));
  run.mark('walk ends');
  const endAt = Date.now();
  bulk.child.stdin?.end();
  const bulkTimer = setTimeout(() => bulk.stop(), 30_000);
  const bulkDone = await bulk.done;
  clearTimeout(bulkTimer);
  for (const { s } of tickers) s.stop();
  await Promise.all(tickers.map(({ s }) => s.done));
  const checksumOk = bulk.bytes > 0 && gotHash.digest('hex') === wantHash.digest('hex');
  const bulkAlive = bulkDone.code === 0 && (bulk.lastAt ?? 0) > endAt - 2000;
  const seconds = bulk.firstAt && bulk.lastAt ? (bulk.lastAt - bulk.firstAt) / 1000 : 0;
  const figures: Record<string, unknown> = {
    timeline: w,
    bulk: {
      bytes: bulk.bytes,
      averageMbit: seconds > 0 ? mbit((bulk.bytes * 8) / seconds) : null,
      largestStallMs: largestGap(bulk.chunks.map((c) => c.at)),
      checksumOk,
      alive: bulkAlive,
      exit: bulkDone.code ?? bulkDone.signal,
      ...(bulkDone.stderr ? { stderr: bulkDone.stderr.slice(0, 300) } : {}),
    },
  };
  const summary = [`mpssh bulk: ${r1(bulk.bytes / 1e6)} MB, ${(figures.bulk as { averageMbit: number }).averageMbit} Mbit/s average, checksum ${checksumOk ? 'ok' : 'WRONG'}, alive ${bulkAlive}`];
  const targets: TargetResult[] = [holds('walk: bulk session alive', bulkAlive), holds('walk: checksum ok', checksumOk)];
  for (const { name, s } of tickers) {
    const times = s.lines.map((l) => l.at);
    const alive = s.lines.length > 0 && consecutiveFromOne(s.lines.map((l) => l.text)) && times.some((t) => t > endAt - 1000);
    const gap = largestGap(times);
    figures[`ticker_${name}`] = { lines: s.lines.length, largestGapMs: gap, alive };
    summary.push(`${name.padEnd(14)} ticker: largest gap ${gap} ms, alive ${alive}`);
    if (name === 'mpssh') targets.push(holds('walk: interactive session alive', alive));
  }
  return { figures, targets, summary };
}
