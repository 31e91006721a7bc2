/**
 * blackout: the only path goes away for `--gap` seconds (default 120) and
 * comes back (same interface, same address); then it goes away again for as
 * long, and a new interface with a new address appears instead. Every client
 * prints a line every 100 ms throughout. After each return the lab watches
 * until every session prints again or WATCH_MS passes, so a slow return is
 * told from a dead one; the figures are whether the session is alive at the
 * end, how long after each return data flows again, and for a session that
 * ended, which timer most likely ended it.
 */
import { atMost, holds, type TargetResult } from '../targets.js';
import { startStream, type Stream } from '../peers.js';
import type { ScenarioResult } from '../lab-run.js';
import { consecutiveFromOne, firstAfter } from '../gaps.js';
import { waitFor } from '../../tools/netns.js';
import type { Netns } from '../../tools/netns.js';
import { rtoMaxMs, sleep, tickerCommand, waitEndpoints, type LabContext } from './common.js';

const SETTLE_MS = 3000;
/** How long after a return a session may stay silent before it counts as dead rather than slow. */
const WATCH_MS = 30_000;

const ms = (v: number | null): string => (v === null ? 'never' : `${v} ms`);

/**
 * Seconds a subflow with unanswered data lives: tcp_retries2 retransmissions
 * with the RTO doubling from 200 ms up to the maximum, as the kernel models
 * it (tcp_model_timeout, net/ipv4/tcp_timer.c).
 */
export function retries2Seconds(retries: number, rtoMaxMs: number): number {
  const thresh = Math.floor(Math.log2(rtoMaxMs / 200));
  if (retries <= thresh) return ((2 ** (retries + 1) - 1) * 200) / 1000;
  return ((2 ** (thresh + 1) - 1) * 200 + (retries - thresh) * rtoMaxMs) / 1000;
}

/** What is known about one session's end. */
export interface EndFacts {
  /** When the client exited, or null if it was still running at the end. */
  endedAt: number | null;
  stderr: string;
  /** When each gap began. */
  gapsAt: number[];
  closeTimeoutS: number;
  retries2S: number;
}

/**
 * The timer that most likely ended a session, from its client's last words
 * and when it ended relative to the gap it was in. A guess with its reason,
 * meant for reading next to the kernel's counters.
 */
export function whatEnded(f: EndFacts): string {
  if (f.endedAt === null) return 'not ended, but silent: the server gave up and refuses new subflows, or the client has not noticed';
  const last = f.stderr.trim().split('\n').pop() ?? '';
  if (/Timeout, server not responding/i.test(f.stderr)) return `ServerAlive of the ssh client (${last})`;
  if (/closed by remote host|Connection to .* closed/i.test(f.stderr)) return `the server closed the session (ClientAlive or its own close timeout; ${last})`;
  const gapAt = [...f.gapsAt].reverse().find((t) => t <= (f.endedAt as number));
  if (gapAt === undefined) return `ended before any gap (${last || 'no message'})`;
  const since = ((f.endedAt as number) - gapAt) / 1000;
  const near = (want: number, slack: number): boolean => Math.abs(since - want) <= slack;
  if (near(f.closeTimeoutS, 5)) return `close_timeout ${f.closeTimeoutS} s from the start of the gap: the last subflow went at once (${last})`;
  if (near(f.retries2S + f.closeTimeoutS, Math.max(10, f.retries2S / 5))) return `tcp_retries2 (~${Math.round(f.retries2S)} s) then close_timeout ${f.closeTimeoutS} s (${last})`;
  return `${Math.round(since)} s into the gap, no known timer (${last || 'no message'})`;
}

function readSysctl(ns: Netns, path: string): number {
  return Number(ns.execSync('cat', [path]).trim());
}

/** Waits until every stream printed after `at` or exited, for at most WATCH_MS. */
async function watchReturn(streams: { s: Stream }[], at: number): Promise<void> {
  const back = (s: Stream): boolean => s.lines.some((l) => l.at > at) || s.child.exitCode !== null || s.child.signalCode !== null;
  await waitFor('every session printing again or ended', () => streams.every(({ s }) => back(s)), WATCH_MS, 100).catch(() => undefined);
}

