/**
 * blackout: the only path goes away for `--gap` seconds (default 120) and
 * comes back (same interface, same address); then it goes away again for as
 * long, and a new interface with a new address appears instead. Every client
 * prints a line every 100 ms throughout; the figures are whether the session
 * is alive at the end and how long after each return data flows again.
 */
import { atMost, holds, type TargetResult } from '../targets.js';
import { startStream } from '../peers.js';
import type { ScenarioResult } from '../lab-run.js';
import { consecutiveFromOne, firstAfter } from '../gaps.js';
import { waitFor } from '../../test/helpers/netns.js';
import { sleep, tickerCommand, waitEndpoints, type LabContext } from './common.js';

const SETTLE_MS = 3000;

const ms = (v: number | null): string => (v === null ? 'never' : `${v} ms`);

/** Runs both blackouts; the topology starts with one path. */
export async function blackout(ctx: LabContext): Promise<ScenarioResult> {
  const { topo, run, opts } = ctx;
  const gapMs = opts.gap * 1000;
  await waitEndpoints(topo);
  run.mark('sessions start');
  const streams = ctx.peers.clients.map((c) => ({ name: c.name, s: startStream(topo.client, c.argv(tickerCommand()), { lines: true }) }));
  await waitFor('every session printing', () => streams.every(({ s }) => s.lines.length >= 10), 10_000).catch(() => undefined);
  const first = topo.paths[0];
  if (!first) throw new Error('blackout needs a path');
  run.mark(`${first.ifname} down (address kept)`);
  topo.pathDown(first.index, { keepAddress: true });
  await sleep(gapMs);
  const returnAt = Date.now();
  topo.pathUp(first.index, { sameAddress: true });
  run.mark(`${first.ifname} back`);
  await sleep(SETTLE_MS);
  run.mark(`${first.ifname} gone`);
  topo.pathDown(first.index);
  await sleep(gapMs);
  const fresh = topo.addPath({ downRate: opts.rate, up: false });
  const newAt = Date.now();
  topo.pathUp(fresh.index);
  run.mark(`new ${fresh.ifname} ${fresh.address}`);
  await waitEndpoints(topo).catch(() => undefined);
  await sleep(SETTLE_MS);
  const endAt = Date.now();
  for (const { s } of streams) s.stop();
  await Promise.all(streams.map(({ s }) => s.done));
  run.mark('sessions end');
  const figures: Record<string, unknown> = { gapSeconds: opts.gap };
  const summary: string[] = [];
  const targets: TargetResult[] = [];
  for (const { name, s } of streams) {
    const times = s.lines.map((l) => l.at);
    const afterReturn = firstAfter(times, returnAt);
    const afterNew = firstAfter(times, newAt);
    const alive = s.lines.length > 0 && consecutiveFromOne(s.lines.map((l) => l.text)) && times.some((t) => t > endAt - 1000);
    const flowsAgainAfterReturn = afterReturn !== null && afterReturn < newAt - returnAt ? afterReturn : null;
    figures[name] = { lines: s.lines.length, alive, msToDataAfterLinkReturn: flowsAgainAfterReturn, msToDataAfterNewAddress: afterNew };
    summary.push(`${name.padEnd(14)} alive ${alive}; data after the link returned: ${ms(flowsAgainAfterReturn)}; after the new address: ${ms(afterNew)}`);
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
