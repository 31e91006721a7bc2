/**
 * handover: every client prints a line every 100 ms while the primary path
 * (path 0, where each connection starts) goes down and another path is up.
 * The clients run at the same time, so they see the same event.
 */
import { atMost, holds, type TargetResult } from '../targets.js';
import { startStream } from '../peers.js';
import type { ScenarioResult } from '../lab-run.js';
import { consecutiveFromOne, largestGapAfter } from '../gaps.js';
import { waitFor } from '../../tools/netns.js';
import { tickerCommand, waitEndpoints, type LabContext } from './common.js';

const COUNT = 60;
const AFTER_S = 5;

/** Runs one handover; the topology has at least two paths, all up. */
export async function handover(ctx: LabContext): Promise<ScenarioResult> {
  const { topo, run } = ctx;
  if (topo.paths.length < 2) throw new Error('handover needs --paths 2 or more');
  for (const p of topo.paths) if (!p.up) topo.pathUp(p.index);
  await waitEndpoints(topo);
  const count = COUNT;
  run.mark('sessions start');
  const streams = ctx.peers.clients.map((c) => ({ name: c.name, s: startStream(topo.client, c.argv(tickerCommand(count)), { lines: true }) }));
  // Logins take different times (sshd is slower to the first line): every session ticks before the event.
  await waitFor('every session printing', () => streams.every(({ s }) => s.lines.length >= 20), 10_000).catch(() => undefined);
  const downAt = Date.now();
  run.mark(`${topo.path(0).ifname} down`);
  topo.pathDown(0);
  // A session that lost its path never finishes on its own: give it the time the ticker needs and a margin.
  const deadline = setTimeout(() => streams.forEach(({ s }) => s.stop()), COUNT * 100 + AFTER_S * 1000);
  const results = await Promise.all(streams.map(async ({ name, s }) => ({ name, s, done: await s.done })));
  clearTimeout(deadline);
  run.mark('sessions end');
  const figures: Record<string, unknown> = {};
  const summary: string[] = [];
  const targets: TargetResult[] = [];
  for (const { name, s, done } of results) {
    const times = s.lines.map((l) => l.at);
    const gap = times.some((t) => t > downAt) ? largestGapAfter(times, downAt) : null;
    const alive = done.code === 0 && s.lines.length === count && consecutiveFromOne(s.lines.map((l) => l.text));
    figures[name] = { lines: s.lines.length, expected: count, largestGapMs: gap, alive, exit: done.code ?? done.signal, ...(done.stderr ? { stderr: done.stderr.slice(0, 300) } : {}) };
    summary.push(`${name.padEnd(14)} largest gap ${gap === null ? 'no output after the path went' : `${gap} ms`}, alive ${alive}, ${s.lines.length}/${count} lines`);
    if (name === 'mpssh') targets.push(atMost('handover: largest gap', gap, 250, ' ms'), holds('handover: session alive', alive));
  }
  return { figures, targets, summary };
}