/** Runs both blackouts; the topology starts with one path. */
export async function blackout(ctx: LabContext): Promise<ScenarioResult> {
  const { topo, run, opts } = ctx;
  const gapMs = opts.gap * 1000;
  await waitEndpoints(topo);
  const closeTimeoutS = readSysctl(topo.client, '/proc/sys/net/mptcp/close_timeout');
  const retries2S = retries2Seconds(readSysctl(topo.server, '/proc/sys/net/ipv4/tcp_retries2'), rtoMaxMs(opts.scale) ?? 120_000);
  run.mark('sessions start');
  const streams = ctx.peers.clients.map((c) => {
    const s = startStream(topo.client, c.argv(tickerCommand()), { lines: true });
    const entry = { name: c.name, s, endedAt: null as number | null, stderr: '' };
    void s.done.then((d) => {
      entry.endedAt = Date.now();
      entry.stderr = d.stderr;
    });
    return entry;
  });
  await waitFor('every session printing', () => streams.every(({ s }) => s.lines.length >= 10), 10_000).catch(() => undefined);
  const first = topo.paths[0];
  if (!first) throw new Error('blackout needs a path');
  const gapsAt: number[] = [Date.now()];
  run.mark(`${first.ifname} down (address kept)`);
  topo.pathDown(first.index, { keepAddress: true });
  await sleep(gapMs);
  const returnAt = Date.now();
  topo.pathUp(first.index, { sameAddress: true });
  run.mark(`${first.ifname} back`);
  await watchReturn(streams, returnAt);
  await sleep(SETTLE_MS);
  run.mark(`${first.ifname} gone`);
  gapsAt.push(Date.now());
  topo.pathDown(first.index);
  await sleep(gapMs);
  const fresh = topo.addPath({ downRate: opts.rate, up: false });
  const newAt = Date.now();
  topo.pathUp(fresh.index);
  run.mark(`new ${fresh.ifname} ${fresh.address}`);
  await waitEndpoints(topo).catch(() => undefined);
  await watchReturn(streams, newAt);
  await sleep(SETTLE_MS);
  const endAt = Date.now();
  const nstat = topo.client.execSync('nstat', ['-asz']).split('\n').filter((l) => /^MPTcpExt(MPJoin|RmAddr|RmSubflow|AddAddr|MPFastclose|MPRst)/.test(l) && l.trim().split(/\s+/)[1] !== '0');
  for (const { s } of streams) s.stop();
  await Promise.all(streams.map(({ s }) => s.done));
  run.mark('sessions end');
  const figures: Record<string, unknown> = { gapSeconds: opts.gap, scale: opts.scale, closeTimeoutSeconds: closeTimeoutS, retries2Seconds: retries2S, clientMptcpCounters: nstat };
  const summary: string[] = [`close_timeout ${closeTimeoutS} s, tcp_retries2 about ${Math.round(retries2S)} s${opts.scale === 1 ? '' : ` (time compressed ${opts.scale}x)`}`];
  const targets: TargetResult[] = [];
  for (const { name, s, endedAt, stderr } of streams) {
    const times = s.lines.map((l) => l.at);
    const afterReturn = firstAfter(times, returnAt);
    const afterNew = firstAfter(times, newAt);
    const alive = s.lines.length > 0 && consecutiveFromOne(s.lines.map((l) => l.text)) && times.some((t) => t > endAt - 1000);
    const flowsAgainAfterReturn = afterReturn !== null && afterReturn < newAt - returnAt ? afterReturn : null;
    // The client was stopped at the end: only an exit before that is the session's own end.
    const ended = endedAt !== null && endedAt < endAt ? endedAt : null;
    const endedBy = alive ? null : whatEnded({ endedAt: ended, stderr, gapsAt, closeTimeoutS, retries2S });
    figures[name] = { lines: s.lines.length, alive, msToDataAfterLinkReturn: flowsAgainAfterReturn, msToDataAfterNewAddress: afterNew, endedBy };
    summary.push(`${name.padEnd(14)} alive ${alive}; data after the link returned: ${ms(flowsAgainAfterReturn)}; after the new address: ${ms(afterNew)}${endedBy ? `; ended by: ${endedBy}` : ''}`);
    if (name === 'mpssh') {
      targets.push(
        holds(`blackout ${opts.gap} s: session alive`, alive),
        atMost('blackout: data after the link returns', flowsAgainAfterReturn, 500, ' ms'),
        atMost('blackout: data after a new address', afterNew, 150, ' ms'),
      );
    }
  }
  return { figures, targets, summary };
}
